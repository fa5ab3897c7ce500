// What every interaction needs: the database and the few settings that change behaviour.
import type { Resource } from '@medplum/fhirtypes';
import type { ResourceScope } from '../auth/scopes.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import type { Database } from '../store/database.js';

export interface FhirContext {
  readonly db: Database;
  /** Absolute base of the FHIR API, e.g. http://localhost:8080/fhir, used in every link. */
  readonly baseUrl: string;
  /** Refuse a write that references a resource on this server that does not exist. */
  readonly checkReferences: boolean;
  /** Most resources one conditional delete may remove before it answers 412. */
  readonly maxConditionalDeletes: number;
  /** Most entries one batch or transaction Bundle may hold. */
  readonly maxBundleEntries: number;
  /** KILN_MAX_BODY: the largest body, and so the largest resource a JSON Patch may produce. */
  readonly maxBodyBytes: number;
  /** Most operations one JSON Patch may hold. */
  readonly maxPatchOperations: number;
  /** Most resources _include and _revinclude add to one page of a search. */
  readonly maxIncludes: number;
  /** Most resources the read entries of one batch or transaction answer with in all. */
  readonly maxBatchResults: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  /** The OAuth endpoints, advertised in the CapabilityStatement when authorization is on. */
  readonly oauthUris?: { authorize: string; token: string; introspect: string; revoke: string };
  /** Records AuditEvents of authorised reads and writes (present when authorization is on). */
  readonly audit?: AuditTrail;
  /**
   * Rules a resource of a type must meet beyond R4 validation, checked on every write of it before
   * anything is stored (a Subscription must be one Kiln can serve: subscriptions/ provides it).
   */
  readonly contentRules?: ReadonlyMap<string, (resource: Resource) => Promise<void>>;
  /** What the CapabilityStatement says of subscriptions: the websocket URL, the topics, the channel types. */
  readonly notifications?: { websocketUrl: string; topics: () => string[]; channelTypes: string[] };
  /** The caller's authorization; absent for Kiln's own work and when authorization is off. */
  readonly access?: Access;
}

/** What a token allows (server/auth/access.ts builds it; server/fhir/access-checks.ts applies it). */
export interface Access {
  /** The token's granted resource scopes. */
  scopes: readonly ResourceScope[];
  role: 'admin' | 'practitioner' | 'patient' | 'device' | 'system';
  /** `Practitioner/1`, `Patient/2`, `Device/3` of the signed-in user. */
  fhirUser: string | null;
  /** The one patient whose compartment the token is confined to (patient/ scopes, or a patient user). */
  patient?: string;
  clientId: string;
  /** The user id, or the client id for a backend service. */
  subject: string;
  /** Where the request came from, for the audit trail. */
  address?: string;
}

/** `Prefer: return=…` (hl7.org/fhir/R4/http.html#ops): what a write answers with. */
export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

/** The outcome of a write: what the HTTP layer needs for the status, headers and body. */
export interface WriteResult {
  status: 200 | 201;
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: Date;
  /** The resource as stored (JSON text). */
  content: string;
  /** Ids of the patients the stored version belongs to. */
  patientCompartment: string[];
}

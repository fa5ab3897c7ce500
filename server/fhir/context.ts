// What every interaction needs: the database and the few settings that change behaviour.
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
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
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
}

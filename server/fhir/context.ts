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
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
}

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

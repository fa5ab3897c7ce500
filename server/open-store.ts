// What the server and the command-line tools share: the database, migrated and with the custom
// search parameters installed, and the FHIR context the interactions run in.
import { loadValidation } from '../resources/validate.js';
import type { Config } from './config.js';
import { installCustomSearchParameters } from './fhir/custom-search-parameters.js';
import type { FhirContext } from './fhir/context.js';
import type { Database } from './store/database.js';
import { openDatabase } from './store/open-database.js';

export interface StoreOptions {
  /** Keep the embedded database in memory instead of KILN_DATA_DIR (tests). */
  inMemory?: boolean;
  /** Start that in-memory database from a snapshot of a migrated one (tests). */
  embeddedSnapshot?: Blob;
}

export async function openStore(config: Config, options: StoreOptions = {}): Promise<Database> {
  loadValidation();
  const db = await openDatabase({
    url: config.DATABASE_URL,
    poolSize: config.DATABASE_POOL_SIZE,
    statementTimeoutMs: config.KILN_STATEMENT_TIMEOUT_MS,
    dataDir: options.inMemory ? undefined : config.KILN_DATA_DIR,
    embeddedSnapshot: options.inMemory ? options.embeddedSnapshot : undefined,
  });
  await installCustomSearchParameters(db);
  return db;
}

export function fhirContext(config: Config, db: Database, baseUrl: string): FhirContext {
  return {
    db,
    baseUrl,
    checkReferences: config.KILN_CHECK_REFERENCES,
    maxConditionalDeletes: config.KILN_MAX_CONDITIONAL_DELETES,
    maxBundleEntries: config.KILN_MAX_BUNDLE_ENTRIES,
    defaultPageSize: config.KILN_PAGE_SIZE,
    maxPageSize: config.KILN_MAX_PAGE_SIZE,
  };
}

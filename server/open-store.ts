// What the server and the command-line tools share: the database, migrated and with the custom
// search parameters installed, and the FHIR context the interactions run in.
import { loadValidation } from '../resources/validate.js';
import type { Config } from './config.js';
import { installCustomSearchParameters } from './fhir/custom-search-parameters.js';
import { backfillPatientCompartments } from './fhir/compartment-backfill.js';
import type { FhirContext } from './fhir/context.js';
import type { Logger } from './logger.js';
import type { Database } from './store/database.js';
import { openDatabase } from './store/open-database.js';

export interface StoreOptions {
  /** Keep the embedded database in memory instead of KILN_DATA_DIR (tests). */
  inMemory?: boolean;
  /** Start that in-memory database from a snapshot of a migrated one (tests). */
  embeddedSnapshot?: Blob;
  /** Where the long steps of a start say how far they are (the schema on a first start, waiting for the database). */
  log?: Logger;
  /** What holds the embedded database's folder, as another process trying to open it is told. */
  holder?: string;
}

export async function openStore(config: Config, options: StoreOptions = {}): Promise<Database> {
  loadValidation();
  const db = await openDatabase({
    url: config.DATABASE_URL,
    poolSize: config.DATABASE_POOL_SIZE,
    statementTimeoutMs: config.KILN_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    waitSeconds: config.KILN_DATABASE_WAIT_SECONDS,
    dataDir: options.inMemory ? undefined : config.KILN_DATA_DIR,
    embeddedSnapshot: options.inMemory ? options.embeddedSnapshot : undefined,
    holder: options.holder,
    log: options.log,
  });
  try {
    await installCustomSearchParameters(db);
    await backfillPatientCompartments(db, config.baseUrl, options.log);
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  return db;
}

export function fhirContext(config: Config, db: Database, baseUrl: string): FhirContext {
  return {
    db,
    baseUrl,
    checkReferences: config.KILN_CHECK_REFERENCES,
    maxConditionalDeletes: config.KILN_MAX_CONDITIONAL_DELETES,
    maxBundleEntries: config.KILN_MAX_BUNDLE_ENTRIES,
    maxBodyBytes: config.KILN_MAX_BODY,
    maxPatchOperations: config.KILN_MAX_PATCH_OPERATIONS,
    maxIncludes: config.KILN_MAX_INCLUDES,
    maxBatchResults: config.KILN_MAX_BATCH_RESULTS,
    defaultPageSize: config.KILN_PAGE_SIZE,
    maxPageSize: config.KILN_MAX_PAGE_SIZE,
  };
}

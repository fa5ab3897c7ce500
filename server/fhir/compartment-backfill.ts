// Fills in the patient compartment of versions stored before Kiln recorded it (schema migration
// 7), once, at start: every version from its own content, a deletion from the version it ended,
// current and contained rows from history. Until it is done a confined caller would find its
// older data out of reach, never someone else's: a NULL compartment matches no patient.
import type { Resource } from '@medplum/fhirtypes';
import { resourceTypes } from '../../resources/definitions.js';
import {
  compartmentsPending,
  copyCompartmentsToCurrentRows,
  earlierCompartment,
  pendingHistory,
  setHistoryCompartments,
  type PendingVersion,
} from '../store/compartment-backfill-store.js';
import type { Database } from '../store/database.js';
import type { Logger } from '../logger.js';
import { patientCompartmentOf } from './version-write.js';

const BATCH = 500;

export async function backfillPatientCompartments(db: Database, baseUrl: string, logger?: Logger): Promise<void> {
  if (!(await compartmentsPending(db))) return;
  logger?.info('recording the patient compartment of every stored version (once, after an upgrade)');
  let done = 0;
  for (;;) {
    const batch = await pendingHistory(db, BATCH);
    if (!batch.length) break;
    await db.transaction(async (tx) => {
      const rows: (PendingVersion & { patients: string[] })[] = [];
      for (const version of batch) {
        // The batch is in version order, so a deletion finds the version it ended just before it.
        const previous = rows.at(-1);
        const patients = version.content
          ? await patientCompartmentOf(tx, JSON.parse(version.content) as Resource, baseUrl)
          : previous && previous.resourceType === version.resourceType && previous.id === version.id
            ? previous.patients
            : await earlierCompartment(tx, version.resourceType, version.id, version.versionId);
        rows.push({ ...version, patients });
      }
      await setHistoryCompartments(tx, rows);
    });
    done += batch.length;
  }
  for (const type of resourceTypes()) await copyCompartmentsToCurrentRows(db, type);
  logger?.info({ versions: done }, 'patient compartments recorded');
}

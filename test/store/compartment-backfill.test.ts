// Versions stored before Kiln recorded patient compartments get theirs at the next start: current
// rows, history, deletions and contained resources alike, so that an upgraded server confines
// patients' tokens to their data as a new one does.
import { create } from '../../server/fhir/interactions/create.js';
import { deleteResource } from '../../server/fhir/interactions/delete.js';
import { backfillPatientCompartments } from '../../server/fhir/compartment-backfill.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

const compartments = async (table: string, where: string, params: unknown[]) =>
  (await kiln.db.query<{ patient_compartment: string[] | null }>(`SELECT patient_compartment FROM ${table} WHERE ${where} ORDER BY 1`, params)).rows.map((r) => r.patient_compartment);

it('fills in what an older Kiln did not record: history, deletions, current and contained rows', async () => {
  const patient = (await create(kiln.ctx, { resourceType: 'Patient' })).id;
  const observation = await create(kiln.ctx, {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'x' },
    subject: { reference: `Patient/${patient}` },
    contained: [{ resourceType: 'Practitioner', id: 'p1' }],
    performer: [{ reference: '#p1' }],
  });
  const deleted = (await create(kiln.ctx, { resourceType: 'Observation', status: 'final', code: { text: 'y' }, subject: { reference: `Patient/${patient}` } })).id;
  await deleteResource(kiln.ctx, 'Observation', deleted);
  const ids = [patient, observation.id, deleted];
  // As an older Kiln left them: no compartment anywhere.
  await kiln.db.query('UPDATE resource_history SET patient_compartment = NULL WHERE id = ANY($1::text[])', [ids]);
  for (const table of ['"Patient"', '"Observation"']) await kiln.db.query(`UPDATE ${table} SET patient_compartment = NULL WHERE id = ANY($1::text[])`, [ids]);
  await kiln.db.query(`UPDATE "Practitioner" SET patient_compartment = NULL WHERE contained_in = $1`, [`Observation/${observation.id}`]);

  await backfillPatientCompartments(kiln.db, kiln.ctx.baseUrl);

  expect(await compartments('resource_history', 'id = ANY($1::text[])', [ids])).toEqual([[patient], [patient], [patient], [patient]]);
  expect(await compartments('"Observation"', 'id = ANY($1::text[])', [ids])).toEqual([[patient], [patient]]);
  expect(await compartments('"Patient"', 'id = $1', [patient])).toEqual([[patient]]);
  expect(await compartments('"Practitioner"', 'contained_in = $1', [`Observation/${observation.id}`])).toEqual([[patient]]);
});

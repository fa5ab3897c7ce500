// Creates of one type that arrive together are written by one statement: the batching that
// creates' throughput rests on. A statement that fails is retried row by row, which would hide a
// broken batch from every test that only checks that the resources were stored.
import { loadValidation } from '../../resources/validate.js';
import { insertCreated } from './create-batch.js';
import type { Database } from './database.js';
import { openPglite } from './pglite-database.js';
import { migrate } from './schema.js';

let db: Database;
const statements: string[] = [];

beforeAll(async () => {
  loadValidation();
  const pglite = await openPglite(undefined);
  await migrate(pglite);
  // Every statement the batch sends, and whether it failed.
  db = {
    ...pglite,
    query: async (sql, params) => {
      try {
        const result = await pglite.query(sql, params);
        statements.push(`ok ${sql.trim().split(/\s+/).slice(0, 3).join(' ')}`);
        return result as never;
      } catch (error) {
        statements.push(`failed: ${(error as Error).message}`);
        throw error;
      }
    },
  };
}, 120_000);
afterAll(() => db.close());

it('writes creates of one type that arrive together in one statement', async () => {
  const row = (id: string) => ({ id, contentHead: `{"resourceType":"Basic","id":"${id}","meta":{"versionId":"1","lastUpdated":"`, contentTail: '"}}', columns: {}, patientCompartment: [] });
  const times = await Promise.all(['b1', 'b2', 'b3'].map((id) => insertCreated(db, 'Basic', row(id))));
  expect(times.every((time) => time instanceof Date)).toBe(true);
  expect(statements).toEqual(['ok WITH t AS']);
  const stored = await db.query<{ id: string }>(`SELECT id FROM kiln_change WHERE id = ANY($1::text[]) ORDER BY id`, [['b1', 'b2', 'b3']]);
  expect(stored.rows.map((r) => r.id)).toEqual(['b1', 'b2', 'b3']);
});

// Which Subscriptions send to an MQTT topic, against a real database: the embedded one, or the
// Postgres of DATABASE_URL. Endpoints name topics bare or as mqtt:// URLs with percent-encoding.
import { randomUUID } from 'node:crypto';
import type { Database } from './database.js';
import { subscriptionsOnTopic } from './mqtt-topic-store.js';
import { openPglite } from './pglite-database.js';
import { openPostgres } from './postgres-database.js';
import { migrate } from './schema.js';

let db: Database;
/** A topic prefix of this run: a shared Postgres may hold other runs' subscriptions. */
const run = `kiln-test-${randomUUID().slice(0, 8)}`;

async function subscription(id: string, endpoint: string, channelType = 'mqtt', status = 'active'): Promise<void> {
  const plan = { id, status, channel: { type: channelType, endpoint, headers: [] } };
  await db.query('INSERT INTO kiln_subscription (id, version_id, plan, channel_type, status) VALUES ($1, 1, $2::jsonb, $3, $4)', [
    `${run}-${id}`,
    JSON.stringify(plan),
    channelType,
    status,
  ]);
}

beforeAll(async () => {
  db = process.env.DATABASE_URL ? await openPostgres(process.env.DATABASE_URL, { poolSize: 2, statementTimeoutMs: 30_000, connectTimeoutMs: 5_000 }) : await openPglite(undefined);
  await migrate(db);
  await subscription('bare', `${run}/ward-3`);
  await subscription('url', `mqtt://kiln.example:1883/${run}/ward-3`);
  await subscription('encoded', `mqtt://localhost/${run}/ward%203`);
  await subscription('upper', `MQTT://localhost/${run}/ward-3`);
  await subscription('other-topic', `${run}/ward-4`);
  await subscription('off', `${run}/ward-3`, 'mqtt', 'off');
  await subscription('rest-hook', `https://example.org/${run}/ward-3`, 'rest-hook');
  await subscription('email', `${run}/ward-3`, 'email');
}, 120_000);
afterAll(async () => {
  await db.query('DELETE FROM kiln_subscription WHERE id LIKE $1', [`${run}-%`]);
  await db.close();
});

it('finds the MQTT subscriptions on a topic, named bare or by mqtt:// URL', async () => {
  expect(await subscriptionsOnTopic(db, `${run}/ward-3`)).toEqual([`${run}-bare`, `${run}-upper`, `${run}-url`]);
});

it('matches a percent-encoded topic by its decoded name', async () => {
  expect(await subscriptionsOnTopic(db, `${run}/ward 3`)).toEqual([`${run}-encoded`]);
  expect(await subscriptionsOnTopic(db, `${run}/ward%203`)).toEqual([]);
});

it('finds nothing for a topic no subscription uses, nor for a wildcard filter', async () => {
  expect(await subscriptionsOnTopic(db, `${run}/ward-5`)).toEqual([]);
  expect(await subscriptionsOnTopic(db, `${run}/#`)).toEqual([]);
  expect(await subscriptionsOnTopic(db, `${run}/+`)).toEqual([]);
});

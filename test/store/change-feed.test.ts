// The change feed (server/store/change-feed.ts): every committed write, by any path, once, in one
// order that a transaction committing late cannot break; nothing of a write that rolled back.
import type { Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { claimPosition, movePosition, readChanges, type FeedChange, type FeedPosition } from '../../server/store/change-feed.js';
import { create } from '../../server/fhir/interactions/create.js';
import { update } from '../../server/fhir/interactions/update.js';
import { deleteResource } from '../../server/fhir/interactions/delete.js';
import { openPostgres } from '../../server/store/postgres-database.js';
import type { Database } from '../../server/store/database.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

/** A consumer of this test alone, placed at the feed's end. */
async function newConsumer(db: Database): Promise<string> {
  const consumer = `test-${randomUUID()}`;
  await db.transaction((tx) => claimPosition(tx, consumer));
  return consumer;
}

/** What `consumer` has not read yet (of this test's resources), and moves it past all it read. */
async function consume(db: Database, consumer: string, ids: Set<string>): Promise<FeedChange[]> {
  return db.transaction(async (tx) => {
    const at = (await claimPosition(tx, consumer)) as FeedPosition;
    const changes = await readChanges(tx, at, 10_000);
    if (changes.length) await movePosition(tx, consumer, changes[changes.length - 1]);
    return changes.filter((change) => ids.has(change.id));
  });
}

/**
 * Reads `consumer`'s changes (of `ids`) until `enough` says so. On Postgres a change is read only
 * once every older transaction on the server has ended, and the suite's other files run their own
 * meanwhile (one holds a 10,000-entry transaction open for many seconds): one read may come early.
 */
async function consumeUntil(db: Database, consumer: string, ids: Set<string>, enough: (changes: FeedChange[]) => boolean): Promise<FeedChange[]> {
  const found: FeedChange[] = [];
  const deadline = Date.now() + 45_000;
  for (;;) {
    found.push(...(await consume(db, consumer, ids)));
    if (enough(found) || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * What `consumer` reads of `ids` up to a marker written now: once the marker is read, every
 * change committed before it has been read too.
 */
async function consumeThroughMarker(db: Database, consumer: string, ids: Set<string>): Promise<FeedChange[]> {
  const marker = (await create(kiln.ctx, patient('Marker'))).id;
  const changes = await consumeUntil(db, consumer, new Set([...ids, marker]), (found) => found.some((c) => c.id === marker));
  expect(changes.map((c) => c.id)).toContain(marker);
  return changes.filter((c) => c.id !== marker);
}

const patient = (family: string): Resource => ({ resourceType: 'Patient', name: [{ family }] });
const summary = (changes: FeedChange[]) => changes.map((c) => `${c.interaction} ${c.resourceType}/${c.id}/${c.versionId}`);

it('records each committed create, update and delete once, in order, with its version', async () => {
  const consumer = await newConsumer(kiln.db);
  const { id } = await create(kiln.ctx, patient('Feed'));
  await update(kiln.ctx, 'Patient', id, { ...patient('Feed'), id, active: true } as Resource);
  await deleteResource(kiln.ctx, 'Patient', id);
  expect(summary(await consumeUntil(kiln.db, consumer, new Set([id]), (found) => found.length >= 3))).toEqual([`create Patient/${id}/1`, `update Patient/${id}/2`, `delete Patient/${id}/3`]);
  // Nothing of it again, up to a write made after.
  expect(await consumeThroughMarker(kiln.db, consumer, new Set([id]))).toEqual([]);
});

it('records the writes of Bundles, conditional interactions and batched creates alike', async () => {
  const consumer = await newConsumer(kiln.db);
  const mrn = randomUUID();
  const transaction = await request(kiln.server)
    .post('/fhir')
    .set('Content-Type', FHIR_JSON)
    .send(
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:4f1b1c54-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: mrn }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:4f1b1c54-0000-4000-8000-000000000001' } }, request: { method: 'POST', url: 'Observation' } },
        ],
      }),
    );
  expect(transaction.status).toBe(200);
  const written = transaction.body.entry.map((e: { response: { location: string } }) => e.response.location.split('/')[1]);
  const conditional = await request(kiln.server).put(`/fhir/Patient?identifier=urn:mrn|${mrn}`).set('Content-Type', FHIR_JSON).send(JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: mrn }], active: true }));
  expect(conditional.status).toBe(200);
  const batched = await Promise.all([1, 2, 3].map(() => create(kiln.ctx, patient('Batched'))));
  const changes = await consumeUntil(kiln.db, consumer, new Set([...written, ...batched.map((b) => b.id)]), (found) => found.length >= 6);
  expect(summary(changes).sort()).toEqual(
    [`create Patient/${written[0]}/1`, `create Observation/${written[1]}/1`, `update Patient/${written[0]}/2`, ...batched.map((b) => `create Patient/${b.id}/1`)].sort(),
  );
  // The two entries of one transaction share its transaction id.
  expect(changes.filter((c) => written.includes(c.id) && c.versionId === 1).map((c) => c.xid)).toEqual([changes[0].xid, changes[0].xid]);
});

it('never shows a write that rolled back', async () => {
  const consumer = await newConsumer(kiln.db);
  const id = randomUUID();
  await expect(
    kiln.db.transaction(async (tx) => {
      await tx.query("INSERT INTO kiln_change (resource_type, id, version_id, interaction) VALUES ('Patient', $1, 1, 'create')", [id]);
      throw new Error('rolled back');
    }),
  ).rejects.toThrow('rolled back');
  const transaction = await request(kiln.server)
    .post('/fhir')
    .set('Content-Type', FHIR_JSON)
    .send(JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', id }, request: { method: 'PUT', url: `Patient/${id}` } }, { request: { method: 'GET', url: 'Patient/not-there' } }] }));
  expect(transaction.status).toBe(404);
  expect(await consumeThroughMarker(kiln.db, consumer, new Set([id]))).toEqual([]);
});

/** A second connection to the same database: on the embedded one, the same single connection. */
async function secondConnection(): Promise<{ db: Database; close: () => Promise<void> }> {
  if (!process.env.DATABASE_URL) return { db: kiln.db, close: async () => undefined };
  const db = await openPostgres(process.env.DATABASE_URL, { poolSize: 2, statementTimeoutMs: 30_000, connectTimeoutMs: 5_000 });
  return { db, close: () => db.close() };
}

it("reads a transaction held open across a reader's poll before any younger one, and never skips it", async () => {
  const consumer = await newConsumer(kiln.db);
  const other = await secondConnection();
  const [late, early] = [randomUUID(), randomUUID()];
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let begun: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (begun = resolve));
  const lateTransaction = other.db.transaction(async (tx) => {
    await tx.query("INSERT INTO kiln_change (resource_type, id, version_id, interaction) VALUES ('Patient', $1, 1, 'create')", [late]);
    begun();
    await held;
  });
  await started;
  try {
    if (kiln.db.kind === 'postgres') {
      // A younger transaction commits while the older one is still open: the reader sees neither yet.
      await create(kiln.ctx, { resourceType: 'Patient' } as Resource, { id: early });
      expect(await consume(kiln.db, consumer, new Set([late, early]))).toEqual([]);
      release();
      await lateTransaction;
      expect((await consumeUntil(kiln.db, consumer, new Set([late, early]), (found) => found.length >= 2)).map((c) => c.id)).toEqual([late, early]);
    } else {
      // One connection: the poll made while the transaction is open waits for it, then reads it.
      const poll = consume(kiln.db, consumer, new Set([late]));
      release();
      await lateTransaction;
      expect((await poll).map((c) => c.id)).toEqual([late]);
    }
  } finally {
    release();
    await other.close();
  }
});

it('lets one process at a time hold a consumer, and hands the next the position the last one left', async () => {
  const consumer = await newConsumer(kiln.db);
  const other = await secondConnection();
  const { id } = await create(kiln.ctx, patient('Claimed'));
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let claimed: () => void = () => undefined;
  const first = new Promise<void>((resolve) => (claimed = resolve));
  const holder = other.db.transaction(async (tx) => {
    const at = (await claimPosition(tx, consumer)) as FeedPosition;
    const changes = await readChanges(tx, at, 10_000);
    await movePosition(tx, consumer, changes[changes.length - 1]);
    claimed();
    await held;
  });
  try {
    await first;
    // On Postgres a second process finds the consumer taken; on the embedded database it waits its turn.
    if (kiln.db.kind === 'postgres') expect(await kiln.db.transaction((tx) => claimPosition(tx, consumer))).toBeUndefined();
    release();
    await holder;
    expect(await consumeThroughMarker(kiln.db, consumer, new Set([id]))).toEqual([]);
  } finally {
    release();
    await other.close();
  }
});

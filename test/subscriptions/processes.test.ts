// Delivery across processes, on the server users run (dist/): a process killed between the
// commit and the end of a delivery loses nothing (its lease runs out and the next process sends
// it again, with the same event number), and two processes sharing one database send each
// notification exactly once, in order.
import type { Bundle, Parameters } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { SubscriptionService } from '../../subscriptions/subscription-service.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';
import { startKiln, stopKiln, TEST_NOTIFICATIONS, type KilnProcess } from '../support/kiln-process.js';
import { ownDatabase } from '../support/own-database.js';
import { startTestServer, uniqueId } from '../support/test-server.js';
import { eventually, startReceiver, type Received, type Receiver, FEED_WAIT_MS } from './receiver.js';
import { patientTopicSubscription } from './backport.js';


let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver.close());

async function fhir<T>(origin: string, method: string, path: string, body?: unknown): Promise<T> {
  const answer = await fetch(`${origin}/fhir/${path}`, { method, headers: { 'content-type': 'application/fhir+json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return (await answer.json()) as T;
}

const subscription = (patient: string, path: string) => patientTopicSubscription({ patient, endpoint: `${receiver.url.replace('/hook', '')}${path}`, reason: 'processes' });

const observation = (patient: string, value: number) => ({ resourceType: 'Observation', status: 'final', code: { text: 'pulse' }, subject: { reference: `Patient/${patient}` }, valueQuantity: { value } });

/** The event numbers of the event notifications `path` received, in the order they arrived. */
function eventNumbers(path: string): string[] {
  return receiver.received
    .filter((r) => r.path === path)
    .map((r: Received) => JSON.parse(r.body) as Bundle)
    .filter((b) => (b.entry?.[0]?.resource as Parameters).parameter?.some((p) => p.name === 'type' && p.valueCode === 'event-notification'))
    .flatMap((b) => ((b.entry?.[0]?.resource as Parameters).parameter ?? []).filter((p) => p.name === 'notification-event').map((p) => p.part?.find((q) => q.name === 'event-number')?.valueString as string));
}

async function activeSubscription(origin: string, patient: string, path: string): Promise<string> {
  const id = (await fhir<{ id: string }>(origin, 'POST', 'Subscription', subscription(patient, path))).id;
  await eventually(async () => (await fhir<{ status: string }>(origin, 'GET', `Subscription/${id}`)).status === 'active', FEED_WAIT_MS, 'the subscription to be active');
  return id;
}

it('sends again, after a restart, the notification a killed process was delivering', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-notify-'));
  const env: Record<string, string> = { KILN_NOTIFICATIONS: 'on', ...(process.env.DATABASE_URL ? await ownDatabase() : { DATABASE_URL: '', KILN_DATA_DIR: dataDir }) };
  if (!process.env.DATABASE_URL) await embeddedDataFolder(dataDir);
  let kiln: KilnProcess = await startKiln(env);
  try {
    const patient = (await fhir<{ id: string }>(kiln.origin, 'POST', 'Patient', { resourceType: 'Patient', name: [{ family: uniqueId('Kill') }] })).id;
    const path = `/hook/${uniqueId('kill')}`;
    await activeSubscription(kiln.origin, patient, path);
    // The endpoint takes the first event and never answers: Kiln dies while it waits.
    receiver.hangOn((r) => r.path === path && r.body.includes('event-notification'));
    await fhir(kiln.origin, 'POST', 'Observation', observation(patient, 1));
    await eventually(async () => eventNumbers(path).length === 1, FEED_WAIT_MS, 'the first delivery to start');
    await stopKiln(kiln, 'SIGKILL');
    receiver.hangOn(undefined);

    kiln = await startKiln(env);
    await eventually(async () => eventNumbers(path).length >= 2, FEED_WAIT_MS, 'the event to be sent again after the restart');
    await fhir(kiln.origin, 'POST', 'Observation', observation(patient, 2));
    await eventually(async () => eventNumbers(path).length >= 3, FEED_WAIT_MS, 'the next event');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The cut-off delivery, the same event again, then the next one: nothing lost, order kept.
    expect(eventNumbers(path)).toEqual(['1', '1', '2']);
  } finally {
    receiver.hangOn(undefined);
    await stopKiln(kiln, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 180_000);

it('sends each notification exactly once, in order, when two processes share the work', async () => {
  // On Postgres: two Kiln processes. The embedded database belongs to one process, so there the
  // second is a second notification service inside the test, on the same database.
  // The two share a database of their own (test/support/own-database.ts).
  const database = await ownDatabase();
  const kiln = await startTestServer({ KILN_NOTIFICATIONS: 'on', DATABASE_URL: database.DATABASE_URL ?? '' });
  const second = database.DATABASE_URL ? await startKiln({ ...database, KILN_NOTIFICATIONS: 'on' }) : undefined;
  const config = loadConfig({ ...TEST_NOTIFICATIONS, KILN_AUTH: 'off', DATABASE_URL: '', KILN_MQTT_URL: '', PORT: '0' });
  const http = createServer();
  const service = second
    ? undefined
    : new SubscriptionService({ config, logger: createLogger('silent'), ctx: () => kiln.ctx }, { mayBind: async () => 'no', bindToken: async () => ({ refused: 'no' }), handshake: async () => undefined });
  await service?.start(http);
  try {
    const origin = kiln.fhirUrl.replace(/\/fhir$/, '');
    const patient = (await fhir<{ id: string }>(origin, 'POST', 'Patient', { resourceType: 'Patient', name: [{ family: uniqueId('Twice') }] })).id;
    const paths = [1, 2, 3].map(() => `/hook/${uniqueId('once')}`);
    for (const path of paths) await activeSubscription(origin, patient, path);
    const COUNT = 40;
    // Writes go to both processes, a few at a time.
    const origins = [origin, second?.origin ?? origin];
    for (let i = 0; i < COUNT; i += 4) {
      await Promise.all([0, 1, 2, 3].map((j) => fhir(origins[(i + j) % 2], 'POST', 'Observation', observation(patient, i + j))));
    }
    const expected = Array.from({ length: COUNT }, (_, i) => String(i + 1));
    for (const path of paths) await eventually(async () => eventNumbers(path).length >= COUNT, 60_000, `${COUNT} events at ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const path of paths) expect(eventNumbers(path)).toEqual(expected);
  } finally {
    await service?.stop();
    if (second) await stopKiln(second, 'SIGTERM');
    await kiln.stop();
  }
}, 180_000);

// What a hospital relies on: no notification for a write that rolled back; failures retried, then
// `error` with the reason, while events keep being counted and `$events` returns what was missed;
// a client that asks again gets a new handshake and what comes next; heartbeats when idle; and
// the backport IG's notification shapes and `$status`.
import type { Bundle, Parameters, ParametersParameter, Subscription } from '@medplum/fhirtypes';
import request from 'supertest';
import { FHIR_JSON, json, uniqueId, type TestServer } from '../support/test-server.js';
import { eventually, withNotifyingKiln, type Received, type Receiver, FEED_WAIT_MS } from './receiver.js';
import { patientTopicSubscription } from './backport.js';
import { topicToBasic } from '../../subscriptions/topics.js';


let kiln: TestServer;
let receiver: Receiver;
withNotifyingKiln((started, listening) => {
  kiln = started;
  receiver = listening;
});

const post = (path: string, body: unknown) => request(kiln.server).post(`/fhir/${path}`).set('Content-Type', FHIR_JSON).send(json(body));
const get = async <T>(path: string) => (await request(kiln.server).get(`/fhir/${path}`)).body as T;

/** A topic subscription on Observations of one patient, to its own path of the receiver. */
const topicSubscription = (patient: string, path: string, extra: { heartbeat?: number; content?: 'id-only' | 'full-resource' } = {}): Subscription =>
  patientTopicSubscription({ patient, endpoint: `${receiver.url.replace('/hook', '')}${path}`, content: extra.content, heartbeatSeconds: extra.heartbeat });

const observation = (patient: string, value = 70) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: `Patient/${patient}` },
  valueQuantity: { value },
});

const newPatient = async () => (await post('Patient', { resourceType: 'Patient', name: [{ family: uniqueId('P') }] })).body.id as string;

/** The status Parameters of a notification Bundle, as name → value. */
function statusOf(bundle: Bundle): { type: string; status: string; since: string; events: ParametersParameter[][] } {
  const parameters = (bundle.entry?.[0]?.resource as Parameters).parameter ?? [];
  const one = (name: string) => parameters.find((p) => p.name === name);
  return {
    type: one('type')?.valueCode as string,
    status: one('status')?.valueCode as string,
    since: one('events-since-subscription-start')?.valueString as string,
    events: parameters.filter((p) => p.name === 'notification-event').map((p) => p.part ?? []),
  };
}
const bundles = (received: Received[]) => received.map((r) => JSON.parse(r.body) as Bundle);
const eventNumbers = (bundle: Bundle) => statusOf(bundle).events.map((part) => part.find((p) => p.name === 'event-number')?.valueString);

it('notifies nothing of a transaction that rolled back, and what commits after it once', async () => {
  const patient = await newPatient();
  const path = `/hook/${uniqueId('rollback')}`;
  const id = (await post('Subscription', topicSubscription(patient, path))).body.id as string;
  await eventually(async () => (await get<Subscription>(`Subscription/${id}`)).status === 'active');
  const failed = await post('', {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { resource: observation(patient, 1), request: { method: 'POST', url: 'Observation' } },
      // Refused (no status, which Observation requires): the whole transaction rolls back.
      { resource: { resourceType: 'Observation', code: { text: 'x' } }, request: { method: 'POST', url: 'Observation' } },
    ],
  });
  expect(failed.status).toBe(400);
  const kept = (await post('Observation', observation(patient, 2))).body.id as string;
  const mine = () => receiver.received.filter((r) => r.path === path);
  await eventually(async () => mine().length >= 2, FEED_WAIT_MS, 'the notification of the committed write');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const [handshake, event, ...rest] = bundles(mine());
  expect(rest).toEqual([]);
  expect(statusOf(handshake).type).toBe('handshake');
  expect(statusOf(event)).toMatchObject({ type: 'event-notification', since: '1' });
  expect(eventNumbers(event)).toEqual(['1']);
  // id-only: the focus's URL and the history request and response, no resource.
  expect(event.type).toBe('history');
  expect(event.entry?.[1]).toMatchObject({ fullUrl: `${kiln.fhirUrl}/Observation/${kept}`, request: { method: 'POST' }, response: { status: '201' } });
  expect(event.entry?.[1]?.resource).toBeUndefined();
  expect(mine()[1].headers['content-type']).toBe('application/fhir+json');
});

it('retries a failing endpoint, then goes to error with the reason, keeps counting, and $events returns what was missed', async () => {
  const patient = await newPatient();
  const path = `/hook/${uniqueId('outage')}`;
  const id = (await post('Subscription', topicSubscription(patient, path, { content: 'full-resource' }))).body.id as string;
  await eventually(async () => (await get<Subscription>(`Subscription/${id}`)).status === 'active');
  const mine = () => receiver.received.filter((r) => r.path === path);
  const before = mine().length;
  receiver.answer(503);
  try {
    const first = (await post('Observation', observation(patient, 80))).body.id as string;
    // KILN_SUBSCRIPTION_MAX_ATTEMPTS=4 in the suite: four tries, then error.
    const errored = await eventually(async () => {
      const s = await get<Subscription>(`Subscription/${id}`);
      return s.status === 'error' ? s : undefined;
    }, FEED_WAIT_MS, 'the subscription to go to error');
    expect(mine().length - before).toBe(4);
    expect(errored.error).toMatch(/503/);
    // Still counted while in error.
    const second = (await post('Observation', observation(patient, 81))).body.id as string;
    const status = await eventually(async () => {
      const answer = await get<Bundle>(`Subscription/${id}/$status`);
      const parameters = answer.entry?.[0]?.resource as Parameters;
      const since = parameters.parameter?.find((p) => p.name === 'events-since-subscription-start')?.valueString;
      return since === '2' ? parameters : undefined;
    }, FEED_WAIT_MS, 'the second event to be counted');
    expect(status.parameter?.find((p) => p.name === 'status')?.valueCode).toBe('error');
    expect(status.parameter?.find((p) => p.name === 'type')?.valueCode).toBe('query-status');
    const missed = await get<Bundle>(`Subscription/${id}/$events?eventsSinceNumber=1`);
    expect(statusOf(missed).type).toBe('query-event');
    expect(eventNumbers(missed)).toEqual(['1', '2']);
    expect(missed.entry?.slice(1).map((e) => e.resource?.id)).toEqual([first, second]);
    const idOnly = await get<Bundle>(`Subscription/${id}/$events?eventsSinceNumber=2&content=id-only`);
    expect(eventNumbers(idOnly)).toEqual(['2']);
    expect(idOnly.entry?.[1]?.resource).toBeUndefined();
    expect((await request(kiln.server).get(`/fhir/Subscription/${id}/$events?eventsSinceNumber=x`)).status).toBe(400);
  } finally {
    receiver.answer(200);
  }
  // The client asks again: a new handshake, then what comes next, numbered after what it missed.
  const current = await get<Subscription>(`Subscription/${id}`);
  expect((await request(kiln.server).put(`/fhir/Subscription/${id}`).set('Content-Type', FHIR_JSON).send(json({ ...current, status: 'requested' }))).status).toBe(200);
  await eventually(async () => (await get<Subscription>(`Subscription/${id}`)).status === 'active', FEED_WAIT_MS, 'the subscription to be active again');
  await post('Observation', observation(patient, 82));
  const delivered = await eventually(async () => bundles(mine()).find((b) => statusOf(b).type === 'event-notification' && eventNumbers(b).includes('3')), FEED_WAIT_MS, 'event 3');
  expect(eventNumbers(delivered)).toEqual(['3']);
});

it('sends heartbeats while there is nothing to tell', async () => {
  const patient = await newPatient();
  const path = `/hook/${uniqueId('heartbeat')}`;
  const id = (await post('Subscription', topicSubscription(patient, path, { heartbeat: 1 }))).body.id as string;
  await eventually(async () => (await get<Subscription>(`Subscription/${id}`)).status === 'active');
  const mine = () => receiver.received.filter((r) => r.path === path);
  await eventually(async () => bundles(mine()).filter((b) => statusOf(b).type === 'heartbeat').length >= 2, FEED_WAIT_MS, 'two heartbeats');
  const heartbeat = bundles(mine()).find((b) => statusOf(b).type === 'heartbeat') as Bundle;
  expect(statusOf(heartbeat)).toMatchObject({ status: 'active', since: '0', events: [] });
});

it('stops notifying once the client turns the subscription off, and when it is deleted', async () => {
  const patient = await newPatient();
  const path = `/hook/${uniqueId('off')}`;
  const id = (await post('Subscription', topicSubscription(patient, path))).body.id as string;
  await eventually(async () => (await get<Subscription>(`Subscription/${id}`)).status === 'active');
  const current = await get<Subscription>(`Subscription/${id}`);
  await request(kiln.server).put(`/fhir/Subscription/${id}`).set('Content-Type', FHIR_JSON).send(json({ ...current, status: 'off' }));
  await post('Observation', observation(patient));
  // A second subscription on the same data shows when the first would have been told.
  const witnessPath = `/hook/${uniqueId('witness')}`;
  const witness = (await post('Subscription', topicSubscription(patient, witnessPath))).body.id as string;
  await eventually(async () => (await get<Subscription>(`Subscription/${witness}`)).status === 'active');
  await post('Observation', observation(patient));
  await eventually(async () => receiver.received.filter((r) => r.path === witnessPath).length >= 2, FEED_WAIT_MS, 'the witness notification');
  expect(receiver.received.filter((r) => r.path === path)).toHaveLength(1);
  expect((await request(kiln.server).delete(`/fhir/Subscription/${witness}`)).status).toBeLessThan(300);
  expect((await request(kiln.server).get(`/fhir/Subscription/${witness}/$status`)).status).toBe(410);
});

it('honours end: the subscription is off once it has passed, and nothing more is sent', async () => {
  const patient = await newPatient();
  const path = `/hook/${uniqueId('end')}`;
  const end = new Date(Date.now() + 3000).toISOString();
  const id = (await post('Subscription', { ...topicSubscription(patient, path), end })).body.id as string;
  await eventually(async () => (await get<Subscription>(`Subscription/${id}`)).status === 'active');
  await eventually(async () => (await get<Subscription>(`Subscription/${id}`)).status === 'off', FEED_WAIT_MS, 'the subscription to be off after its end');
  await post('Observation', observation(patient));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  // The handshake only.
  expect(receiver.received.filter((r) => r.path === path)).toHaveLength(1);
});

it('serves a topic a client adds as a Basic resource, without code', async () => {
  const url = `http://example.org/fhir/SubscriptionTopic/${uniqueId('deactivated')}`;
  const basic = topicToBasic({
    url,
    title: 'Patient deactivated',
    description: 'A Patient record was marked inactive.',
    triggers: [{ resourceType: 'Patient', interactions: ['create', 'update'], current: 'active=false' }],
    canFilterBy: [{ resourceType: 'Patient', parameter: 'family' }],
  });
  expect((await request(kiln.server).put(`/fhir/Basic/${basic.id}`).set('Content-Type', FHIR_JSON).send(json(basic))).status).toBeLessThan(300);
  const family = uniqueId('Deactivated');
  const path = `/hook/${uniqueId('basic-topic')}`;
  const subscription = {
    ...patientTopicSubscription({ patient: 'unused', endpoint: `${receiver.url.replace('/hook', '')}${path}` }),
    criteria: url,
    _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: `Patient?family=${family}` }] },
  };
  const created = await post('Subscription', subscription);
  expect(created.status).toBe(201);
  await eventually(async () => (await get<Subscription>(`Subscription/${created.body.id}`)).status === 'active');
  await post('Patient', { resourceType: 'Patient', active: true, name: [{ family }] });
  const inactive = (await post('Patient', { resourceType: 'Patient', active: false, name: [{ family }] })).body.id as string;
  const mine = () => bundles(receiver.received.filter((r) => r.path === path)).filter((b) => statusOf(b).type === 'event-notification');
  await eventually(async () => mine().length >= 1, FEED_WAIT_MS, 'the notification of the inactive patient');
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(mine().flatMap((b) => (b.entry ?? []).slice(1).map((e) => e.fullUrl))).toEqual([`${kiln.fhirUrl}/Patient/${inactive}`]);
});

// R4 criteria subscriptions on the rest-hook channel: handshake, matching with the semantics of
// Kiln's search, headers and payloads, deletes matched on their last version, bad Subscriptions.
import type { Bundle, Observation, Subscription } from '@medplum/fhirtypes';
import request from 'supertest';
import { FHIR_JSON, json, uniqueId, type TestServer } from '../support/test-server.js';
import { eventually, withNotifyingKiln, type Receiver, FEED_WAIT_MS } from './receiver.js';

let kiln: TestServer;
let receiver: Receiver;
withNotifyingKiln((started, listening) => {
  kiln = started;
  receiver = listening;
});

const post = (path: string, body: unknown) => request(kiln.server).post(`/fhir/${path}`).set('Content-Type', FHIR_JSON).send(json(body));

async function subscribe(subscription: Omit<Subscription, 'resourceType'>): Promise<string> {
  const created = await post('Subscription', { resourceType: 'Subscription', ...subscription });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

const statusOf = async (id: string) => (await request(kiln.server).get(`/fhir/Subscription/${id}`)).body as Subscription;

function observation(patient: string, code: string, value: number): Observation {
  return { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${patient}` }, valueQuantity: { value, unit: '/min' } };
}

it('shakes hands, then posts each matching resource with the channel headers, as search would find them', async () => {
  const patient = (await post('Patient', { resourceType: 'Patient', name: [{ family: uniqueId('Hook') }] })).body.id as string;
  const other = (await post('Patient', { resourceType: 'Patient', name: [{ family: uniqueId('Other') }] })).body.id as string;
  const criteria = `Observation?code=http://loinc.org|8867-4&subject=Patient/${patient}`;
  const path = `/hook/${uniqueId()}`;
  const id = await subscribe({
    status: 'requested',
    reason: 'heart rate of one patient',
    criteria,
    channel: { type: 'rest-hook', endpoint: `${receiver.url.replace('/hook', '')}${path}`, payload: 'application/fhir+json', header: ['Authorization: Bearer secret-of-the-receiver', 'X-Trace: 42'] },
  });
  // The handshake: an empty POST, after which the Subscription says it is active.
  await eventually(async () => (await statusOf(id)).status === 'active', FEED_WAIT_MS, 'the subscription to become active');
  const mine = () => receiver.received.filter((r) => r.path === path);
  expect(mine()).toHaveLength(1);
  expect(mine()[0].body).toBe('');

  const written = [
    await post('Observation', observation(patient, '8867-4', 71)),
    await post('Observation', observation(patient, '9279-1', 16)),
    await post('Observation', observation(other, '8867-4', 90)),
    await post('Observation', observation(patient, '8867-4', 73)),
  ].map((r) => r.body as Observation);
  await eventually(async () => mine().length >= 3, FEED_WAIT_MS, 'two notifications');
  // Nothing more arrives for what does not match.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const notified = mine().slice(1);
  expect(notified).toHaveLength(2);
  for (const n of notified) {
    expect(n.headers.authorization).toBe('Bearer secret-of-the-receiver');
    expect(n.headers['x-trace']).toBe('42');
    expect(n.headers['content-type']).toBe('application/fhir+json');
  }
  const notifiedIds = notified.map((n) => (JSON.parse(n.body) as Observation).id);
  expect(notifiedIds).toEqual([written[0].id, written[3].id]);
  // The same criteria as a search finds exactly those.
  const searched = (await request(kiln.server).get(`/fhir/${criteria}`)).body as Bundle<Observation>;
  expect(searched.entry?.map((e) => e.resource?.id).sort()).toEqual([...notifiedIds].sort());
});

it('notifies a delete of a resource whose last version matched, with no body when there is no payload', async () => {
  const marker = uniqueId('del');
  const path = `/hook/${marker}`;
  const id = await subscribe({
    status: 'requested',
    reason: 'deletes',
    criteria: `Patient?family=${marker}`,
    channel: { type: 'rest-hook', endpoint: `${receiver.url.replace('/hook', '')}${path}` },
  });
  await eventually(async () => (await statusOf(id)).status === 'active');
  const patient = (await post('Patient', { resourceType: 'Patient', name: [{ family: marker }] })).body.id as string;
  expect((await request(kiln.server).delete(`/fhir/Patient/${patient}`)).status).toBeLessThan(300);
  const mine = () => receiver.received.filter((r) => r.path === path);
  await eventually(async () => mine().length >= 3, FEED_WAIT_MS, 'create and delete notifications');
  expect(mine().map((r) => r.body)).toEqual(['', '', '']);
  expect(mine()[1].headers['content-type']).toBeUndefined();
});

it.each([
  [{ criteria: 'Observation?no-such-parameter=1' }, 400, 'Subscription.criteria'],
  [{ criteria: 'NoSuchType?code=1' }, 400, 'Subscription.criteria'],
  [{ criteria: 'http://example.org/no-such-topic' }, 422, 'Subscription.criteria'],
  [{ channel: { type: 'message', endpoint: 'https://example.org/m' } }, 422, 'Subscription.channel.type'],
  [{ channel: { type: 'rest-hook', endpoint: 'https://example.org/h', payload: 'application/fhir+xml' } }, 422, 'Subscription.channel.payload'],
  [{ channel: { type: 'rest-hook', endpoint: 'http://example.org/h' } }, 422, 'Subscription.channel.endpoint'],
  [{ channel: { type: 'rest-hook', endpoint: 'https://10.1.2.3/h' } }, 422, 'Subscription.channel.endpoint'],
  [{ channel: { type: 'email', endpoint: 'mailto:someone@example.org' } }, 422, 'Subscription.channel.type'],
])('refuses a Subscription Kiln cannot serve, naming the element, and keeps nothing (%j)', async (change, status, expression) => {
  const marker = uniqueId('bad');
  const body = { resourceType: 'Subscription', status: 'requested', reason: marker, criteria: 'Observation?code=1', channel: { type: 'rest-hook', endpoint: 'https://example.org/h' }, ...change };
  const answer = await post('Subscription', body);
  expect(answer.status).toBe(status);
  expect(answer.body.resourceType).toBe('OperationOutcome');
  expect(JSON.stringify(answer.body.issue.map((i: { expression?: string[] }) => i.expression))).toContain(expression);
  const found = (await request(kiln.server).get(`/fhir/Subscription?_content=${marker}&_summary=count`)).body as Bundle;
  expect(found.total).toBe(0);
});

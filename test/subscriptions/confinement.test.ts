// A notification carries only what the subscription's owner may read: a patient's app subscribes
// to its own patient's data and hears nothing of another patient's, a filtered scope hears only
// what its filter lets it read, and a subscription's operations and websocket tell a caller who may
// not read it nothing, not even that it exists.
import type { Observation, Subscription } from '@medplum/fhirtypes';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import WebSocket from 'ws';
import { SUBSCRIPTION_PATIENT_EXTENSION } from '../../resources/patient-compartment.js';
import { create } from '../../server/fhir/interactions/create.js';
import type { TestServer } from '../support/test-server.js';
import { uniqueId } from '../support/test-server.js';
import { newClient, newUser, signIn, startAuthServer } from '../auth/support.js';
import { eventually, startReceiver, type Receiver, FEED_WAIT_MS } from './receiver.js';
import { connectAsync } from 'mqtt';
import { freePort } from '../support/kiln-process.js';
import { PASSWORD } from '../auth/support.js';

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
let kiln: TestServer & { origin: string };
let mqttPort: number;
let receiver: Receiver;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};

beforeAll(async () => {
  mqttPort = await freePort();
  kiln = await startAuthServer({ KILN_NOTIFICATIONS: 'on', KILN_MQTT_PORT: String(mqttPort) });
  receiver = await startReceiver();
  const { client } = await newClient(kiln, { scope: 'launch launch/patient patient/*.cruds user/*.cruds user/Observation.rs?category=vital-signs user/Subscription.cruds' });
  ids.a = (await create(kiln.ctx, { resourceType: 'Patient', name: [{ family: uniqueId('A') }] })).id;
  ids.b = (await create(kiln.ctx, { resourceType: 'Patient', name: [{ family: uniqueId('B') }] })).id;
  const patientA = await newUser(kiln, 'patient', `Patient/${ids.a}`);
  ids.userA = patientA.username;
  const patientB = await newUser(kiln, 'patient', `Patient/${ids.b}`);
  tokens.a = (await signIn(kiln, { clientId: client.clientId, scope: 'launch/patient patient/*.cruds', username: patientA.username })).access_token;
  tokens.b = (await signIn(kiln, { clientId: client.clientId, scope: 'launch/patient patient/*.cruds', username: patientB.username })).access_token;
  const practitioner = await newUser(kiln, 'practitioner', 'Practitioner/dr-notified');
  tokens.filtered = (await signIn(kiln, { clientId: client.clientId, scope: 'user/Observation.rs?category=vital-signs user/Subscription.cruds', username: practitioner.username })).access_token;
  // Five sign-ins, each hashing a password on purpose slowly.
}, 180_000);
afterAll(async () => {
  await kiln.stop();
  await receiver.close();
});

const asCaller = (token: string, method: 'get' | 'post' | 'put' | 'delete', path: string) =>
  request(kiln.server)[method](`/fhir/${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/fhir+json');

const observation = (patient: string, category: string): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: CATEGORY, code: category }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: `Patient/${patient}` },
});

function heartRateSubscription(path: string, patient?: string, channel: Subscription['channel'] = { type: 'rest-hook', endpoint: `${receiver.url.replace('/hook', '')}${path}`, payload: 'application/fhir+json' }): Subscription {
  return {
    resourceType: 'Subscription',
    ...(patient ? { extension: [{ url: SUBSCRIPTION_PATIENT_EXTENSION, valueReference: { reference: `Patient/${patient}` } }] } : {}),
    status: 'requested',
    reason: 'heart rate',
    criteria: 'Observation?code=http://loinc.org|8867-4',
    channel,
  };
}

async function activeAs(token: string, subscription: Subscription): Promise<string> {
  const created = await asCaller(token, 'post', 'Subscription').send(JSON.stringify(subscription));
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  await eventually(async () => (await asCaller(token, 'get', `Subscription/${id}`)).body.status === 'active', FEED_WAIT_MS, 'the subscription to be active');
  return id;
}

it("notifies a patient's subscription of that patient's data only, full resources included", async () => {
  const path = `/hook/${uniqueId('patient')}`;
  const id = await activeAs(tokens.a, heartRateSubscription(path, ids.a));
  const ofB = (await create(kiln.ctx, observation(ids.b, 'vital-signs'))).id;
  const ofA = (await create(kiln.ctx, observation(ids.a, 'vital-signs'))).id;
  const mine = () => receiver.received.filter((r) => r.path === path && r.body !== '');
  await eventually(async () => mine().length >= 1, FEED_WAIT_MS, "the notification of A's observation");
  await new Promise((resolve) => setTimeout(resolve, 800));
  expect(mine().map((r) => (JSON.parse(r.body) as Observation).id)).toEqual([ofA]);
  expect(mine().map((r) => r.body).join('')).not.toContain(ofB);
  // Another patient's token learns nothing of it: the same answers as for a subscription that does not exist.
  for (const operation of ['$status', '$events', '$get-ws-binding-token']) {
    const theirs = await asCaller(tokens.b, 'get', `Subscription/${id}/${operation}`);
    const nothing = await asCaller(tokens.b, 'get', `Subscription/${uniqueId('none')}/${operation}`);
    expect([operation, theirs.status]).toEqual([operation, nothing.status]);
    expect(theirs.status).toBe(404);
  }
});

it("refuses a patient's subscription that is not tied to that patient", async () => {
  const path = `/hook/${uniqueId('untied')}`;
  expect((await asCaller(tokens.a, 'post', 'Subscription').send(JSON.stringify(heartRateSubscription(path)))).status).toBe(403);
  // Another patient is out of reach, so naming them is refused as naming no one at all is.
  const naming = async (patient: string) => {
    const answer = await asCaller(tokens.a, 'post', 'Subscription').send(JSON.stringify(heartRateSubscription(path, patient)));
    return { status: answer.status, text: JSON.stringify(answer.body).replace(patient, '{patient}') };
  };
  const other = await naming(ids.b);
  expect(other.status).toBe(400);
  expect(other).toEqual(await naming(uniqueId('nobody')));
});

it('notifies a filtered scope only of what its filter lets it read', async () => {
  const path = `/hook/${uniqueId('filtered')}`;
  await activeAs(tokens.filtered, heartRateSubscription(path));
  const laboratory = (await create(kiln.ctx, observation(ids.b, 'laboratory'))).id;
  const vital = (await create(kiln.ctx, observation(ids.b, 'vital-signs'))).id;
  const mine = () => receiver.received.filter((r) => r.path === path && r.body !== '');
  await eventually(async () => mine().length >= 1, FEED_WAIT_MS, 'the vital-signs notification');
  await new Promise((resolve) => setTimeout(resolve, 800));
  expect(mine().map((r) => (JSON.parse(r.body) as Observation).id)).toEqual([vital]);
  expect(mine().map((r) => r.body).join('')).not.toContain(laboratory);
});

it("binds a websocket only for a caller who may read the subscription, and says the same of one that does not exist", async () => {
  const id = await activeAs(tokens.a, heartRateSubscription('', ids.a, { type: 'websocket' }));
  const { port } = kiln.server.address() as AddressInfo;
  const answer = (token: string, subscription: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/fhir/ws`, { headers: { authorization: `Bearer ${token}` } });
      socket.once('open', () => socket.send(`bind ${subscription}`));
      socket.once('message', (data) => {
        resolve(data.toString().replace(subscription, '{id}'));
        socket.close();
      });
      socket.once('error', reject);
    });
  expect(await answer(tokens.a, id)).toBe('bound {id}');
  const theirs = await answer(tokens.b, id);
  expect(theirs).toMatch(/^error /);
  expect(theirs).toBe(await answer(tokens.b, uniqueId('none')));
});

it("lets an MQTT client listen on a subscription's topic only when it may read that subscription", async () => {
  const topic = `kiln/test/${uniqueId('confined')}`;
  const channel = {
    type: 'rest-hook',
    endpoint: topic,
    _type: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-channel-type', valueCoding: { system: 'http://kiln.dev/fhir/CodeSystem/subscription-channel-type', code: 'mqtt' } }] },
  } as Subscription['channel'];
  await activeAs(tokens.a, heartRateSubscription('', ids.a, channel));
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  /** The SUBACK's granted QoS for `topic` (128: refused), signed in as given. */
  const granted = async (username: string, password: string, wanted: string) => {
    const client = await connectAsync(url, { username, password, reconnectPeriod: 0, connectTimeout: 10_000 });
    try {
      return (await client.subscribeAsync(wanted, { qos: 1 }))[0].qos;
    } catch (error) {
      // mqtt.js reports a refusal in the SUBACK as an error carrying the packet.
      const packet = (error as { packet?: { granted?: number[] } }).packet;
      if (packet?.granted) return packet.granted[0];
      throw error;
    } finally {
      await client.endAsync();
    }
  };
  expect(await granted('app', tokens.a, topic)).toBe(1);
  expect(await granted(ids.userA, PASSWORD, topic)).toBe(1);
  // Another patient: refused exactly as for a topic no subscription uses.
  expect(await granted('app', tokens.b, topic)).toBe(128);
  expect(await granted('app', tokens.b, `kiln/test/${uniqueId('nothing')}`)).toBe(128);
  expect(await granted('app', tokens.a, 'kiln/#')).toBe(128);
  await expect(connectAsync(url, { username: 'app', password: 'not-a-token', reconnectPeriod: 0, connectTimeout: 10_000 })).rejects.toThrow();
});

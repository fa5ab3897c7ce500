// The websocket channel with a real websocket client: where the CapabilityStatement says to
// connect, the R4 `bind {id}` / `ping {id}` exchange, and the backport IG's binding token with a
// handshake Bundle and full-resource event notifications.
import type { AddressInfo } from 'node:net';
import type { Bundle, CapabilityStatement, Observation, Parameters, Subscription } from '@medplum/fhirtypes';
import request from 'supertest';
import { WebSocket } from 'ws';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';
import { eventually, FEED_WAIT_MS } from './receiver.js';
import { OBSERVATION_CHANGED, patientTopicSubscription } from './backport.js';


let kiln: TestServer;
let port: number;
const sockets: WebSocket[] = [];
beforeAll(async () => {
  kiln = await startTestServer({ KILN_NOTIFICATIONS: 'on' });
  port = (kiln.server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const socket of sockets) socket.terminate();
  await kiln.stop();
});

const post = (path: string, body: unknown) => request(kiln.server).post(`/fhir/${path}`).set('Content-Type', FHIR_JSON).send(json(body));

async function subscribe(subscription: Omit<Subscription, 'resourceType'>): Promise<string> {
  const created = await post('Subscription', { resourceType: 'Subscription', ...subscription });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

const statusOf = async (id: string) => (await request(kiln.server).get(`/fhir/Subscription/${id}`)).body as Subscription;

async function newPatient(): Promise<string> {
  const created = await post('Patient', { resourceType: 'Patient', name: [{ family: uniqueId('Ws') }] });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

function observation(patient: string, code: string): Observation {
  return { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${patient}` }, valueQuantity: { value: 70, unit: '/min' } };
}

/** A websocket client that keeps every text message it is sent, in order. */
interface Client {
  socket: WebSocket;
  messages: string[];
  /** Resolves with the first `count` messages once they have arrived, or fails after `ms`. */
  waitFor(count: number, ms?: number): Promise<string[]>;
}

async function connect(url = `ws://127.0.0.1:${port}/fhir/ws`): Promise<Client> {
  const socket = new WebSocket(url);
  sockets.push(socket);
  const messages: string[] = [];
  socket.on('message', (data) => messages.push(data.toString()));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    async waitFor(count, ms = FEED_WAIT_MS) {
      await eventually(async () => messages.length >= count, ms, `${count} websocket messages (got ${JSON.stringify(messages.map((m) => m.slice(0, 200)))})`);
      return messages.slice(0, count);
    },
  };
}

const quiet = (ms = 500) => new Promise((resolve) => setTimeout(resolve, ms));

function parameter(parameters: Parameters, name: string) {
  return parameters.parameter?.find((p) => p.name === name);
}

it('advertises the websocket URL of this server in the CapabilityStatement', async () => {
  const answer = await request(kiln.server).get('/fhir/metadata');
  expect(answer.status).toBe(200);
  const statement = answer.body as CapabilityStatement;
  const advertised = statement.rest?.[0].extension?.find((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket')?.valueUrl;
  expect(advertised).toBeDefined();
  // The base URL names the host as `localhost`; the port and path are the ones this server listens on.
  const url = new URL(advertised as string);
  expect(url.protocol).toBe('ws:');
  expect(url.port).toBe(String(port));
  expect(url.pathname).toBe('/fhir/ws');
  // And a client can connect there.
  const client = await connect(`ws://127.0.0.1:${url.port}${url.pathname}`);
  expect(client.socket.readyState).toBe(WebSocket.OPEN);
});

it('R4: binds with `bind {id}` and is pinged for each matching resource, and for nothing else', async () => {
  const patient = await newPatient();
  const id = await subscribe({
    status: 'requested',
    reason: 'heart rate over a websocket',
    criteria: `Observation?code=http://loinc.org|8867-4&subject=Patient/${patient}`,
    channel: { type: 'websocket' },
  });
  // An R4 websocket subscription needs no handshake: it becomes active once Kiln has read it.
  await eventually(async () => (await statusOf(id)).status === 'active', FEED_WAIT_MS, 'the subscription to become active');

  const client = await connect();
  client.socket.send(`bind ${id}`);
  expect(await client.waitFor(1)).toEqual([`bound ${id}`]);

  expect((await post('Observation', observation(patient, '8867-4'))).status).toBe(201);
  expect(await client.waitFor(2)).toEqual([`bound ${id}`, `ping ${id}`]);

  // Another code: no match, so no ping.
  expect((await post('Observation', observation(patient, '9279-1'))).status).toBe(201);
  await quiet();
  expect(client.messages).toEqual([`bound ${id}`, `ping ${id}`]);
});

it('R4: refuses to bind a subscription that does not exist', async () => {
  const client = await connect();
  client.socket.send(`bind ${uniqueId('missing')}`);
  const [answer] = await client.waitFor(1);
  expect(answer).toMatch(/^error /);
});

it('backport: binds with a token from $get-ws-binding-token, gets a handshake, then full-resource event notifications', async () => {
  const patient = await newPatient();
  const other = await newPatient();
  const id = await subscribe(patientTopicSubscription({ patient, channel: 'websocket', content: 'full-resource', reason: 'observations of one patient over a websocket' }));
  await eventually(async () => (await statusOf(id)).status === 'active', FEED_WAIT_MS, 'the subscription to become active');

  const tokenAnswer = await request(kiln.server).get(`/fhir/Subscription/${id}/$get-ws-binding-token`);
  expect(tokenAnswer.status).toBe(200);
  const binding = tokenAnswer.body as Parameters;
  expect(binding.resourceType).toBe('Parameters');
  const token = parameter(binding, 'token')?.valueString;
  expect(token).toEqual(expect.any(String));
  const expiration = parameter(binding, 'expiration')?.valueDateTime;
  expect(new Date(expiration as string).getTime()).toBeGreaterThan(Date.now());
  const websocketUrl = new URL(parameter(binding, 'websocket-url')?.valueUrl as string);
  expect(websocketUrl.port).toBe(String(port));
  expect(websocketUrl.pathname).toBe('/fhir/ws');

  const client = await connect(`ws://127.0.0.1:${websocketUrl.port}${websocketUrl.pathname}`);
  client.socket.send(`bind-with-token ${token as string}`);
  const [first] = await client.waitFor(1);
  const handshake = JSON.parse(first) as Bundle;
  expect(handshake.resourceType).toBe('Bundle');
  expect(handshake.type).toBe('history');
  const handshakeStatus = handshake.entry?.[0].resource as Parameters;
  expect(handshakeStatus.resourceType).toBe('Parameters');
  expect(parameter(handshakeStatus, 'type')?.valueCode).toBe('handshake');
  expect(parameter(handshakeStatus, 'subscription')?.valueReference?.reference).toMatch(new RegExp(`/Subscription/${id}$`));

  const written = (await post('Observation', observation(patient, '8867-4'))).body as Observation;
  const [, second] = await client.waitFor(2);
  const notification = JSON.parse(second) as Bundle;
  expect(notification.type).toBe('history');
  const status = notification.entry?.[0].resource as Parameters;
  expect(parameter(status, 'type')?.valueCode).toBe('event-notification');
  expect(parameter(status, 'topic')?.valueCanonical).toBe(OBSERVATION_CHANGED);
  expect(parameter(status, 'events-since-subscription-start')?.valueString).toBe('1');
  const event = parameter(status, 'notification-event');
  expect(event?.part?.find((p) => p.name === 'event-number')?.valueString).toBe('1');
  expect(event?.part?.find((p) => p.name === 'focus')?.valueReference?.reference).toMatch(new RegExp(`/Observation/${written.id as string}$`));
  const focus = notification.entry?.[1].resource as Observation;
  expect(focus.resourceType).toBe('Observation');
  expect(focus.id).toBe(written.id);
  expect(focus.subject?.reference).toBe(`Patient/${patient}`);

  // Another patient's observation does not pass the filter.
  expect((await post('Observation', observation(other, '8867-4'))).status).toBe(201);
  await quiet();
  expect(client.messages).toHaveLength(2);
});

it('backport: answers a token it never gave with an error', async () => {
  const client = await connect();
  client.socket.send(`bind-with-token ${uniqueId('not-a-token')}`);
  const [answer] = await client.waitFor(1);
  expect(answer).toMatch(/^error /);
  await quiet(200);
  expect(client.messages).toHaveLength(1);
});

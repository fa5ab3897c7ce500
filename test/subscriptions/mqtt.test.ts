// The MQTT channel with real MQTT clients: a backport topic Subscription publishes its handshake
// and its event notifications to the channel's topic, on Kiln's embedded broker and on an external
// broker named in KILN_MQTT_URL (the Mosquitto of KILN_TEST_MQTT_URL, else a standalone aedes).
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import type { Bundle, Observation, Parameters, Subscription } from '@medplum/fhirtypes';
import { Aedes } from 'aedes';
import { connectAsync, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import request from 'supertest';
import { createLogger } from '../../server/logger.js';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';
import { eventually, FEED_WAIT_MS } from './receiver.js';
import { patientTopicSubscription } from './backport.js';


/** A Kiln logger whose lines the test reads: the embedded broker's real port is only in its log. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
        // What a developer asked to see while debugging is still shown.
        if (process.env.KILN_TEST_LOG_LEVEL) process.stderr.write(`${line}\n`);
      }
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

/** An MQTT client that keeps every message it receives, in order. */
interface Listener {
  client: MqttClient;
  messages: IPublishPacket[];
  waitFor(count: number, ms?: number): Promise<IPublishPacket[]>;
}

const clients: MqttClient[] = [];

async function listen(url: string, topic: string, options: IClientOptions = {}): Promise<Listener> {
  const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, clientId: uniqueId('listener'), ...options });
  clients.push(client);
  const messages: IPublishPacket[] = [];
  client.on('message', (_topic, _payload, packet) => messages.push(packet));
  const granted = await client.subscribeAsync(topic, { qos: 1 });
  expect(granted[0].qos).toBe(1);
  return {
    client,
    messages,
    async waitFor(count, ms = FEED_WAIT_MS) {
      await eventually(async () => messages.length >= count, ms, `${count} MQTT messages on ${topic} (got ${messages.length})`);
      return messages.slice(0, count);
    },
  };
}

function parameter(parameters: Parameters, name: string) {
  return parameters.parameter?.find((p) => p.name === name);
}

/** The notification Bundle's status Parameters, after checking the Bundle's shape. */
function statusOf(packet: IPublishPacket, topic: string): { bundle: Bundle; status: Parameters } {
  expect(packet.topic).toBe(topic);
  expect(packet.qos).toBe(1);
  const bundle = JSON.parse(packet.payload.toString()) as Bundle;
  expect(bundle.resourceType).toBe('Bundle');
  expect(bundle.type).toBe('history');
  return { bundle, status: bundle.entry?.[0].resource as Parameters };
}

/**
 * The scenario both brokers go through: a listener on a fresh topic, a backport Subscription to it
 * with the MQTT channel, its handshake, and the notification of one matching Observation (and none
 * for another patient's).
 */
async function handshakeThenEvent(kiln: TestServer, listener: (topic: string) => Promise<Listener>): Promise<IPublishPacket[]> {
  const post = (path: string, body: unknown) => request(kiln.server).post(`/fhir/${path}`).set('Content-Type', FHIR_JSON).send(json(body));
  const topic = `kiln/test/${uniqueId()}`;
  // Subscribed before the Subscription exists: the handshake is published as soon as Kiln reads it.
  const mqtt = await listener(topic);
  const patient = (await post('Patient', { resourceType: 'Patient', name: [{ family: uniqueId('Mqtt') }] })).body.id as string;
  const other = (await post('Patient', { resourceType: 'Patient', name: [{ family: uniqueId('Other') }] })).body.id as string;
  const created = await post('Subscription', patientTopicSubscription({ patient, channel: 'mqtt', endpoint: topic, content: 'full-resource', reason: 'observations of one patient over MQTT' }));
  expect(created.status).toBe(201);
  const id = created.body.id as string;

  const [handshakePacket] = await mqtt.waitFor(1);
  const handshake = statusOf(handshakePacket, topic);
  expect(parameter(handshake.status, 'type')?.valueCode).toBe('handshake');
  expect(parameter(handshake.status, 'subscription')?.valueReference?.reference).toMatch(new RegExp(`/Subscription/${id}$`));
  await eventually(async () => ((await request(kiln.server).get(`/fhir/Subscription/${id}`)).body as Subscription).status === 'active', FEED_WAIT_MS, 'the subscription to become active');

  const written = (await post('Observation', { resourceType: 'Observation', status: 'final', code: { text: 'heart rate' }, subject: { reference: `Patient/${patient}` } })).body as Observation;
  const [, eventPacket] = await mqtt.waitFor(2);
  const event = statusOf(eventPacket, topic);
  expect(parameter(event.status, 'type')?.valueCode).toBe('event-notification');
  expect(parameter(event.status, 'events-since-subscription-start')?.valueString).toBe('1');
  expect(parameter(event.status, 'notification-event')?.part?.find((p) => p.name === 'event-number')?.valueString).toBe('1');
  const focus = event.bundle.entry?.[1].resource as Observation;
  expect(focus.resourceType).toBe('Observation');
  expect(focus.id).toBe(written.id);

  // Another patient's observation does not pass the filter: nothing more is published.
  expect((await post('Observation', { resourceType: 'Observation', status: 'final', code: { text: 'heart rate' }, subject: { reference: `Patient/${other}` } })).status).toBe(201);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(mqtt.messages).toHaveLength(2);
  return mqtt.messages;
}

afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
});

describe('on Kiln’s embedded broker', () => {
  let kiln: TestServer;
  let brokerPort: number;
  beforeAll(async () => {
    const { logger, lines } = capturedLogger();
    // KILN_MQTT_PORT=0 (the test default): the broker takes a free port and logs which.
    kiln = await startTestServer({ KILN_NOTIFICATIONS: 'on' }, logger);
    brokerPort = await eventually(async () => lines.find((line) => line.msg === 'embedded MQTT broker listening')?.port as number | undefined, 5000, 'the embedded broker to listen');
  });
  afterAll(async () => {
    await kiln.stop();
  });

  it('publishes the handshake, then the event notification, to the channel’s topic at QoS 1', async () => {
    // With authorization off the broker lets anyone in, but MQTT sign-in still needs a user name.
    await handshakeThenEvent(kiln, (topic) => listen(`mqtt://127.0.0.1:${brokerPort}`, topic, { username: 'listener' }));
  });
});

describe('on an external broker (KILN_MQTT_URL)', () => {
  /** KILN_TEST_MQTT_URL (Mosquitto in CI), else a standalone aedes that stands in for one. */
  const realBroker = Boolean(process.env.KILN_TEST_MQTT_URL);
  let brokerUrl: string;
  let standIn: { broker: Aedes; server: Server } | undefined;
  let kiln: TestServer;
  beforeAll(async () => {
    if (realBroker) {
      brokerUrl = process.env.KILN_TEST_MQTT_URL as string;
    } else {
      const broker = await Aedes.createBroker();
      const server = createServer(broker.handle);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      standIn = { broker, server };
      brokerUrl = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
    }
    kiln = await startTestServer({ KILN_NOTIFICATIONS: 'on', KILN_MQTT_URL: brokerUrl });
  });
  afterAll(async () => {
    await kiln.stop();
    if (standIn) {
      const { broker, server } = standIn;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await serverClosed;
    }
  });

  it('publishes the handshake, then the event notification, through that broker to its other clients', async () => {
    // Mosquitto speaks MQTT 5, and so carries the payload's content type; aedes speaks 3.1.1 only.
    const messages = await handshakeThenEvent(kiln, (topic) => listen(brokerUrl, topic, { protocolVersion: realBroker ? 5 : 4 }));
    if (realBroker) for (const message of messages) expect(message.properties?.contentType).toBe('application/fhir+json');
  });
});

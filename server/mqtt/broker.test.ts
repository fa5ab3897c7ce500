// Kiln's MQTT broker against real MQTT clients: sign-in, subscriptions allowed and refused,
// Kiln's own publishes at QoS 1, a port already taken, and publishing to an external broker
// (KILN_TEST_MQTT_URL, else a second embedded broker standing in for one).
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { connectAsync, type ErrorWithSubackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { createLogger } from '../logger.js';
import { startMqtt, type KilnMqtt, type MqttOptions } from './broker.js';

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

const USERS: Record<string, string> = { alice: 'alice-password' };

function options(overrides: Partial<MqttOptions> = {}): MqttOptions {
  return {
    port: 0,
    host: '127.0.0.1',
    logger: capturedLogger().logger,
    authenticate: async (username, password) => (USERS[username] !== undefined && password?.toString() === USERS[username] ? { username } : undefined),
    maySubscribe: async (principal, topic) => (principal as { username: string }).username === 'alice' && topic.startsWith('kiln/subscriptions/allowed'),
    mayPublish: async () => false,
    ...overrides,
  };
}

/** The next message on `client`, or undefined when none comes within `ms`. */
function nextMessage(client: MqttClient, ms = 1500): Promise<IPublishPacket | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      resolve(undefined);
    }, ms);
    const onMessage = (_topic: string, _payload: Buffer, packet: IPublishPacket) => {
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(packet);
    };
    client.on('message', onMessage);
  });
}

const clients: MqttClient[] = [];
const brokers: KilnMqtt[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

async function embedded(overrides: Partial<MqttOptions> = {}): Promise<KilnMqtt> {
  const broker = await startMqtt(options(overrides));
  brokers.push(broker);
  return broker;
}

async function client(url: string, username?: string, password?: string, protocolVersion: 4 | 5 = 4): Promise<MqttClient> {
  const connected = await connectAsync(url, { username, password, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion });
  clients.push(connected);
  return connected;
}

describe('embedded broker', () => {
  it('listens on a free port when asked for port 0 and says so', async () => {
    const broker = await embedded();
    expect(broker.available).toBe(true);
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.describe).toBe(`embedded on port ${broker.port}`);
  });

  it('delivers Kiln’s publish at QoS 1 to a signed-in client on an allowed topic', async () => {
    const broker = await embedded();
    const alice = await client(`mqtt://127.0.0.1:${broker.port}`, 'alice', 'alice-password');
    const granted = await alice.subscribeAsync('kiln/subscriptions/allowed', { qos: 1 });
    expect(granted[0].qos).toBe(1);
    const message = nextMessage(alice);
    await broker.publish('kiln/subscriptions/allowed', '{"resourceType":"Bundle"}', 'application/fhir+json');
    const received = await message;
    expect(received?.topic).toBe('kiln/subscriptions/allowed');
    expect(received?.qos).toBe(1);
    expect(received?.payload.toString()).toBe('{"resourceType":"Bundle"}');
  });

  it('refuses a subscription the rules do not allow: a failure in the SUBACK, and no messages', async () => {
    const broker = await embedded();
    const alice = await client(`mqtt://127.0.0.1:${broker.port}`, 'alice', 'alice-password');
    const refused = await alice.subscribeAsync('kiln/subscriptions/other', { qos: 1 }).then(
      () => undefined,
      (error: ErrorWithSubackPacket) => error,
    );
    expect(refused?.packet.granted).toHaveLength(1);
    expect([0x80, 0x87]).toContain(refused?.packet.granted[0]);
    const message = nextMessage(alice, 800);
    await broker.publish('kiln/subscriptions/other', 'secret');
    expect(await message).toBeUndefined();
    // The refusal leaves the connection usable.
    expect(alice.connected).toBe(true);
  });

  it('refuses a wrong password and a missing user name at CONNECT', async () => {
    const broker = await embedded();
    const url = `mqtt://127.0.0.1:${broker.port}`;
    await expect(connectAsync(url, { username: 'alice', password: 'wrong', reconnectPeriod: 0 })).rejects.toMatchObject({ code: 4 });
    await expect(connectAsync(url, { reconnectPeriod: 0 })).rejects.toMatchObject({ code: 4 });
  });

  it('answers "server unavailable" when the sign-in cannot be checked', async () => {
    const broker = await embedded({ authenticate: () => Promise.reject(new Error('database down')) });
    await expect(connectAsync(`mqtt://127.0.0.1:${broker.port}`, { username: 'alice', password: 'alice-password', reconnectPeriod: 0 })).rejects.toMatchObject({ code: 3 });
  });

  it('does not pass on a client’s publish that the rules refuse', async () => {
    const broker = await embedded();
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const listener = await client(url, 'alice', 'alice-password');
    await listener.subscribeAsync('kiln/subscriptions/allowed', { qos: 1 });
    const message = nextMessage(listener, 800);
    const forger = await client(url, 'alice', 'alice-password');
    forger.on('error', () => undefined);
    forger.publish('kiln/subscriptions/allowed', 'forged', { qos: 0 });
    expect(await message).toBeUndefined();
  });

  it('turns itself off with one warning naming KILN_MQTT_PORT when the port is taken', async () => {
    const taken: Server = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    try {
      const { logger, lines } = capturedLogger();
      const broker = await embedded({ port, logger });
      expect(broker.available).toBe(false);
      const warnings = lines.filter((line) => line.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0].msg).toContain('KILN_MQTT_PORT');
      expect(warnings[0].msg).toContain(String(port));
      await expect(broker.publish('kiln/subscriptions/allowed', 'x')).rejects.toThrow(/no MQTT broker/);
    } finally {
      taken.close();
    }
  });
});

describe('external broker', () => {
  /** KILN_TEST_MQTT_URL (a real Mosquitto in CI), else a second embedded broker that lets anyone in. */
  async function externalUrl(): Promise<string> {
    if (process.env.KILN_TEST_MQTT_URL) return process.env.KILN_TEST_MQTT_URL;
    const stand_in = await embedded({ authenticate: async (username) => username, maySubscribe: async () => true, mayPublish: async () => true });
    return `mqtt://kiln:secret-password@127.0.0.1:${stand_in.port}`;
  }

  it('publishes to the broker of KILN_MQTT_URL, where another client receives it', async () => {
    const url = await externalUrl();
    const topic = `kiln-test/${process.pid}/${Date.now()}`;
    const listenerUrl = new URL(url);
    const realBroker = Boolean(process.env.KILN_TEST_MQTT_URL);
    // Mosquitto speaks MQTT 5, and so shows the content type; the aedes stand-in speaks 3.1.1 only.
    const listener = await client(`mqtt://${listenerUrl.host}`, listenerUrl.username || 'listener', listenerUrl.password || undefined, realBroker ? 5 : 4);
    await listener.subscribeAsync(topic, { qos: 1 });
    const message = nextMessage(listener, 5000);
    const { logger } = capturedLogger();
    const kiln = await startMqtt({ ...options(), url, logger });
    brokers.push(kiln);
    expect(kiln.available).toBe(true);
    expect(kiln.describe).not.toContain('secret-password');
    await kiln.publish(topic, 'hello from Kiln', 'text/plain');
    const received = await message;
    expect(received?.payload.toString()).toBe('hello from Kiln');
    if (realBroker) expect(received?.properties?.contentType).toBe('text/plain');
  });

  it('rejects a publish when the broker cannot be reached', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { logger } = capturedLogger();
    const kiln = await startMqtt({ ...options(), url: `mqtt://127.0.0.1:${port}`, logger });
    brokers.push(kiln);
    await expect(kiln.publish('kiln-test/unreachable', 'x')).rejects.toThrow(/not connected/);
  }, 20000);
});

// Kiln's MQTT broker: where Kiln publishes subscription notifications (and where devices will
// later publish their readings). Without KILN_MQTT_URL, Kiln runs its own broker (aedes) on
// KILN_MQTT_PORT, and every client must sign in and may subscribe only where Kiln's access rules
// let it. With KILN_MQTT_URL, Kiln is a client of that broker, which then does its own access
// control. A port already taken turns the embedded broker off rather than stopping Kiln: the FHIR
// API matters more than one notification channel.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../logger.js';

export interface MqttOptions {
  /** KILN_MQTT_URL: an external broker to publish to; Kiln then runs none of its own. */
  url?: string;
  /** KILN_MQTT_PORT: where the embedded broker listens (0: any free port). */
  port: number;
  /** The address the embedded broker listens on. */
  host: string;
  logger: Logger;
  /** Who a client is: a principal, or undefined to refuse the connection. `address` is the client's, for login limits. */
  authenticate(username: string, password: Buffer | undefined, address?: string): Promise<unknown>;
  maySubscribe(principal: unknown, topic: string): Promise<boolean>;
  mayPublish(principal: unknown, topic: string): Promise<boolean>;
}

export interface KilnMqtt {
  /** False when Kiln has no broker to publish to (the embedded one could not listen). */
  readonly available: boolean;
  /** Where Kiln publishes, for logs and status pages: never a password. */
  readonly describe: string;
  /** The embedded broker's port (the real one also when 0 was asked). */
  readonly port?: number;
  /** Publishes at QoS 1; resolves once the broker has the message, rejects on error or after PUBLISH_TIMEOUT_MS. */
  publish(topic: string, payload: string | Buffer, contentType?: string): Promise<void>;
  /**
   * The topics some client of this process's own broker subscribes to; undefined for a broker
   * every process shares (KILN_MQTT_URL), where any process may publish for any subscription.
   */
  localTopics?(): string[];
  close(): Promise<void>;
}

export const PUBLISH_TIMEOUT_MS = 10_000;

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3 (aedes speaks 3.1 and 3.1.1). */
const CONNACK_SERVER_UNAVAILABLE = 3;
const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
/** CONNACK refusals of a protocol level the broker does not speak: 3.1.1's code, and MQTT 5's reason code. */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

export async function startMqtt(options: MqttOptions): Promise<KilnMqtt> {
  return options.url ? externalBroker(options.url, options.logger) : embeddedBroker(options);
}

/** Runs `start` with a callback, rejecting when the callback has not come within the timeout. */
function withTimeout(what: string, start: (done: (error?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no acknowledgement within ${PUBLISH_TIMEOUT_MS / 1000} s`)), PUBLISH_TIMEOUT_MS);
    start((error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    });
  });
}

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

async function embeddedBroker(options: MqttOptions): Promise<KilnMqtt> {
  const { logger } = options;
  /** Who each connected client signed in as. */
  const principals = new WeakMap<Client, unknown>();
  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      if (username === undefined) return done(refusal(CONNACK_BAD_USERNAME_OR_PASSWORD, 'a user name is required'), null);
      options.authenticate(username, password, client.conn && 'remoteAddress' in client.conn ? client.conn.remoteAddress : undefined).then(
        (principal) => {
          if (principal === undefined) return done(refusal(CONNACK_BAD_USERNAME_OR_PASSWORD, 'bad user name or password'), null);
          principals.set(client, principal);
          done(null, true);
        },
        (error: unknown) => {
          // The client may try again later: the failure was Kiln's (its database), not the credentials.
          logger.error({ err: error }, 'MQTT sign-in could not be checked');
          done(refusal(CONNACK_SERVER_UNAVAILABLE, 'sign-in could not be checked'), null);
        },
      );
    },
    authorizeSubscribe(client, subscription, done) {
      // A null subscription is a refusal: the SUBACK carries 0x80 for it and the client stays connected.
      options.maySubscribe(principals.get(client), subscription.topic).then(
        (allowed) => done(null, allowed ? subscription : null),
        (error: unknown) => {
          logger.error({ err: error, topic: subscription.topic }, 'MQTT subscription could not be checked');
          done(null, null);
        },
      );
    },
    authorizePublish(client, packet, done) {
      // Kiln's own publishes come without a client (and aedes.publish does not ask at all).
      if (!client) return done(null);
      if (packet.topic.startsWith('$')) return done(new Error('$ topics are the broker’s own'));
      options.mayPublish(principals.get(client), packet.topic).then(
        (allowed) => done(allowed ? null : new Error(`not allowed to publish to ${packet.topic}`)),
        (error: unknown) => {
          logger.error({ err: error, topic: packet.topic }, 'MQTT publish could not be checked');
          done(new Error('the publish could not be checked'));
        },
      );
    },
  });
  broker.on('clientError', (client, error) => logger.debug({ err: error, clientId: client.id }, 'MQTT client error'));
  // Who listens where: only a process whose broker has a subscriber on a topic publishes there
  // (another Kiln process on the same database runs a broker of its own, with other clients).
  const listeners = new Map<string, Set<string>>();
  const forget = (topic: string, clientId: string) => {
    const set = listeners.get(topic);
    set?.delete(clientId);
    if (set && !set.size) listeners.delete(topic);
  };
  broker.on('subscribe', (subscriptions, client) => {
    for (const { topic } of subscriptions) listeners.set(topic, (listeners.get(topic) ?? new Set<string>()).add(client.id));
  });
  broker.on('unsubscribe', (topics, client) => {
    for (const topic of topics) forget(topic, client.id);
  });
  broker.on('clientDisconnect', (client) => {
    for (const topic of [...listeners.keys()]) forget(topic, client.id);
  });
  const server = createServer(broker.handle);
  const closeBroker = () => new Promise<void>((resolve) => broker.close(() => resolve()));
  let port: number;
  try {
    port = await listen(server, options.port, options.host);
  } catch (error) {
    await closeBroker();
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    logger.warn(
      { port: options.port },
      `MQTT port ${options.port} is in use: Kiln's embedded MQTT broker is off; set KILN_MQTT_PORT to another port or KILN_MQTT_URL to a broker`,
    );
    return unavailable(`embedded broker off (port ${options.port} in use)`);
  }
  logger.info({ port, host: options.host }, 'embedded MQTT broker listening');
  return {
    available: true,
    describe: `embedded on port ${port}`,
    port,
    publish(topic, payload, _contentType) {
      // aedes speaks MQTT 3.1.1, which has no content type property; the channel's payload type is fixed per subscription anyway.
      const packet: PublishPacket = { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: 1, retain: false, dup: false };
      return withTimeout(`publish to ${topic}`, (done) => broker.publish(packet, (error) => done(error)));
    },
    localTopics: () => [...listeners.keys()],
    async close() {
      // Closing the broker ends its clients' connections, which lets the server close.
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await closeBroker();
      await serverClosed;
    },
  };
}

function unavailable(describe: string): KilnMqtt {
  return {
    available: false,
    describe,
    publish: () => Promise.reject(new Error(`Kiln has no MQTT broker: ${describe}`)),
    close: async () => undefined,
  };
}

/** The URL without its password, for logs. */
function withoutPassword(url: URL): string {
  const shown = new URL(url.href);
  shown.password = '';
  return shown.href;
}

function externalBroker(urlText: string, logger: Logger): KilnMqtt {
  const url = new URL(urlText);
  const describe = withoutPassword(url);
  const server = new URL(url.href);
  server.username = '';
  server.password = '';
  const clientOptions: IClientOptions = {
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    clientId: `kiln-${randomUUID()}`,
    clean: true,
    reconnectPeriod: 2000,
    connectTimeout: PUBLISH_TIMEOUT_MS,
    protocolVersion: 5,
  };
  let client: MqttClient;
  let everConnected = false;
  let lastError = '';
  /** Publishes waiting for the connection; the client object changes when Kiln falls back to 3.1.1. */
  const waiting = new Set<() => void>();

  // MQTT 5 first, for the content type property; a broker that speaks only 3.1.1 refuses that
  // protocol level in its CONNACK, and Kiln then stays with 3.1.1.
  const open = () => {
    client = connect(server.href, clientOptions);
    client.on('connect', () => {
      everConnected = true;
      lastError = '';
      logger.info({ broker: describe, protocolVersion: clientOptions.protocolVersion }, 'connected to the MQTT broker');
      for (const resume of waiting) resume();
      waiting.clear();
    });
    client.on('error', (error: Error & { code?: number }) => {
      if (!everConnected && clientOptions.protocolVersion === 5 && typeof error.code === 'number' && UNSUPPORTED_PROTOCOL.has(error.code)) {
        clientOptions.protocolVersion = 4;
        client.end(true, () => open());
        return;
      }
      // mqtt.js reconnects by itself; one line per kind of failure, not one per attempt.
      if (error.message !== lastError) logger.warn({ err: error, broker: describe }, 'MQTT broker connection failed; retrying');
      lastError = error.message;
    });
  };
  open();

  /** Waits for the connection (mqtt.js would queue the message meanwhile, and a retry would queue it again). */
  const connected = () =>
    client.connected
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiting.delete(onConnect);
            reject(new Error(`not connected to the MQTT broker ${describe}`));
          }, PUBLISH_TIMEOUT_MS);
          const onConnect = () => {
            clearTimeout(timer);
            resolve();
          };
          waiting.add(onConnect);
        });

  return {
    available: true,
    describe,
    async publish(topic, payload, contentType) {
      await connected();
      const properties = clientOptions.protocolVersion === 5 && contentType ? { contentType } : undefined;
      await withTimeout(`publish to ${topic}`, (done) => client.publish(topic, payload, { qos: 1, properties }, (error) => done(error)));
    },
    async close() {
      await client.endAsync();
    },
  };
}

// Puts notifications together for one Kiln process: the MQTT broker (Kiln's own, or the one in
// KILN_MQTT_URL), the subscriptions service with its channels, and the websocket binding. The
// FHIR layer gets from it only the rule written Subscriptions meet and what the
// CapabilityStatement says; writes never call it (it reads the change feed).
import cluster from 'node:cluster';
import type { IncomingMessage, Server } from 'node:http';
import { SubscriptionService, WEBSOCKET_PATH } from '../subscriptions/subscription-service.js';
import { boundByToken, websocketHandshake } from '../subscriptions/operations.js';
import type { WebsocketBinder } from '../subscriptions/channels/websocket-hub.js';
import type { AuthService } from './auth/auth-service.js';
import { accessOfToken } from './auth/bearer.js';
import { InvalidToken } from './auth/tokens.js';
import type { Config } from './config.js';
import type { FhirContext } from './fhir/context.js';
import { FhirError } from './fhir/errors.js';
import { read } from './fhir/interactions/read.js';
import type { Logger } from './logger.js';
import { brokerAccess } from './mqtt/broker-access.js';
import { startMqtt, type KilnMqtt } from './mqtt/broker.js';
import { subscriptionRow } from './store/subscription-store.js';
import { subscriptionsOnTopic } from './store/mqtt-topic-store.js';

export interface Notifications {
  /** What the FHIR context gains: the Subscription rule and the CapabilityStatement's part. */
  context: Pick<FhirContext, 'contentRules' | 'notifications'>;
  /** Starts the loops and takes websocket upgrades on `http`. */
  start(http: Server): Promise<void>;
  stop(): Promise<void>;
}

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

/** The websocket URL under the FHIR base: http://host/fhir → ws://host/fhir/ws. */
export const websocketUrl = (baseUrl: string) => `${baseUrl.replace(/^http/, 'ws')}${WEBSOCKET_PATH.slice('/fhir'.length)}`;

/** Who may bind a websocket: with authorization on, a caller whose token reads the Subscription. */
function websocketBinder(ctx: () => FhirContext, auth: AuthService | undefined): WebsocketBinder {
  return {
    async mayBind(request: IncomingMessage, id: string) {
      // One answer for every refusal: whether the id exists is not told to a caller who may not read it.
      const refused = `Subscription/${id} is not a websocket subscription this connection may bind`;
      const kiln = ctx();
      const row = await subscriptionRow(kiln.db, id);
      if (!auth) return row?.channelType === 'websocket' ? undefined : refused;
      const bearer = BEARER.exec(request.headers.authorization ?? '');
      if (!bearer) return `${refused} (binding needs a bearer token on the connection, or bind-with-token from Subscription/$get-ws-binding-token)`;
      try {
        await read({ ...kiln, access: await accessOfToken(auth, bearer[1]) }, 'Subscription', id);
      } catch (error) {
        if (error instanceof FhirError || error instanceof InvalidToken) return refused;
        throw error;
      }
      return row?.channelType === 'websocket' ? undefined : refused;
    },
    async bindToken(token: string) {
      const ids = await boundByToken(ctx(), token);
      return ids?.length ? { ids } : { refused: 'the binding token is unknown or has expired' };
    },
    handshake: (id: string) => websocketHandshake(ctx(), id),
  };
}

async function mqttBroker(config: Config, logger: Logger, ctx: () => FhirContext, auth: AuthService | undefined): Promise<KilnMqtt | undefined> {
  // Several workers would each run a broker of their own on the shared port, and a notification
  // published on one would miss clients of another: they need one broker, named in KILN_MQTT_URL.
  if (!config.KILN_MQTT_URL && cluster.isWorker) {
    if (cluster.worker?.id === 1) logger.warn('MQTT is off: with several workers set KILN_MQTT_URL to a broker they share (KILN_WORKERS=1 runs Kiln\'s own)');
    return undefined;
  }
  const access = auth
    ? brokerAccess({ ctx: { ...ctx(), access: undefined }, auth, logger, subscriptionsOnTopic: (topic) => subscriptionsOnTopic(auth.db, topic) })
    : // With authorization off (local development) the broker is as open as the API.
      { authenticate: async () => ({}), maySubscribe: async () => true, mayPublish: async () => true };
  return startMqtt({ url: config.KILN_MQTT_URL, port: config.KILN_MQTT_PORT, host: config.HOST, logger, ...access });
}

export async function setUpNotifications(config: Config, logger: Logger, ctx: () => FhirContext, auth: AuthService | undefined): Promise<Notifications> {
  const mqtt = await mqttBroker(config, logger, ctx, auth);
  const service = new SubscriptionService({ config, logger, ctx, mqtt }, websocketBinder(ctx, auth));
  const channelTypes = ['rest-hook', 'websocket', ...(mqtt?.available ? ['mqtt'] : []), ...(config.KILN_SMTP_URL ? ['email'] : [])];
  return {
    context: {
      contentRules: new Map([['Subscription', service.contentRule]]),
      notifications: { websocketUrl: websocketUrl(ctx().baseUrl), topics: () => [...service.topics.current().keys()], channelTypes },
    },
    start: (http) => service.start(http),
    async stop() {
      await service.stop();
      await mqtt?.close();
    },
  };
}

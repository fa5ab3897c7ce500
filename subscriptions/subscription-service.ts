// Kiln's subscriptions, put together: the rule every written Subscription must meet, the topics,
// the channels, and the two loops that do the work (the change-feed consumer and delivery). The
// loops run in every process with KILN_NOTIFICATIONS=on and share the work through the database.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { Config } from '../server/config.js';
import type { FhirContext } from '../server/fhir/context.js';
import { FhirError, badRequest, unprocessable } from '../server/fhir/errors.js';
import { criterionCondition, UnknownParameter } from '../server/fhir/search/criteria.js';
import type { Logger } from '../server/logger.js';
import type { KilnMqtt } from '../server/mqtt/broker.js';
import { pruneChanges } from '../server/store/change-feed.js';
import { pruneEvents } from '../server/store/subscription-store.js';
import { subscriptionsOnTopics } from '../server/store/mqtt-topic-store.js';
import { isUnavailable } from '../server/store/unavailable.js';
import { emailChannel, mailtoAddresses } from './channels/email-channel.js';
import { mqttChannel, mqttTopic } from './channels/mqtt-channel.js';
import { restHookChannel } from './channels/rest-hook-channel.js';
import { WebsocketHub, type WebsocketBinder } from './channels/websocket-hub.js';
import { Delivery } from './delivery.js';
import { EndpointGuard } from './endpoint-guard.js';
import { dispatchOnce } from './feed-dispatcher.js';
import type { ChannelSender, SubscriptionPlan, TopicDefinition } from './model.js';
import { parseSubscription } from './parse-subscription.js';
import { TopicRegistry } from './topic-registry.js';

/** Where websocket clients connect, under the FHIR base as the CapabilityStatement says. */
export const WEBSOCKET_PATH = '/fhir/ws';
const FEED_BATCH = 500;
const DELIVERY_BATCH = 16;
const PRUNE_EVERY_MS = 10 * 60_000;

export interface SubscriptionServiceOptions {
  config: Config;
  logger: Logger;
  /** The FHIR context of Kiln's own work (no caller), once the server has made it. */
  ctx: () => FhirContext;
  mqtt?: KilnMqtt;
}

export class SubscriptionService {
  readonly topics: TopicRegistry;
  readonly guard: EndpointGuard;
  readonly hub: WebsocketHub;
  private readonly holder = `${process.pid}-${randomUUID()}`;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(
    private readonly options: SubscriptionServiceOptions,
    binder: WebsocketBinder,
  ) {
    this.topics = new TopicRegistry(options.ctx, options.logger);
    this.guard = new EndpointGuard(options.config.KILN_SUBSCRIPTION_ALLOW_HTTP);
    this.hub = new WebsocketHub(WEBSOCKET_PATH, binder);
  }

  /**
   * A Subscription as Kiln's plan, against the topics given; throws a FhirError naming the element.
   * `anyProcess`: judged for Kiln as a whole, not this process (the change-feed consumer keeps a
   * Subscription another process, with an SMTP server or a broker, accepted).
   */
  plan(resource: Subscription, topics: ReadonlyMap<string, TopicDefinition>, anyProcess = false): SubscriptionPlan {
    const { config, mqtt } = this.options;
    // R4: `active` and `error` are the server's to set. A client that sends them back unchanged (a
    // read, edited, put back) is asking for nothing new; Kiln's own status writes are the same.
    const status = resource.status === 'active' || resource.status === 'error' ? 'requested' : resource.status;
    const parsed = parseSubscription(
      { ...resource, status },
      {
        topics: new Map(topics),
        validCriteria: (type, query, expression) => this.validCriteria(type, query, expression),
        minHeartbeatSeconds: config.KILN_SUBSCRIPTION_MIN_HEARTBEAT_SECONDS,
        channels: anyProcess ? { email: true, mqtt: true } : { email: config.KILN_SMTP_URL !== undefined, mqtt: mqtt?.available === true },
        mqttTopic,
        mailtoAddresses,
      },
    );
    return { ...parsed, id: resource.id ?? parsed.id };
  }

  private validCriteria(type: string, query: string, expression: string): void {
    const ctx = this.options.ctx();
    const params = [...new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)];
    for (const [name, value] of params) {
      try {
        criterionCondition(type, name, value, ctx.baseUrl);
      } catch (error) {
        if (error instanceof UnknownParameter) throw badRequest(`${expression}: ${error.message}`, expression);
        if (error instanceof FhirError) throw new FhirError(error.status, error.issues.map((i) => ({ ...i, expression: [expression] })));
        throw error;
      }
    }
  }

  /** The rule every written Subscription meets (FhirContext.contentRules). */
  readonly contentRule = async (resource: Resource): Promise<void> => {
    const subscription = resource as Subscription;
    const criteria = subscription.criteria ?? '';
    const topics = /^[a-z][a-z0-9+.-]*:/i.test(criteria) ? await this.topics.including(criteria) : this.topics.current();
    const plan = this.plan(subscription, topics);
    if (plan.channel.type === 'rest-hook') {
      const refusal = this.guard.refusal(plan.channel.endpoint ?? '');
      if (refusal) throw unprocessable(`Subscription.channel.endpoint ${refusal}`, 'Subscription.channel.endpoint');
    }
  };

  private channels(): Map<string, ChannelSender> {
    const { config, mqtt } = this.options;
    const channels: ChannelSender[] = [restHookChannel(this.guard, config.KILN_SUBSCRIPTION_TIMEOUT_MS, 'Kiln'), this.hub.channel()];
    if (mqtt?.available) channels.push(mqttChannel(mqtt));
    if (config.KILN_SMTP_URL) channels.push(emailChannel({ smtpUrl: config.KILN_SMTP_URL, from: config.KILN_SMTP_FROM, timeoutMs: config.KILN_SUBSCRIPTION_TIMEOUT_MS }));
    return new Map(channels.map((c) => [c.type, c]));
  }

  /** Installs the built-in topics, takes websocket upgrades on `http`, and starts the loops. */
  async start(http: Server): Promise<void> {
    const { config, logger } = this.options;
    await this.topics.install();
    await this.topics.reload();
    this.hub.attach(http);
    if (config.KILN_NOTIFICATIONS === 'off') return;
    const channels = this.channels();
    const channelTypes = [...channels.keys()];
    const delivery = new Delivery({
      ctx: this.options.ctx(),
      logger,
      channels,
      holder: this.holder,
      scope: async () => {
        const topics = this.options.mqtt?.localTopics?.();
        return {
          channelTypes,
          websockets: this.hub.localSubscriptions(),
          mqtt: topics === undefined ? undefined : await subscriptionsOnTopics(this.options.ctx().db, topics),
        };
      },
      maxAttempts: config.KILN_SUBSCRIPTION_MAX_ATTEMPTS,
      retryBaseMs: config.KILN_SUBSCRIPTION_RETRY_BASE_MS,
      leaseSeconds: config.KILN_SUBSCRIPTION_LEASE_SECONDS,
      defaultMaxCount: 100,
    });
    const dispatchDeps = {
      ctx: this.options.ctx(),
      logger,
      batchSize: FEED_BATCH,
      topics: async () => this.topics.current(),
      parse: (resource: Subscription, topics: ReadonlyMap<string, TopicDefinition>) => this.plan(resource, topics, true),
    };
    const wakeDelivery = this.loop('delivering notifications', config.KILN_SUBSCRIPTION_POLL_MS, async () => (await delivery.deliverDue(DELIVERY_BATCH)) > 0);
    this.loop('reading the change feed for subscriptions', config.KILN_SUBSCRIPTION_POLL_MS, async () => {
      const { changes, events, topicsChanged } = await dispatchOnce(dispatchDeps);
      if (events > 0) wakeDelivery();
      if (topicsChanged) await this.topics.reload();
      return changes === FEED_BATCH || topicsChanged === true;
    });
    this.loop('removing old subscription events', PRUNE_EVERY_MS, async () => {
      const before = new Date(Date.now() - config.KILN_SUBSCRIPTION_EVENT_RETENTION_DAYS * 86_400_000);
      const db = this.options.ctx().db;
      await pruneEvents(db, before);
      await pruneChanges(db, before);
      return false;
    });
  }

  /**
   * Runs `pass` again and again: at once while it says there is more, else after `idleMs`, or as
   * soon as `wake` is called (the consumer wakes delivery when it has recorded events).
   */
  private loop(what: string, idleMs: number, pass: () => Promise<boolean>): () => void {
    const { logger } = this.options;
    // A failure that lasts (the database away) is told once a minute, not on every pass.
    let lastWarning = { text: '', at: 0 };
    const warn = (error: unknown) => {
      const text = error instanceof Error ? error.message : String(error);
      if (text === lastWarning.text && Date.now() - lastWarning.at < 60_000) return;
      lastWarning = { text, at: Date.now() };
      logger.warn(isUnavailable(error) ? { reason: text } : { err: error }, `${what} failed; trying again`);
    };
    let idle: NodeJS.Timeout | undefined;
    let busy = false;
    let wokenWhileBusy = false;
    const tick = () => {
      if (idle) this.timers.delete(idle);
      idle = undefined;
      if (this.stopped) return;
      busy = true;
      const run = pass().then(
        (more) => more,
        (error: unknown) => {
          warn(error);
          return false;
        },
      );
      this.running.add(run);
      void run.then((more) => {
        this.running.delete(run);
        busy = false;
        if (this.stopped) return;
        const again = more || wokenWhileBusy;
        wokenWhileBusy = false;
        idle = setTimeout(tick, again ? 0 : idleMs);
        this.timers.add(idle);
      });
    };
    tick();
    return () => {
      if (this.stopped) return;
      if (busy) wokenWhileBusy = true;
      else if (idle) {
        clearTimeout(idle);
        this.timers.delete(idle);
        tick();
      }
    };
  }

  /** Stops the loops once their passes end, and closes the websockets. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
    this.hub.close();
  }
}

// Delivery: any Kiln process leases subscriptions with something to send (server/store/
// subscription-store.ts leaseDue), and sends it in event order: the handshake that makes a
// requested subscription active, then its events (a backport Bundle of up to maxCount events, or
// one R4 notification per event), or a heartbeat when it has been idle. What was sent is recorded
// only after the channel took it, so a process that dies midway leaves it to be sent again once its
// lease runs out: at least once, in order, with the event number to tell a repeat. A failure is
// tried again later, each time twice as late, and after the last attempt the subscription is in
// `error`, still counting events for `$events`.
import type { Subscription } from '@medplum/fhirtypes';
import type { FhirContext } from '../server/fhir/context.js';
import { FhirError } from '../server/fhir/errors.js';
import { read } from '../server/fhir/interactions/read.js';
import { update } from '../server/fhir/interactions/update.js';
import type { Logger } from '../server/logger.js';
import { readFeedVersions, versionKey } from '../server/store/feed-versions.js';
import {
  leaseDue,
  markActive,
  markEnded,
  markFailed,
  markSent,
  readEvents,
  releaseLease,
  renewLease,
  type LeaseScope,
  type StoredEvent,
  type SubscriptionRow,
} from '../server/store/subscription-store.js';
import { storedPlan } from './feed-dispatcher.js';
import { DeliveryError, type ChannelSender, type Notification, type NotificationType, type OutgoingMessage, type SubscriptionEvent, type SubscriptionPlan } from './model.js';
import { notificationMessage, r4Payload } from './notification-bundle.js';

export interface DeliveryOptions {
  ctx: FhirContext;
  logger: Logger;
  channels: ReadonlyMap<string, ChannelSender>;
  /** This process, as lease holder. */
  holder: string;
  /** What this process can deliver: its channels, and the subscribers connected to it. */
  scope(): Promise<LeaseScope>;
  maxAttempts: number;
  /** The first retry comes this long after a failure; each next one twice as late. */
  retryBaseMs: number;
  leaseSeconds: number;
  /** Events in one backport notification when the subscription sets no maxCount. */
  defaultMaxCount: number;
}

/** Events read at once for a subscription (and their resources, in one statement). */
const EVENTS_PER_READ = 100;
/** How often, at most, a running delivery records how far it got. */
const SENT_RECORD_MS = 250;

/** The subscriptions that get a handshake before they are active: the backport ones, and R4 rest-hooks. */
const needsHandshake = (plan: SubscriptionPlan) => plan.channel.type !== 'websocket' && (plan.backport || plan.channel.type === 'rest-hook');

/** When attempt `attempts` (1, 2, …) failed: the time of the next, or undefined when it was the last. */
export function retryAt(attempts: number, options: Pick<DeliveryOptions, 'maxAttempts' | 'retryBaseMs'>, now = Date.now()): Date | undefined {
  if (attempts >= options.maxAttempts) return undefined;
  return new Date(now + options.retryBaseMs * 2 ** (attempts - 1));
}

export class Delivery {
  constructor(private readonly options: DeliveryOptions) {}

  private leases = 0;

  /** One pass: lease what is due and send it; resolves with the number of subscriptions served. */
  async deliverDue(limit = 16): Promise<number> {
    const { ctx, leaseSeconds } = this.options;
    // Each lease its own holder: a serve still running when its lease ran out (a stalled
    // endpoint) must not go on beside the next serve of the same subscription, even in this process.
    const holder = `${this.options.holder}-${++this.leases}`;
    const leased = await leaseDue(ctx.db, holder, limit, leaseSeconds, await this.options.scope());
    await Promise.all(leased.map((row) => this.serve(row, holder)));
    return leased.length;
  }

  private async serve(row: SubscriptionRow, holder: string): Promise<void> {
    const { ctx, logger } = this.options;
    const plan = storedPlan(row);
    try {
      if (plan.end && plan.end <= new Date()) {
        await markEnded(ctx.db, row.id, holder);
        await this.writeStatus(row.id, 'off');
        return;
      }
      let current = row;
      if (row.status === 'requested') {
        if (needsHandshake(plan)) await this.send(row, plan, this.message(plan, row, 'handshake', []));
        if (!(await markActive(ctx.db, row.id, holder))) return;
        await this.writeStatus(row.id, 'active');
        current = { ...row, status: 'active', deliveredThrough: row.deliveredThrough };
      }
      const sentEvents = await this.sendEvents(current, plan, holder);
      if (!sentEvents && row.status !== 'requested' && this.heartbeatDue(current, plan)) {
        await this.send(current, plan, this.message(plan, current, 'heartbeat', []));
        await markSent(ctx.db, row.id, holder, current.deliveredThrough);
      }
      await releaseLease(ctx.db, row.id, holder);
    } catch (error) {
      await this.failed(row, plan, holder, error).catch((failure: unknown) => logger.warn({ err: failure, subscription: row.id }, 'could not record a failed delivery'));
    }
  }

  private heartbeatDue(row: SubscriptionRow, plan: SubscriptionPlan): boolean {
    if (!plan.heartbeatSeconds) return false;
    const last = row.lastSent ?? row.activated;
    return !last || last.getTime() + plan.heartbeatSeconds * 1000 <= Date.now();
  }

  /**
   * Sends the events not yet delivered, in order; whether any were sent. They are read a batch at
   * a time with their resources; what was sent is recorded at least every SENT_RECORD_MS and at
   * the end (a process dying in between sends those again: at least once), and the lease is
   * renewed once a third of it has passed.
   */
  private async sendEvents(row: SubscriptionRow, plan: SubscriptionPlan, holder: string): Promise<boolean> {
    const { ctx, leaseSeconds } = this.options;
    let through = row.deliveredThrough;
    let recorded = through;
    let sent = false;
    let renewed = Date.now();
    let lastRecord = Date.now();
    const perMessage = plan.backport ? (plan.maxCount ?? this.options.defaultMaxCount) : 1;
    const record = async () => {
      if (through > recorded) await markSent(ctx.db, row.id, holder, through);
      recorded = through;
      lastRecord = Date.now();
    };
    try {
      while (through < row.eventsSinceStart) {
        const stored = await readEvents(ctx.db, row.id, through + 1, row.eventsSinceStart, Math.max(perMessage, EVENTS_PER_READ));
        // Events past the retention period are gone; what is left is sent, numbered as it was.
        if (!stored.length) {
          through = row.eventsSinceStart;
          return sent;
        }
        const events = await this.withResources(plan, stored);
        for (let i = 0; i < events.length; i += perMessage) {
          // A process that stalled past its lease leaves the rest to the one that holds it now.
          if (Date.now() - renewed > (leaseSeconds * 1000) / 3) {
            if (!(await renewLease(ctx.db, row.id, holder, leaseSeconds))) return sent;
            renewed = Date.now();
          }
          const chunk = events.slice(i, i + perMessage);
          const last = chunk[chunk.length - 1].eventNumber;
          await this.send({ ...row, eventsSinceStart: Math.max(row.eventsSinceStart, last) }, plan, this.message(plan, row, 'event-notification', chunk));
          through = last;
          sent = true;
          if (Date.now() - lastRecord >= SENT_RECORD_MS) await record();
        }
      }
      return sent;
    } finally {
      // Also when a send failed: what went before it was delivered.
      await record();
    }
  }

  /** The stored version of each event's focus, when the notification carries resources. */
  private async withResources(plan: SubscriptionPlan, stored: StoredEvent[]): Promise<SubscriptionEvent[]> {
    const carries = plan.backport ? plan.content === 'full-resource' : plan.channel.payload !== undefined;
    const versions = carries
      ? await readFeedVersions(this.options.ctx.db, stored.map((e) => ({ resourceType: e.resourceType, id: e.resourceId, versionId: e.versionId })))
      : new Map();
    return stored.map((e) => ({
      eventNumber: e.eventNumber,
      timestamp: e.occurred,
      focus: { resourceType: e.resourceType, id: e.resourceId, versionId: e.versionId },
      interaction: e.interaction,
      resource: versions.get(versionKey({ resourceType: e.resourceType, id: e.resourceId, versionId: e.versionId }))?.content ?? undefined,
    }));
  }

  private message(plan: SubscriptionPlan, row: SubscriptionRow, type: NotificationType, events: SubscriptionEvent[]): OutgoingMessage[] {
    const notification: Notification = { type, subscription: { ...plan, status: row.status }, eventsSinceSubscriptionStart: Math.max(row.eventsSinceStart, ...events.map((e) => e.eventNumber)), events };
    if (plan.backport) return [notificationMessage(notification, this.options.ctx.baseUrl, new Date())];
    // R4: websocket clients are told `ping {id}`; a rest-hook handshake is an empty POST.
    if (plan.channel.type === 'websocket') return events.map(() => ({ body: `ping ${plan.id}` }));
    if (type !== 'event-notification') return [{ body: '' }];
    return r4Payload(notification);
  }

  private async send(row: SubscriptionRow, plan: SubscriptionPlan, messages: OutgoingMessage[]): Promise<void> {
    const channel = this.options.channels.get(plan.channel.type);
    if (!channel) throw new DeliveryError(`Kiln has no ${plan.channel.type} channel running`, true);
    for (const message of messages) await channel.send(row.id, plan.channel, message);
  }

  private async failed(row: SubscriptionRow, plan: SubscriptionPlan, holder: string, error: unknown): Promise<void> {
    const { ctx, logger } = this.options;
    if (!(error instanceof DeliveryError)) {
      // Kiln's own trouble (the database away): the lease runs out and the work is tried again.
      logger.warn({ err: error, subscription: row.id }, 'delivery interrupted; it will be tried again');
      return;
    }
    const attempts = row.attempts + 1;
    // A refused endpoint, or a failed handshake, will not get better by waiting.
    const final = !error.retryable || row.status === 'requested';
    const next = final ? undefined : retryAt(attempts, this.options);
    const reason = row.status === 'requested' ? `The handshake failed: ${error.message}` : `${error.message} (attempt ${attempts} of ${this.options.maxAttempts})`;
    await markFailed(ctx.db, row.id, holder, { attempts, retryAt: next, error: reason });
    logger.warn({ subscription: row.id, channel: plan.channel.type, attempts, retryAt: next?.toISOString() }, next ? 'a notification could not be delivered; trying again later' : 'notifications keep failing: the subscription is now in error');
    if (!next) await this.writeStatus(row.id, 'error', reason);
  }

  /**
   * The Subscription resource says what Kiln decided (R4: the server sets active and error). Kiln
   * writes it as itself; a client's newer version wins, and the consumer keeps the state it has.
   */
  private async writeStatus(id: string, status: Subscription['status'], error?: string): Promise<void> {
    const kiln: FhirContext = { ...this.options.ctx, access: undefined };
    try {
      const current = await read(kiln, 'Subscription', id);
      const resource = JSON.parse(current.content) as Subscription;
      if (resource.status === status && resource.error === error) return;
      const next: Subscription = { ...resource, status };
      if (error) next.error = error;
      else delete next.error;
      await update(kiln, 'Subscription', id, next, { ifMatch: String(current.versionId) });
    } catch (failure) {
      // Deleted or changed meanwhile: the newer version decides.
      if (failure instanceof FhirError && [404, 410, 412].includes(failure.status)) return;
      this.options.logger.warn({ err: failure, subscription: id }, 'could not record the subscription status on the resource');
    }
  }
}

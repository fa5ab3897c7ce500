// The subscriptions consumer of the change feed (server/store/change-feed.ts). One Kiln process at
// a time holds the consumer's position; in one transaction it reads the next changes, keeps the
// Subscriptions among them (their plans and owners), records an event for each change a
// subscription matches, and moves the position past them. A rollback, or a process that dies
// midway, leaves the position where it was and nothing recorded: the next pass does it all again.
import type { Subscription } from '@medplum/fhirtypes';
import type { FhirContext } from '../server/fhir/context.js';
import type { Logger } from '../server/logger.js';
import { claimPosition, movePosition, readChanges, type FeedChange } from '../server/store/change-feed.js';
import type { Queryable } from '../server/store/database.js';
import { readFeedVersions } from '../server/store/feed-versions.js';
import { countingSubscriptions, forgetSubscription, recordEvents, saveSubscription, type NewEvent, type SubscriptionRow } from '../server/store/subscription-store.js';
import { matchChanges, type CountingSubscription } from './match-changes.js';
import type { SubscriptionPlan, TopicDefinition } from './model.js';

export const FEED_CONSUMER = 'subscriptions';

export interface DispatchDeps {
  ctx: FhirContext;
  logger: Logger;
  /** The topics subscriptions may name (built-in and Basic topic resources), as last read. */
  topics(): Promise<ReadonlyMap<string, TopicDefinition>>;
  /** A Subscription as Kiln's plan; throws when it is not one Kiln can serve. */
  parse(resource: Subscription, topics: ReadonlyMap<string, TopicDefinition>): SubscriptionPlan;
  /** Changes read per pass. */
  batchSize: number;
}

export interface DispatchResult {
  changes: number;
  events: number;
  /** A Basic changed: the topics must be read again before the next pass (which then goes on). */
  topicsChanged?: boolean;
}

/** A stored plan as the matcher needs it (JSON carries `end` as text). */
export function storedPlan(row: SubscriptionRow): SubscriptionPlan {
  const plan = row.plan as SubscriptionPlan & { end?: string | Date };
  return { ...plan, end: plan.end === undefined ? undefined : new Date(plan.end) };
}

async function counting(q: Queryable, now: Date): Promise<CountingSubscription[]> {
  return (await countingSubscriptions(q))
    .map((row) => ({ row, plan: storedPlan(row) }))
    .filter(({ plan }) => plan.end === undefined || plan.end > now);
}

/** A new version, or the deletion, of a Subscription: what the consumer keeps of it. */
async function keepSubscription(tx: Queryable, deps: DispatchDeps, change: FeedChange, topics: ReadonlyMap<string, TopicDefinition>): Promise<void> {
  if (change.interaction === 'delete') {
    await forgetSubscription(tx, change.id);
    return;
  }
  const version = (await readFeedVersions(tx, [{ resourceType: 'Subscription', id: change.id, versionId: change.versionId }])).values().next().value;
  if (!version?.content) return;
  const resource = JSON.parse(version.content) as Subscription;
  let plan: SubscriptionPlan;
  try {
    plan = deps.parse(resource, topics);
  } catch (error) {
    // Accepted when it was written, and no longer servable (a topic or channel gone since): it
    // counts nothing until a client writes a version Kiln can serve.
    deps.logger.warn({ subscription: change.id, reason: error instanceof Error ? error.message : String(error) }, 'a Subscription can no longer be served; it is off until it is updated');
    await forgetSubscription(tx, change.id);
    return;
  }
  await saveSubscription(tx, { id: change.id, versionId: change.versionId, plan, owner: change.actor, channelType: plan.channel.type, requested: resource.status as 'requested' });
}

/** One pass: the next changes of the feed, if no other process is reading them right now. */
export async function dispatchOnce(deps: DispatchDeps): Promise<DispatchResult> {
  const { ctx } = deps;
  return ctx.db.transaction(async (tx) => {
    const at = await claimPosition(tx, FEED_CONSUMER);
    if (!at) return { changes: 0, events: 0 };
    const changes = await readChanges(tx, at, deps.batchSize);
    if (!changes.length) return { changes: 0, events: 0 };
    const now = new Date();
    const topics = await deps.topics();
    let subscriptions = await counting(tx, now);
    let pending: FeedChange[] = [];
    // Every subscription's events of this pass, in feed order, recorded together at the end.
    const found = new Map<string, NewEvent[]>();
    const broken = (id: string, reason: string) => deps.logger.warn({ subscription: id, reason }, 'a subscription could not be matched against changes');
    // Changes before a Subscription's own change are matched against the subscriptions as they
    // were: a new subscription counts what happens after it, in feed order.
    const matchPending = async () => {
      for (const [id, events] of await matchChanges(tx, ctx, pending, subscriptions, topics, broken)) found.set(id, [...(found.get(id) ?? []), ...events]);
      pending = [];
    };
    let passed = changes.length;
    let topicsChanged = false;
    for (const [index, change] of changes.entries()) {
      if (change.resourceType === 'Subscription') {
        await matchPending();
        // A subscription changed or deleted here counts what came before with its previous plan.
        if (found.has(change.id)) {
          await recordEvents(tx, new Map([[change.id, found.get(change.id) as NewEvent[]]]));
          found.delete(change.id);
        }
        await keepSubscription(tx, deps, change, topics);
        subscriptions = await counting(tx, now);
        continue;
      }
      pending.push(change);
      if (change.resourceType === 'Basic') {
        // A topic may have been added or changed: the pass ends here, the topics are read again
        // once it has committed (outside it: the embedded database has one connection), and the
        // next pass meets the changes after it with the topics as they are now.
        passed = index + 1;
        topicsChanged = true;
        break;
      }
    }
    await matchPending();
    await recordEvents(tx, found);
    const recorded = [...found.values()].reduce((sum, events) => sum + events.length, 0);
    await movePosition(tx, FEED_CONSUMER, changes[passed - 1]);
    return { changes: passed, events: recorded, topicsChanged };
  });
}

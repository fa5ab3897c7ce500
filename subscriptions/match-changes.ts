// Which subscriptions each change of the feed notifies. A change is matched against the version it
// made (a deletion: against the version it ended), with the very SQL Kiln's search runs
// (server/store/search/version-match.ts), so a criteria subscription and a search with the same
// criteria agree. Topic triggers also look at the version before (queryCriteria.previous). Every
// condition is narrowed to what the subscription's owner may read, so a notification never tells
// its owner about a resource the owner could not read.
import type { Resource } from '@medplum/fhirtypes';
import { indexValues } from '../resources/search/index-values.js';
import { restrictSearchConditions } from '../server/fhir/access-checks.js';
import type { FhirContext } from '../server/fhir/context.js';
import { criterionCondition } from '../server/fhir/search/criteria.js';
import type { FeedChange } from '../server/store/change-feed.js';
import type { Queryable } from '../server/store/database.js';
import { readFeedVersions, versionKey, type FeedVersion, type VersionRef } from '../server/store/feed-versions.js';
import { and, type Condition } from '../server/store/search/condition.js';
import { versionsMatchingEach, type VersionValues } from '../server/store/search/version-match.js';
import type { NewEvent, SubscriptionRow } from '../server/store/subscription-store.js';
import type { SubscriptionPlan, TopicDefinition, TopicTrigger } from './model.js';
import { ownerContext, ownerRestriction } from './owner-access.js';

/** A subscription that counts events, with its parsed plan. */
export interface CountingSubscription {
  row: SubscriptionRow;
  plan: SubscriptionPlan;
}

const ALWAYS: Condition = { kind: 'not', condition: { kind: 'none' } };
/** Parameters that shape a response and select nothing. */
const RESULT_PARAMETERS = new Set(['_format', '_pretty', '_summary', '_elements', '_count', '_sort', '_total', '_include', '_revinclude']);

/** A query string (`code=…&subject=…`) as conditions on `type`, chains held to what `ownerCtx` may search. */
export function queryCondition(ownerCtx: FhirContext, type: string, query: string): Condition {
  const conditions: Condition[] = [];
  for (const [name, value] of new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)) {
    if (!RESULT_PARAMETERS.has(name)) conditions.push(criterionCondition(type, name, value, ownerCtx.baseUrl));
  }
  return conditions.length ? and(restrictSearchConditions(ownerCtx, conditions)) : ALWAYS;
}

/** One question asked of one version: does it meet this condition? */
interface Check {
  condition: Condition;
  index: number;
}

/** How one subscription decides one change of its type: which checks of which versions must hold. */
type Decision = (change: FeedChange, hit: (check: Check | undefined, version: 'focus' | 'previous') => boolean) => boolean;

/** The version a change is judged on: the one it made, or for a deletion the one it ended. */
export const focusRef = (change: FeedChange): VersionRef =>
  change.interaction === 'delete' ? { resourceType: change.resourceType, id: change.id, versionId: change.versionId - 1 } : { resourceType: change.resourceType, id: change.id, versionId: change.versionId };

const previousRef = (change: FeedChange): VersionRef | undefined =>
  change.versionId > 1 ? { resourceType: change.resourceType, id: change.id, versionId: change.versionId - 1 } : undefined;

function versionValues(version: FeedVersion): VersionValues {
  return {
    id: version.id,
    content: version.content as string,
    lastUpdated: version.lastUpdated,
    patientCompartment: version.patientCompartment,
    columns: indexValues(JSON.parse(version.content as string) as Resource),
  };
}

/** How a topic trigger decides a change (R5 SubscriptionTopic.resourceTrigger.queryCriteria). */
function triggerDecision(trigger: TopicTrigger, current: Check | undefined, previous: Check | undefined, reach: Check | undefined): Decision {
  return (change, hit) => {
    if (!trigger.interactions.includes(change.interaction)) return false;
    if (!hit(reach, 'focus')) return false;
    if (change.interaction === 'create') return hit(current, 'focus');
    // A deletion has no current version: `current` fails (resultForDelete test-fails), and the
    // version it ended is judged against `previous`.
    if (change.interaction === 'delete') return !(trigger.requireBoth && current) && hit(previous, 'focus');
    // An update: the new version against `current`, the one before against `previous`.
    const now = hit(current, 'focus');
    if (!previous) return now;
    const before = hit(previous, 'previous');
    return trigger.requireBoth ? now && before : now || before;
  };
}

/**
 * The events each subscription gets from `changes` (none of them a Subscription), in feed order.
 * A subscription whose conditions can no longer be built (a search parameter it names was
 * removed) gets none, and `onBroken` hears why.
 */
export async function matchChanges(
  q: Queryable,
  ctx: FhirContext,
  changes: FeedChange[],
  subscriptions: CountingSubscription[],
  topics: ReadonlyMap<string, TopicDefinition>,
  onBroken: (subscriptionId: string, reason: string) => void,
): Promise<Map<string, NewEvent[]>> {
  const events = new Map<string, NewEvent[]>();
  if (!changes.length || !subscriptions.length) return events;
  const types = new Set(changes.map((c) => c.resourceType));
  const refs = changes.flatMap((c) => [focusRef(c), ...(c.interaction === 'update' && previousRef(c) ? [previousRef(c) as VersionRef] : [])]).filter((r) => r.versionId > 0);
  const versions = await readFeedVersions(q, refs);

  for (const type of types) {
    const checks: Condition[] = [];
    const check = (condition: Condition | undefined): Check | undefined => (condition ? { condition, index: checks.push(condition) - 1 } : undefined);
    const deciders: { id: string; decide: Decision }[] = [];
    for (const { row, plan } of subscriptions) {
      try {
        const ownerCtx = ownerContext(ctx, row.owner);
        const restriction = ownerRestriction(ownerCtx, type);
        if (restriction === null) continue;
        const reach = check(restriction);
        if (plan.selector.kind === 'criteria') {
          if (plan.selector.resourceType !== type) continue;
          const criteria = check(queryCondition(ownerCtx, type, plan.selector.query));
          deciders.push({ id: row.id, decide: (_change, hit) => hit(reach, 'focus') && hit(criteria, 'focus') });
          continue;
        }
        const topic = topics.get(plan.selector.topic);
        if (!topic) continue;
        const filters = plan.selector.filters.filter((f) => f.resourceType === type).map((f) => queryCondition(ownerCtx, type, f.query));
        const filter = check(filters.length ? and(filters) : undefined);
        const triggers = topic.triggers
          .filter((t) => t.resourceType === type)
          .map((t) => triggerDecision(t, check(t.current ? queryCondition(ownerCtx, type, t.current) : undefined), check(t.previous ? queryCondition(ownerCtx, type, t.previous) : undefined), reach));
        if (!triggers.length) continue;
        deciders.push({ id: row.id, decide: (change, hit) => hit(filter, 'focus') && triggers.some((decide) => decide(change, hit)) });
      } catch (error) {
        onBroken(row.id, error instanceof Error ? error.message : String(error));
      }
    }
    if (!deciders.length) continue;

    const ofType = changes.filter((c) => c.resourceType === type);
    const judged = [...new Map(ofType.flatMap((c) => [focusRef(c), previousRef(c)]).filter((r): r is VersionRef => !!r).map((r) => [versionKey(r), versions.get(versionKey(r))])).values()].filter(
      (v): v is FeedVersion => !!v && v.content !== null,
    );
    const answers = await versionsMatchingEach(q, type, judged.map(versionValues), checks);
    const byKey = new Map(judged.map((v, i) => [versionKey(v), answers[i]]));
    for (const change of ofType) {
      const focus = byKey.get(versionKey(focusRef(change)));
      // A version that cannot be judged (no content) matches nothing.
      if (!focus) continue;
      const previous = previousRef(change);
      const before = previous && byKey.get(versionKey(previous));
      const hit = (c: Check | undefined, which: 'focus' | 'previous') => (c === undefined ? true : (which === 'focus' ? focus : before)?.[c.index] === true);
      for (const { id, decide } of deciders) {
        if (!decide(change, hit)) continue;
        const list = events.get(id) ?? [];
        list.push({ resourceType: change.resourceType, resourceId: change.id, versionId: change.versionId, interaction: change.interaction, occurred: change.recorded });
        events.set(id, list);
      }
    }
  }
  // Events of one subscription across types, back in feed order.
  const order = new Map(changes.map((c, i) => [`${c.resourceType}/${c.id}/${c.versionId}`, i]));
  for (const list of events.values()) list.sort((a, b) => (order.get(`${a.resourceType}/${a.resourceId}/${a.versionId}`) ?? 0) - (order.get(`${b.resourceType}/${b.resourceId}/${b.versionId}`) ?? 0));
  return events;
}

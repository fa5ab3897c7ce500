// SQL of the subscriptions consumer (subscriptions/): each subscription's state, the events
// recorded for it (numbered from 1, in feed order), and the leases through which one Kiln process
// at a time delivers a subscription's notifications, in order.
import type { FeedActor, FeedInteraction } from './change-feed.js';
import type { Queryable } from './database.js';

export type StoredStatus = 'requested' | 'active' | 'error' | 'off';

export interface SubscriptionRow {
  id: string;
  versionId: number;
  /** The parsed subscription (subscriptions/model.ts SubscriptionPlan), as JSON. */
  plan: unknown;
  owner: FeedActor | null;
  channelType: string;
  status: StoredStatus;
  error: string | null;
  eventsSinceStart: number;
  deliveredThrough: number;
  attempts: number;
  lastSent: Date | null;
  activated: Date | null;
}

interface Row {
  id: string;
  version_id: number;
  plan: unknown;
  owner: unknown;
  channel_type: string;
  status: StoredStatus;
  error: string | null;
  events_since_start: string | number;
  delivered_through: string | number;
  attempts: number;
  last_sent: Date | null;
  activated: Date | null;
}

const json = (value: unknown) => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value);

const toRow = (row: Row): SubscriptionRow => ({
  id: row.id,
  versionId: row.version_id,
  plan: json(row.plan),
  owner: json(row.owner) as FeedActor | null,
  channelType: row.channel_type,
  status: row.status,
  error: row.error,
  eventsSinceStart: Number(row.events_since_start),
  deliveredThrough: Number(row.delivered_through),
  attempts: row.attempts,
  lastSent: row.last_sent,
  activated: row.activated,
});

const COLUMNS = 'id, version_id, plan, owner, channel_type, status, error, events_since_start, delivered_through, attempts, last_sent, activated';

export async function subscriptionRow(q: Queryable, id: string): Promise<SubscriptionRow | undefined> {
  const result = await q.query<Row>(`SELECT ${COLUMNS} FROM kiln_subscription WHERE id = $1`, [id]);
  return result.rows[0] && toRow(result.rows[0]);
}

/** Subscriptions that still count events: requested, active, and in error (the client may catch up). */
export async function countingSubscriptions(q: Queryable): Promise<SubscriptionRow[]> {
  const result = await q.query<Row>(`SELECT ${COLUMNS} FROM kiln_subscription WHERE status <> 'off'`);
  return result.rows.map(toRow);
}

/**
 * A new version of a Subscription: its plan and owner. The status a client asks for counts when
 * it is `requested` (start again: a new handshake, the error forgotten) or `off`; `active` and
 * `error` are Kiln's to set, so a version Kiln itself wrote (which never says `requested`) changes
 * nothing of the state. Kiln's own writes carry no owner and keep the one recorded.
 */
export async function saveSubscription(
  tx: Queryable,
  row: { id: string; versionId: number; plan: unknown; owner: FeedActor | null; channelType: string; requested: StoredStatus },
): Promise<void> {
  await tx.query(
    `INSERT INTO kiln_subscription (id, version_id, plan, owner, channel_type, status)
     VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, CASE WHEN $6 = 'off' THEN 'off' ELSE 'requested' END)
     ON CONFLICT (id) DO UPDATE SET
       version_id = excluded.version_id, plan = excluded.plan, channel_type = excluded.channel_type,
       owner = CASE WHEN $4::jsonb IS NULL THEN kiln_subscription.owner ELSE excluded.owner END,
       status = CASE WHEN $6 = 'off' THEN 'off'
                     WHEN $6 = 'requested' THEN 'requested'
                     ELSE kiln_subscription.status END,
       error = CASE WHEN $6 = 'requested' THEN NULL ELSE kiln_subscription.error END,
       attempts = CASE WHEN $6 = 'requested' THEN 0 ELSE kiln_subscription.attempts END,
       next_attempt = CASE WHEN $6 = 'requested' THEN now() ELSE kiln_subscription.next_attempt END`,
    [row.id, row.versionId, JSON.stringify(row.plan), row.owner ? JSON.stringify(row.owner) : null, row.channelType, row.requested],
  );
}

/** A deleted Subscription: nothing more is counted or sent. */
export async function forgetSubscription(tx: Queryable, id: string): Promise<void> {
  await tx.query('DELETE FROM kiln_subscription_event WHERE subscription_id = $1', [id]);
  await tx.query('DELETE FROM kiln_subscription WHERE id = $1', [id]);
}

export interface NewEvent {
  resourceType: string;
  resourceId: string;
  versionId: number;
  interaction: FeedInteraction;
  occurred: Date;
}

/**
 * Records events for several subscriptions at once, each numbered after the ones it has, in the
 * order given: two statements whatever their number, so that the consumer holds the subscription
 * rows (which delivery also updates) for as short a time as it can.
 */
export async function recordEvents(tx: Queryable, bySubscription: ReadonlyMap<string, NewEvent[]>): Promise<void> {
  const entries = [...bySubscription].filter(([, events]) => events.length);
  if (!entries.length) return;
  const counted = await tx.query<{ id: string; events_since_start: string | number }>(
    `UPDATE kiln_subscription s SET events_since_start = s.events_since_start + c.added
     FROM unnest($1::text[], $2::int[]) AS c (id, added) WHERE s.id = c.id
     RETURNING s.id, s.events_since_start`,
    [entries.map(([id]) => id), entries.map(([, events]) => events.length)],
  );
  const last = new Map(counted.rows.map((row) => [row.id, Number(row.events_since_start)]));
  const rows = entries.flatMap(([id, events]) => {
    const end = last.get(id);
    // A subscription deleted meanwhile has no row to count in: nothing is recorded for it.
    if (end === undefined) return [];
    const first = end - events.length + 1;
    return events.map((e, i) => ({ subscription_id: id, event_number: first + i, resource_type: e.resourceType, resource_id: e.resourceId, version_id: e.versionId, interaction: e.interaction, occurred: e.occurred.toISOString() }));
  });
  if (!rows.length) return;
  await tx.query(
    `INSERT INTO kiln_subscription_event (subscription_id, event_number, resource_type, resource_id, version_id, interaction, occurred)
     SELECT subscription_id, event_number, resource_type, resource_id, version_id, interaction, occurred
     FROM jsonb_to_recordset($1::jsonb) AS e (subscription_id text, event_number bigint, resource_type text, resource_id text, version_id int, interaction text, occurred timestamptz)`,
    [JSON.stringify(rows)],
  );
}

export interface StoredEvent extends NewEvent {
  eventNumber: number;
}

/** Events `from`…`to` (inclusive) still kept, in order. */
export async function readEvents(q: Queryable, subscriptionId: string, from: number, to: number, limit: number): Promise<StoredEvent[]> {
  const result = await q.query<{ event_number: string | number; resource_type: string; resource_id: string; version_id: number; interaction: FeedInteraction; occurred: Date }>(
    `SELECT event_number, resource_type, resource_id, version_id, interaction, occurred FROM kiln_subscription_event
     WHERE subscription_id = $1 AND event_number BETWEEN $2 AND $3 ORDER BY event_number LIMIT $4`,
    [subscriptionId, from, to, limit],
  );
  return result.rows.map((row) => ({
    eventNumber: Number(row.event_number),
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    versionId: row.version_id,
    interaction: row.interaction,
    occurred: row.occurred,
  }));
}

/**
 * Leases up to `limit` subscriptions with something to do now (a handshake, events, a heartbeat
 * due) to `holder` for `leaseSeconds`: no other process sends for them meanwhile, and if this one
 * dies the lease runs out and another takes over. Only a process that can reach the subscriber
 * leases: one with the channel, and for websockets (and MQTT on a broker of its own) one whose
 * subscriber is connected to it.
 */
export interface LeaseScope {
  /** The channel types this process sends on: a subscription on another is left to a process that has it. */
  channelTypes: string[];
  /** Subscriptions with a websocket bound on this process. */
  websockets: string[];
  /** With a broker of this process's own: the MQTT subscriptions its clients listen for (undefined: any). */
  mqtt?: string[];
}

export async function leaseDue(q: Queryable, holder: string, limit: number, leaseSeconds: number, scope: LeaseScope): Promise<SubscriptionRow[]> {
  const result = await q.query<Row>(
    `UPDATE kiln_subscription s SET lease_until = now() + make_interval(secs => $2), lease_holder = $4
     WHERE s.id IN (
       SELECT id FROM kiln_subscription
       WHERE status IN ('requested', 'active') AND (lease_until IS NULL OR lease_until < now()) AND next_attempt <= now()
         AND channel_type = ANY($5::text[])
         AND (channel_type <> 'websocket' OR status = 'requested' OR id = ANY($3::text[]))
         AND (channel_type <> 'mqtt' OR $6::text[] IS NULL OR status = 'requested' OR id = ANY($6::text[]))
         AND (status = 'requested' OR delivered_through < events_since_start
              OR ((plan->>'heartbeatSeconds') IS NOT NULL AND COALESCE(last_sent, activated) + make_interval(secs => (plan->>'heartbeatSeconds')::int) <= now())
              OR ((plan->>'end') IS NOT NULL AND (plan->>'end')::timestamptz <= now()))
       ORDER BY next_attempt LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING ${COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}`,
    [limit, leaseSeconds, scope.websockets, holder, scope.channelTypes, scope.mqtt ?? null],
  );
  return result.rows.map(toRow);
}

/**
 * Whether `holder` still holds the lease of `id`, extended by `leaseSeconds`: checked before each
 * message, so that a process that stalled past its lease does not send what another now sends.
 */
export async function renewLease(q: Queryable, id: string, holder: string, leaseSeconds: number): Promise<boolean> {
  const result = await q.query('UPDATE kiln_subscription SET lease_until = now() + make_interval(secs => $3) WHERE id = $1 AND lease_holder = $2 AND lease_until > now()', [id, holder, leaseSeconds]);
  return result.rowCount > 0;
}

/** Gives the lease back: the subscription may be leased again at once. */
export async function releaseLease(q: Queryable, id: string, holder: string): Promise<void> {
  // To the back of the queue (leaseDue takes the longest waiting first): every subscription gets its turn.
  await q.query('UPDATE kiln_subscription SET lease_until = NULL, lease_holder = NULL, next_attempt = now() WHERE id = $1 AND lease_holder = $2', [id, holder]);
}

/** The handshake went through (or the channel needs none): active from now on. */
export async function markActive(q: Queryable, id: string, holder: string): Promise<boolean> {
  const result = await q.query(
    "UPDATE kiln_subscription SET status = 'active', activated = now(), last_sent = now(), attempts = 0, error = NULL WHERE id = $1 AND lease_holder = $2 AND status = 'requested'",
    [id, holder],
  );
  return result.rowCount > 0;
}

/** Events up to `through` (or only a heartbeat, with `through` unchanged) were sent. */
export async function markSent(q: Queryable, id: string, holder: string, through: number): Promise<void> {
  await q.query('UPDATE kiln_subscription SET delivered_through = GREATEST(delivered_through, $3), last_sent = now(), attempts = 0, error = NULL WHERE id = $1 AND lease_holder = $2', [id, holder, through]);
}

/** A failed attempt: tried again at `retryAt`, or given up (`error`) with the reason. */
export async function markFailed(q: Queryable, id: string, holder: string, failure: { attempts: number; retryAt?: Date; error: string }): Promise<void> {
  await q.query(
    `UPDATE kiln_subscription SET attempts = $3, next_attempt = COALESCE($4, next_attempt), lease_until = NULL, lease_holder = NULL, error = $5,
       status = CASE WHEN $4::timestamptz IS NULL THEN 'error' ELSE status END
     WHERE id = $1 AND lease_holder = $2`,
    [id, holder, failure.attempts, failure.retryAt ?? null, failure.error],
  );
}

/** The subscription's `end` has come: off, nothing more counted or sent. */
export async function markEnded(q: Queryable, id: string, holder: string): Promise<void> {
  await q.query("UPDATE kiln_subscription SET status = 'off', lease_until = NULL, lease_holder = NULL WHERE id = $1 AND lease_holder = $2", [id, holder]);
}

/** A websocket binding token: its hash, the subscriptions it binds, and when it stops working. */
export async function saveBindingToken(q: Queryable, hash: string, subscriptionIds: string[], expires: Date): Promise<void> {
  await q.query('DELETE FROM kiln_websocket_token WHERE expires < now()');
  await q.query('INSERT INTO kiln_websocket_token (hash, subscription_ids, expires) VALUES ($1, $2::text[], $3)', [hash, subscriptionIds, expires]);
}

/** The subscriptions a binding token binds, if it is known and not expired. */
export async function bindingTokenSubscriptions(q: Queryable, hash: string): Promise<string[] | undefined> {
  const result = await q.query<{ subscription_ids: string[] }>('SELECT subscription_ids FROM kiln_websocket_token WHERE hash = $1 AND expires > now()', [hash]);
  return result.rows[0]?.subscription_ids;
}

/** Events recorded before `before` are no longer kept. */
export async function pruneEvents(q: Queryable, before: Date): Promise<number> {
  return (await q.query('DELETE FROM kiln_subscription_event WHERE occurred < $1', [before])).rowCount;
}

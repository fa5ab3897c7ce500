// The change feed: every committed write, whatever path it came by, as one row of kiln_change
// written in the version's own statement (resource-store.ts writeVersion, create-batch.ts). It is
// what subscriptions, and later bulk export's _since and reminders, consume.
//
// Guarantees (server/README.md, "The change feed"):
// - a row exists exactly when its version committed: a rolled-back write leaves none;
// - readers see the rows in one total order, (transaction id, sequence), and never skip one: a
//   reader is only shown rows of transactions older than the oldest transaction still running
//   (pg_snapshot_xmin), so a transaction that commits late is read before any younger one, and a
//   reader that has moved past a sequence number still gets every row below its cursor later;
// - each consumer keeps its position in kiln_feed_cursor, claimed with FOR UPDATE SKIP LOCKED, so
//   that of several Kiln processes one at a time advances it, and a position moves only in the
//   same transaction as the work done for the rows it passes.
import type { Queryable } from './database.js';

export type FeedInteraction = 'create' | 'update' | 'delete';

/** Who made a change: the caller a token authorised (absent for Kiln's own work, or with authorization off). */
export interface FeedActor {
  role: string;
  subject: string;
  clientId: string;
  fhirUser: string | null;
  /** The patient the caller was confined to. */
  patient?: string;
  /** The token's resource scopes, as written. */
  scopes: string[];
}

/** A place in the feed: after the row with this transaction id and sequence number. */
export interface FeedPosition {
  xid: string;
  seq: string;
}

export interface FeedChange extends FeedPosition {
  resourceType: string;
  id: string;
  versionId: number;
  interaction: FeedInteraction;
  recorded: Date;
  actor: FeedActor | null;
}

export const FEED_START: FeedPosition = { xid: '0', seq: '0' };

interface ChangeRow {
  xid: string;
  seq: string;
  resource_type: string;
  id: string;
  version_id: number;
  interaction: FeedInteraction;
  recorded: Date;
  actor: FeedActor | null;
}

/** Up to `limit` changes after `after`, of transactions that have all ended, in feed order. */
export async function readChanges(q: Queryable, after: FeedPosition, limit: number): Promise<FeedChange[]> {
  const result = await q.query<ChangeRow>(
    `SELECT xid::text AS xid, seq::text AS seq, resource_type, id, version_id, interaction, recorded, actor FROM kiln_change
     WHERE (xid, seq) > ($1::xid8, $2::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY xid, seq LIMIT $3`,
    [after.xid, after.seq, limit],
  );
  return result.rows.map((row) => ({
    xid: row.xid,
    seq: row.seq,
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    interaction: row.interaction,
    recorded: row.recorded,
    actor: (typeof row.actor === 'string' ? JSON.parse(row.actor) : row.actor) as FeedActor | null,
  }));
}

/**
 * The consumer's position, locked until `tx` ends; undefined when another process holds it (it is
 * doing this consumer's work right now). A new consumer starts from the feed's current end: it
 * is told of what happens from now on.
 */
export async function claimPosition(tx: Queryable, consumer: string): Promise<FeedPosition | undefined> {
  const claim = async () =>
    (await tx.query<{ xid: string; seq: string }>('SELECT xid::text AS xid, seq::text AS seq FROM kiln_feed_cursor WHERE consumer = $1 FOR UPDATE SKIP LOCKED', [consumer])).rows[0];
  const claimed = await claim();
  if (claimed) return claimed;
  // Skipped: held by another process, or not there yet. Only a consumer seen for the first time
  // is written (an insert meeting a held row would wait for its holder rather than skip it).
  if ((await tx.query('SELECT 1 FROM kiln_feed_cursor WHERE consumer = $1', [consumer])).rows.length) return undefined;
  await tx.query(
    `INSERT INTO kiln_feed_cursor (consumer, xid, seq)
     SELECT $1, COALESCE(max(xid), '0'::xid8), COALESCE(max(seq), 0) FROM kiln_change
     ON CONFLICT (consumer) DO NOTHING`,
    [consumer],
  );
  return claim();
}

export async function movePosition(tx: Queryable, consumer: string, to: FeedPosition): Promise<void> {
  await tx.query('UPDATE kiln_feed_cursor SET xid = $2::xid8, seq = $3::bigint WHERE consumer = $1', [consumer, to.xid, to.seq]);
}

/**
 * Removes changes recorded before `before` that every consumer has passed: the feed keeps what a
 * consumer has yet to read, however old.
 */
export async function pruneChanges(q: Queryable, before: Date): Promise<number> {
  const result = await q.query(
    `DELETE FROM kiln_change c WHERE c.recorded < $1
     AND NOT EXISTS (SELECT 1 FROM kiln_feed_cursor f WHERE (c.xid, c.seq) > (f.xid, f.seq))`,
    [before],
  );
  return result.rowCount;
}

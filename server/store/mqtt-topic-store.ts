// Which Subscriptions send to an MQTT topic: what Kiln's broker asks before it lets a client
// subscribe there. A channel endpoint names its topic bare or as `mqtt://host:port/topic` with the
// topic percent-encoded, so the query narrows to the subscriptions that may name it, and
// `mqttTopic` reads each endpoint exactly as the MQTT channel does.
import { mqttTopic } from '../mqtt/topics.js';
import type { Queryable } from './database.js';

/** Ids of the Subscriptions, not switched off, whose MQTT channel publishes to `topic`. */
export async function subscriptionsOnTopic(q: Queryable, topic: string): Promise<string[]> {
  const result = await q.query<{ id: string; endpoint: string }>(
    `SELECT id, plan->'channel'->>'endpoint' AS endpoint FROM kiln_subscription
     WHERE channel_type = 'mqtt' AND status <> 'off'
       AND (plan->'channel'->>'endpoint' = $1 OR plan->'channel'->>'endpoint' ILIKE 'mqtt://%')
     ORDER BY id`,
    [topic],
  );
  return result.rows.filter((row) => mqttTopic(row.endpoint) === topic).map((row) => row.id);
}

/** Ids of the Subscriptions whose MQTT channel publishes to one of `topics`. */
export async function subscriptionsOnTopics(q: Queryable, topics: string[]): Promise<string[]> {
  if (!topics.length) return [];
  const wanted = new Set(topics);
  const result = await q.query<{ id: string; endpoint: string }>(
    `SELECT id, plan->'channel'->>'endpoint' AS endpoint FROM kiln_subscription
     WHERE channel_type = 'mqtt' AND status <> 'off' AND (plan->'channel'->>'endpoint' = ANY($1::text[]) OR plan->'channel'->>'endpoint' ILIKE 'mqtt://%')`,
    [topics],
  );
  return result.rows.filter((row) => wanted.has(mqttTopic(row.endpoint) ?? '')).map((row) => row.id);
}

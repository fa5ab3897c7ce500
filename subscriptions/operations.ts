// The backport IG's operations on a Subscription (hl7.org/fhir/uv/subscriptions-backport/STU1.1):
// `$status` (where it stands), `$events` (the events it counted, also those a client missed) and
// `$get-ws-binding-token` (a short-lived token that binds a websocket to it). Each first reads the
// Subscription as the caller, so a caller who may not read it learns nothing, not even that it exists.
import { createHash, randomBytes } from 'node:crypto';
import type { Bundle, Parameters } from '@medplum/fhirtypes';
import type { FhirContext } from '../server/fhir/context.js';
import { FhirError, invalidValue, unprocessable } from '../server/fhir/errors.js';
import { read, vread } from '../server/fhir/interactions/read.js';
import { bindingTokenSubscriptions, readEvents, saveBindingToken, subscriptionRow, type SubscriptionRow } from '../server/store/subscription-store.js';
import { storedPlan } from './feed-dispatcher.js';
import type { ContentLevel, Notification, SubscriptionEvent, SubscriptionPlan } from './model.js';
import { eventsBundle, notificationMessage, statusParameters } from './notification-bundle.js';

/** Most events one `$events` answers with; a client pages with eventsSinceNumber. */
export const MAX_EVENTS_PER_CALL = 1000;
/** How long a websocket binding token binds. */
export const BINDING_TOKEN_SECONDS = 120;

/** The Subscription as Kiln keeps it, after the caller has been shown to read it. */
async function readable(ctx: FhirContext, id: string): Promise<{ row: SubscriptionRow | undefined; plan?: SubscriptionPlan }> {
  await read(ctx, 'Subscription', id);
  const row = await subscriptionRow(ctx.db, id);
  return { row, plan: row && storedPlan(row) };
}

function notKept(id: string): FhirError {
  return unprocessable(`Subscription/${id} is not one Kiln notifies (it is off, or was written before it could be served); update it with status "requested"`);
}

function notification(row: SubscriptionRow, plan: SubscriptionPlan, type: Notification['type'], events: SubscriptionEvent[]): Notification {
  return { type, subscription: { ...plan, status: row.status }, eventsSinceSubscriptionStart: row.eventsSinceStart, events, ...(row.error ? { error: row.error } : {}) };
}

export async function subscriptionStatus(ctx: FhirContext, id: string): Promise<Bundle> {
  const { row, plan } = await readable(ctx, id);
  if (!row || !plan) throw notKept(id);
  const status = statusParameters(notification(row, plan, 'query-status', []), ctx.baseUrl);
  return { resourceType: 'Bundle', type: 'searchset', total: 1, entry: [{ fullUrl: `urn:uuid:${status.id}`, resource: status, search: { mode: 'match' } }] };
}

function wholeNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[0-9]{1,15}$/.test(value)) throw invalidValue(`${name} must be a whole number`, name);
  return Number(value);
}

const CONTENT: ReadonlySet<string> = new Set(['empty', 'id-only', 'full-resource']);

/** `$events?eventsSinceNumber=&eventsUntilNumber=&content=`: the events kept, as a query-event Bundle. */
export async function subscriptionEvents(ctx: FhirContext, id: string, params: URLSearchParams): Promise<Bundle> {
  const since = wholeNumber(params.get('eventsSinceNumber') ?? undefined, 'eventsSinceNumber') ?? 1;
  const untilAsked = wholeNumber(params.get('eventsUntilNumber') ?? undefined, 'eventsUntilNumber');
  const content = params.get('content') ?? undefined;
  if (content !== undefined && !CONTENT.has(content)) throw invalidValue('content must be empty, id-only or full-resource', 'content');
  const { row, plan } = await readable(ctx, id);
  if (!row || !plan) throw notKept(id);
  const until = Math.min(untilAsked ?? row.eventsSinceStart, row.eventsSinceStart);
  const level = (content ?? plan.content) as ContentLevel;
  const stored = until >= since ? await readEvents(ctx.db, id, since, until, MAX_EVENTS_PER_CALL) : [];
  const events: SubscriptionEvent[] = [];
  for (const e of stored) {
    let resource: string | undefined;
    // Full resources only as the caller may read them now, each checked as a vread of that version.
    if (level === 'full-resource' && e.interaction !== 'delete') {
      try {
        resource = (await vread(ctx, e.resourceType, e.resourceId, String(e.versionId))).content;
      } catch (error) {
        if (!(error instanceof FhirError)) throw error;
      }
    }
    events.push({ eventNumber: e.eventNumber, timestamp: e.occurred, focus: { resourceType: e.resourceType, id: e.resourceId, versionId: e.versionId }, interaction: e.interaction, resource });
  }
  return eventsBundle(notification(row, { ...plan, content: level }, 'query-event', events), ctx.baseUrl, new Date());
}

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** `$get-ws-binding-token`: a token for `bind-with-token` on the websocket, bound to this subscription. */
export async function websocketBindingToken(ctx: FhirContext, id: string, websocketUrl: string): Promise<Parameters> {
  const { row, plan } = await readable(ctx, id);
  if (!row || !plan) throw notKept(id);
  if (plan.channel.type !== 'websocket') throw unprocessable(`Subscription/${id} does not use the websocket channel`, 'Subscription.channel.type');
  const token = randomBytes(32).toString('base64url');
  const expires = new Date(Date.now() + BINDING_TOKEN_SECONDS * 1000);
  await saveBindingToken(ctx.db, tokenHash(token), [id], expires);
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'token', valueString: token },
      { name: 'expiration', valueDateTime: expires.toISOString() },
      { name: 'subscription', valueString: id },
      { name: 'websocket-url', valueUrl: websocketUrl },
    ],
  };
}

/** The subscriptions a binding token binds (websocket `bind-with-token`). */
export async function boundByToken(ctx: FhirContext, token: string): Promise<string[] | undefined> {
  return bindingTokenSubscriptions(ctx.db, tokenHash(token));
}

/** The handshake a websocket gets for a subscription it bound. */
export async function websocketHandshake(ctx: FhirContext, id: string): Promise<string | undefined> {
  const row = await subscriptionRow(ctx.db, id);
  if (!row) return undefined;
  const plan = storedPlan(row);
  return notificationMessage(notification(row, plan, 'handshake', []), ctx.baseUrl, new Date()).body;
}

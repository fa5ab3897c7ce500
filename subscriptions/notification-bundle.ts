// What a notification says. Backport subscriptions get the IG's R4 notification Bundle
// (hl7.org/fhir/uv/subscriptions-backport/STU1.1, profiles backport-subscription-notification-r4 and
// backport-subscription-status-r4, examples Bundle/r4-notification-*); plain R4 subscriptions get
// the R4 payload: nothing, or the resource itself (hl7.org/fhir/R4/subscription.html#2.46.7).
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import type { FeedInteraction } from '../server/store/change-feed.js';
import type { Notification, NotificationType, OutgoingMessage, SubscriptionEvent } from './model.js';

export const SUBSCRIPTION_STATUS_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4';
const DEFAULT_CONTENT_TYPE = 'application/fhir+json';

const subscriptionUrl = (n: Notification, baseUrl: string) => `${baseUrl}/Subscription/${n.subscription.id}`;
const focusUrl = (event: SubscriptionEvent, baseUrl: string) => `${baseUrl}/${event.focus.resourceType}/${event.focus.id}`;

function eventParameter(event: SubscriptionEvent, n: Notification, baseUrl: string): ParametersParameter {
  const part: ParametersParameter[] = [
    // R4 has no integer64: the IG carries event numbers as strings.
    { name: 'event-number', valueString: String(event.eventNumber) },
    { name: 'timestamp', valueInstant: event.timestamp.toISOString() },
  ];
  // The IG: with `empty` content, notificationEvent.focus SHALL NOT be present.
  if (n.subscription.content !== 'empty') part.push({ name: 'focus', valueReference: { reference: focusUrl(event, baseUrl) } });
  return { name: 'notification-event', part };
}

function buildStatus(n: Notification, type: NotificationType, baseUrl: string): Parameters {
  const { subscription } = n;
  const parameter: ParametersParameter[] = [{ name: 'subscription', valueReference: { reference: subscriptionUrl(n, baseUrl) } }];
  // The IG: topic SHOULD NOT be present with `empty` content (it can reveal what happened), and a
  // criteria-based subscription has no topic to name.
  if (subscription.selector.kind === 'topic' && subscription.content !== 'empty') {
    parameter.push({ name: 'topic', valueCanonical: subscription.selector.topic });
  }
  // A handshake reports the status as it is (the IG's handshake example says `requested`).
  parameter.push({ name: 'status', valueCode: subscription.status }, { name: 'type', valueCode: type });
  parameter.push({ name: 'events-since-subscription-start', valueString: String(n.eventsSinceSubscriptionStart) });
  parameter.push(...n.events.map((event) => eventParameter(event, n, baseUrl)));
  if (n.error !== undefined) parameter.push({ name: 'error', valueCodeableConcept: { text: n.error } });
  return { resourceType: 'Parameters', id: randomUUID(), meta: { profile: [SUBSCRIPTION_STATUS_PROFILE] }, parameter };
}

// What the change was, as the history entry a client would have seen for it.
const REQUESTS: Record<FeedInteraction, { method: 'POST' | 'PUT' | 'DELETE'; status: string }> = {
  create: { method: 'POST', status: '201' },
  update: { method: 'PUT', status: '200' },
  delete: { method: 'DELETE', status: '204' },
};

function eventEntry(event: SubscriptionEvent, n: Notification, baseUrl: string): BundleEntry {
  const { resourceType, id, versionId } = event.focus;
  const request = REQUESTS[event.interaction];
  const entry: BundleEntry = {
    fullUrl: focusUrl(event, baseUrl),
    request: { method: request.method, url: event.interaction === 'create' ? resourceType : `${resourceType}/${id}` },
    response: { status: request.status, etag: `W/"${versionId}"`, lastModified: event.timestamp.toISOString() },
  };
  // A deleted resource has no content; its entry keeps request and response, as in a history Bundle.
  if (n.subscription.content === 'full-resource' && event.resource !== undefined) {
    entry.resource = JSON.parse(event.resource) as Resource;
  }
  return entry;
}

function buildBundle(n: Notification, type: NotificationType, baseUrl: string, now: Date): Bundle {
  const status = buildStatus(n, type, baseUrl);
  const statusEntry: BundleEntry = {
    fullUrl: `urn:uuid:${status.id}`,
    resource: status,
    // The IG: the status entry's request is the `$status` call that would return it.
    request: { method: 'GET', url: `${subscriptionUrl(n, baseUrl)}/$status` },
    response: { status: '200' },
  };
  // The IG: with `empty` content, no entry but the status.
  const events = n.subscription.content === 'empty' ? [] : n.events.map((event) => eventEntry(event, n, baseUrl));
  return { resourceType: 'Bundle', type: 'history', timestamp: now.toISOString(), entry: [statusEntry, ...events] };
}

/** The notification Bundle of a backport subscription, as its channel sends it. */
export function notificationMessage(n: Notification, baseUrl: string, now: Date): OutgoingMessage {
  return { contentType: n.subscription.channel.payload ?? DEFAULT_CONTENT_TYPE, body: JSON.stringify(buildBundle(n, n.type, baseUrl, now)) };
}

/** The subscription's status, as `$status` answers it. */
export function statusParameters(n: Notification, baseUrl: string): Parameters {
  return buildStatus(n, 'query-status', baseUrl);
}

/** The subscription's events, as `$events` answers them. */
export function eventsBundle(n: Notification, baseUrl: string, now: Date): Bundle {
  return buildBundle(n, 'query-event', baseUrl, now);
}

/**
 * The plain R4 notifications: one per event. Without a payload the endpoint is called with an
 * empty body. With one, the body is the resource; a deletion has no resource left to send, so it
 * too is an empty body, without a content type that would claim otherwise. Handshakes and
 * heartbeats are not R4 notifications: they carry no event and so produce no message.
 */
export function r4Payload(n: Notification): OutgoingMessage[] {
  const payload = n.subscription.channel.payload;
  return n.events.map((event) => {
    if (payload === undefined || event.resource === undefined) return { body: '' };
    return { contentType: payload, body: event.resource };
  });
}

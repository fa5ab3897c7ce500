// What the parts of Kiln's subscriptions share (hl7.org/fhir/R4/subscription.html and the
// Subscriptions R5 Backport IG for R4, hl7.org/fhir/uv/subscriptions-backport/STU1.1): a
// subscription as Kiln understands it once parsed, the notifications it is sent, and the message a
// channel carries. The feed reader, the matcher, the notification builder and the channels speak
// these types and nothing of each other's insides.
import type { FeedInteraction } from '../server/store/change-feed.js';

export type ChannelType = 'rest-hook' | 'websocket' | 'email' | 'mqtt';
export type ContentLevel = 'empty' | 'id-only' | 'full-resource';
export type SubscriptionStatus = 'requested' | 'active' | 'error' | 'off';

export interface ChannelPlan {
  type: ChannelType;
  /** rest-hook: an https URL; email: mailto:; mqtt: a topic, or mqtt://host:port/topic on Kiln's broker. */
  endpoint?: string;
  /** rest-hook: `Name: value` lines sent as HTTP headers. */
  headers: string[];
  /** A MIME type (`application/fhir+json`), or undefined for no payload. */
  payload?: string;
}

/** One filter of a topic-based subscription (backport-filter-criteria: `Type?param[:modifier]=value`). */
export interface TopicFilter {
  resourceType: string;
  /** The search parameter, as written in the topic's canFilterBy. */
  parameter: string;
  /** The search request text `param[:modifier]=value` that Kiln's search evaluates. */
  query: string;
}

/** How a subscription selects changes: an R4 search, or a topic and its filters. */
export type Selector =
  | { kind: 'criteria'; resourceType: string; query: string }
  | { kind: 'topic'; topic: string; filters: TopicFilter[] };

export interface SubscriptionPlan {
  id: string;
  status: SubscriptionStatus;
  selector: Selector;
  channel: ChannelPlan;
  /** Notifications are backport Bundles (a topic-based or backport-profiled subscription); else plain R4 payloads. */
  backport: boolean;
  content: ContentLevel;
  heartbeatSeconds?: number;
  timeoutSeconds?: number;
  maxCount?: number;
  /** After this the subscription is over (Subscription.end). */
  end?: Date;
}

/** A trigger of a topic: which changes of which type fire it (SubscriptionTopic.resourceTrigger). */
export interface TopicTrigger {
  resourceType: string;
  interactions: FeedInteraction[];
  /** Search criteria the new version must meet (`queryCriteria.current`), and the old one (`previous`). */
  current?: string;
  previous?: string;
  /** `queryCriteria.requireBoth`: both must hold; otherwise either. */
  requireBoth?: boolean;
}

export interface TopicDefinition {
  /** The canonical URL a subscription's criteria names. */
  url: string;
  title: string;
  description: string;
  triggers: TopicTrigger[];
  /** What subscribers may filter on (SubscriptionTopic.canFilterBy). */
  canFilterBy: { resourceType: string; parameter: string; description?: string }[];
}

/** One event of a subscription, numbered from 1 in the order Kiln saw the changes. */
export interface SubscriptionEvent {
  eventNumber: number;
  timestamp: Date;
  focus: { resourceType: string; id: string; versionId: number };
  interaction: FeedInteraction;
  /** The focus as stored (JSON text), present for full-resource content and R4 payloads. */
  resource?: string;
}

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

export interface Notification {
  type: NotificationType;
  subscription: SubscriptionPlan;
  /** Every event of the subscription so far, delivered or not. */
  eventsSinceSubscriptionStart: number;
  events: SubscriptionEvent[];
  /** What went wrong, for a subscription in `error`. */
  error?: string;
}

/** What a channel carries: a body and its content type (none for an empty R4 notification). */
export interface OutgoingMessage {
  contentType?: string;
  body: string;
}

/** A delivery that failed: `retryable` false for a refusal no retry can change (a 4xx of the endpoint). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Sends messages on one kind of channel. */
export interface ChannelSender {
  readonly type: ChannelType;
  send(subscriptionId: string, channel: ChannelPlan, message: OutgoingMessage): Promise<void>;
}

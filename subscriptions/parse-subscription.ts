// From a Subscription resource to the plan Kiln runs (hl7.org/fhir/R4/subscription.html and the
// backport-subscription profile of hl7.org/fhir/uv/subscriptions-backport/STU1.1). Every refusal is
// a FhirError naming the element: 400 for what is malformed, 422 for what Kiln does not support.
import type { Extension, Subscription, SubscriptionChannel } from '@medplum/fhirtypes';
import { badRequest, invalidValue, unprocessable } from '../server/fhir/errors.js';
import { isResourceType } from '../resources/definitions.js';
import type { ChannelPlan, ChannelType, ContentLevel, Selector, SubscriptionPlan, SubscriptionStatus, TopicDefinition, TopicFilter } from './model.js';

export interface ParseEnv {
  /** The topics a subscription may name, by canonical URL. */
  topics: Map<string, TopicDefinition>;
  /** Throws a FhirError (400) naming `expression` when `query` is not a valid Kiln search for the type. */
  validCriteria(resourceType: string, query: string, expression: string): void;
  minHeartbeatSeconds: number;
  /** email: KILN_SMTP_URL is set; mqtt: a broker is available. */
  channels: { email: boolean; mqtt: boolean };
  mqttTopic(endpoint: string): string | undefined;
  mailtoAddresses(endpoint: string): string[] | undefined;
  /** Endpoint reachability and SSRF checks belong to the caller, not to parsing. */
  checkEndpoint?: never;
}

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/';
export const BACKPORT_SUBSCRIPTION_PROFILE = `${BACKPORT}backport-subscription`;
const FILTER_CRITERIA = `${BACKPORT}backport-filter-criteria`;
const PAYLOAD_CONTENT = `${BACKPORT}backport-payload-content`;
const HEARTBEAT_PERIOD = `${BACKPORT}backport-heartbeat-period`;
const TIMEOUT = `${BACKPORT}backport-timeout`;
const MAX_COUNT = `${BACKPORT}backport-max-count`;
const CHANNEL_TYPE = `${BACKPORT}backport-channel-type`;
export const KILN_CHANNEL_TYPE_SYSTEM = 'http://kiln.dev/fhir/CodeSystem/subscription-channel-type';

const CONTENT_LEVELS: readonly ContentLevel[] = ['empty', 'id-only', 'full-resource'];
// RFC 9110 §5.6.2 token.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §5.5 field-value: visible characters, spaces and tabs; no CR, LF or other controls.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\uffff]*$/;
// Headers the HTTP client owns: a subscriber setting them would corrupt or redirect the request.
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection']);
const JSON_PAYLOADS = new Set(['application/fhir+json', 'application/json']);

/** The extensions on a primitive (`_name` in JSON), which @medplum/fhirtypes does not declare. */
function primitiveExtensions(holder: object, name: string): Extension[] {
  const element = (holder as Record<string, unknown>)[`_${name}`] as { extension?: Extension[] } | undefined;
  return element?.extension ?? [];
}

interface Located {
  extension: Extension;
  path: string;
}

function withUrl(extensions: Extension[], url: string, path: string): Located[] {
  return extensions.flatMap((extension, i) => (extension.url === url ? [{ extension, path: `${path}.extension[${i}]` }] : []));
}

function single(extensions: Extension[], url: string, path: string): Located | undefined {
  const found = withUrl(extensions, url, path);
  if (found.length > 1) throw invalidValue(`${url} may appear once`, found[1].path);
  return found[0];
}

function parseStatus(status: Subscription['status'] | undefined): SubscriptionStatus {
  // R4: the client asks with `requested` (or `off`); `active` and `error` are the server's to set.
  if (status === 'requested' || status === 'off') return status;
  if (status === 'active' || status === 'error') throw unprocessable(`A client sets status requested or off; "${status}" is set by the server`, 'Subscription.status');
  throw invalidValue('Subscription.status is required', 'Subscription.status');
}

// `Type?query` never starts with a URI scheme: the `?` comes before any `:`.
const isCanonicalUrl = (criteria: string) => /^[a-z][a-z0-9+.-]*:/i.test(criteria);

/**
 * One backport filter. The IG's examples write `Type?param=value`; its prose also allows
 * `param=value` and `Type.param=value`. A filter of several `&`-joined parameters is several filters.
 */
function parseFilter(text: string, topic: TopicDefinition, path: string, env: ParseEnv): TopicFilter[] {
  let type: string | undefined;
  let query = text;
  const question = text.indexOf('?');
  if (question >= 0) {
    type = text.slice(0, question);
    query = text.slice(question + 1);
  } else {
    const dotted = /^([A-Z][A-Za-z]*)\.(.*)$/.exec(text);
    if (dotted && isResourceType(dotted[1])) [, type, query] = dotted;
  }
  if (type !== undefined && !isResourceType(type)) throw invalidValue(`Filter "${text}": "${type}" is not a resource type`, path);
  const terms = query.split('&').filter((term) => term !== '');
  if (!terms.length) throw invalidValue(`Filter "${text}" has no parameter`, path);
  return terms.map((term) => {
    const equals = term.indexOf('=');
    if (equals <= 0) throw invalidValue(`Filter "${text}": "${term}" is not param=value`, path);
    const parameter = term.slice(0, equals).split(':')[0];
    const allowed = topic.canFilterBy.filter((f) => f.parameter === parameter && (type === undefined || f.resourceType === type));
    const types = [...new Set(allowed.map((f) => f.resourceType))];
    if (!types.length) throw unprocessable(`Topic ${topic.url} cannot be filtered by "${parameter}"${type ? ` on ${type}` : ''}`, path);
    if (types.length > 1) throw unprocessable(`Filter "${text}": "${parameter}" is offered for ${types.join(', ')}; write Type?${term}`, path);
    env.validCriteria(types[0], term, path);
    return { resourceType: types[0], parameter, query: term };
  });
}

function parseSelector(subscription: Subscription, env: ParseEnv): Selector {
  const criteria = subscription.criteria;
  if (!criteria) throw invalidValue('Subscription.criteria is required', 'Subscription.criteria');
  const filterExtensions = withUrl(primitiveExtensions(subscription, 'criteria'), FILTER_CRITERIA, 'Subscription.criteria');
  if (isCanonicalUrl(criteria)) {
    const topic = env.topics.get(criteria);
    if (!topic) throw unprocessable(`Unknown subscription topic ${criteria}`, 'Subscription.criteria');
    const filters = filterExtensions.flatMap(({ extension, path }) => {
      if (typeof extension.valueString !== 'string') throw invalidValue('backport-filter-criteria needs a valueString', path);
      return parseFilter(extension.valueString, topic, path, env);
    });
    return { kind: 'topic', topic: topic.url, filters };
  }
  if (filterExtensions.length) throw unprocessable('Filter criteria apply to topic-based subscriptions only', filterExtensions[0].path);
  const question = criteria.indexOf('?');
  const resourceType = question < 0 ? criteria : criteria.slice(0, question);
  const query = question < 0 ? '' : criteria.slice(question + 1);
  if (!isResourceType(resourceType)) throw invalidValue(`Subscription.criteria: "${resourceType}" is not a resource type`, 'Subscription.criteria');
  env.validCriteria(resourceType, query, 'Subscription.criteria');
  return { kind: 'criteria', resourceType, query };
}

function parseChannelType(channel: SubscriptionChannel): { type: ChannelType; expression: string } {
  const custom = single(primitiveExtensions(channel, 'type'), CHANNEL_TYPE, 'Subscription.channel.type');
  if (custom) {
    const coding = custom.extension.valueCoding;
    if (coding?.system === KILN_CHANNEL_TYPE_SYSTEM && coding.code === 'mqtt') return { type: 'mqtt', expression: custom.path };
    throw unprocessable(`Channel type ${coding?.system ?? ''}#${coding?.code ?? ''} is not supported by Kiln`, custom.path);
  }
  const type = channel.type as string | undefined;
  if (type === 'rest-hook' || type === 'websocket' || type === 'email') return { type, expression: 'Subscription.channel.type' };
  if (type === 'message' || type === 'sms') throw unprocessable(`Channel type ${type} is not supported by Kiln`, 'Subscription.channel.type');
  throw invalidValue(`Unknown channel type "${type ?? ''}"`, 'Subscription.channel.type');
}

function parseEndpoint(type: ChannelType, typeExpression: string, endpoint: string | undefined, env: ParseEnv): string | undefined {
  const expression = 'Subscription.channel.endpoint';
  switch (type) {
    case 'websocket':
      // The client connects to Kiln; an endpoint would never be called.
      return undefined;
    case 'rest-hook': {
      let url: URL | undefined;
      try {
        url = endpoint ? new URL(endpoint) : undefined;
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw invalidValue('A rest-hook endpoint must be an absolute http(s) URL', expression);
      return endpoint;
    }
    case 'email':
      if (!env.channels.email) throw unprocessable('Email notifications are off on this server: KILN_SMTP_URL is not set', typeExpression);
      if (!endpoint || !env.mailtoAddresses(endpoint)?.length) throw invalidValue('An email endpoint must be a mailto: URL with an address', expression);
      return endpoint;
    case 'mqtt':
      if (!env.channels.mqtt) throw unprocessable('MQTT notifications are off on this server: no broker is available', typeExpression);
      if (!endpoint || env.mqttTopic(endpoint) === undefined) throw invalidValue('An mqtt endpoint must name a topic on Kiln’s broker', expression);
      return endpoint;
  }
}

function parsePayload(payload: string | undefined): string | undefined {
  if (payload === undefined) return undefined;
  const [mediaType, ...parameters] = payload.split(';').map((part) => part.trim());
  if (!JSON_PAYLOADS.has(mediaType.toLowerCase())) throw unprocessable(`Payload "${payload}" is not supported: Kiln sends JSON only`, 'Subscription.channel.payload');
  for (const parameter of parameters) {
    const [name, value = ''] = parameter.split('=').map((part) => part.trim().toLowerCase());
    // The IG: a fhirVersion the server cannot send is refused, not ignored.
    if (name === 'fhirversion' && (value === '4.0' || value === '4.0.1')) continue;
    if (name === 'charset' && value === 'utf-8') continue;
    throw unprocessable(`Payload parameter "${parameter}" is not supported: Kiln sends FHIR 4.0 in UTF-8`, 'Subscription.channel.payload');
  }
  return payload;
}

function parseHeaders(headers: string[] | undefined): string[] {
  return (headers ?? []).map((header, i) => {
    const expression = `Subscription.channel.header[${i}]`;
    const colon = header.indexOf(':');
    const name = colon < 0 ? '' : header.slice(0, colon);
    const value = colon < 0 ? '' : header.slice(colon + 1);
    if (!HEADER_NAME.test(name)) throw invalidValue(`Header "${header}" is not "Name: value" with a valid HTTP header name`, expression);
    if (!HEADER_VALUE.test(value)) throw invalidValue(`Header ${name} has control characters in its value`, expression);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw unprocessable(`Header ${name} is set by Kiln and may not be given`, expression);
    return `${name}: ${value.trim()}`;
  });
}

function parseContent(channel: SubscriptionChannel, backport: boolean, payload: string | undefined): ContentLevel {
  // Plain R4: a payload means the resource is sent; none means an empty notification.
  if (!backport) return payload ? 'full-resource' : 'empty';
  const content = single(primitiveExtensions(channel, 'payload'), PAYLOAD_CONTENT, 'Subscription.channel.payload');
  if (content) {
    const code = content.extension.valueCode as ContentLevel | undefined;
    if (!code || !CONTENT_LEVELS.includes(code)) throw invalidValue(`Unknown payload content "${content.extension.valueCode ?? ''}"`, content.path);
    return code;
  }
  // The profile requires the extension; without it Kiln sends what the IG calls the balance between
  // security and effort (id-only), or nothing when no payload was asked for, as R4 would.
  return payload ? 'id-only' : 'empty';
}

function unsignedExtension(channel: SubscriptionChannel, url: string, minimum: number): { value: number; path: string } | undefined {
  const found = single(channel.extension ?? [], url, 'Subscription.channel');
  if (!found) return undefined;
  const value = minimum > 0 ? found.extension.valuePositiveInt : found.extension.valueUnsignedInt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw invalidValue(`${url} needs ${minimum > 0 ? 'a valuePositiveInt' : 'a valueUnsignedInt'}`, found.path);
  }
  return { value, path: found.path };
}

function parseEnd(end: string | undefined): Date | undefined {
  if (end === undefined) return undefined;
  const date = new Date(end);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(end) || Number.isNaN(date.getTime())) throw invalidValue(`Subscription.end "${end}" is not an instant`, 'Subscription.end');
  return date;
}

/** The plan for `subscription`, or a FhirError naming the first element Kiln cannot accept. */
export function parseSubscription(subscription: Subscription, env: ParseEnv): SubscriptionPlan {
  if (!subscription.id) throw badRequest('The Subscription has no id', 'Subscription.id');
  const status = parseStatus(subscription.status);
  const selector = parseSelector(subscription, env);
  const backport = selector.kind === 'topic' || (subscription.meta?.profile ?? []).includes(BACKPORT_SUBSCRIPTION_PROFILE);
  const source = subscription.channel as SubscriptionChannel | undefined;
  if (!source) throw invalidValue('Subscription.channel is required', 'Subscription.channel');
  const { type, expression: typeExpression } = parseChannelType(source);
  const payload = parsePayload(source.payload);
  const channel: ChannelPlan = { type, headers: parseHeaders(source.header) };
  const endpoint = parseEndpoint(type, typeExpression, source.endpoint, env);
  if (endpoint !== undefined) channel.endpoint = endpoint;
  if (payload !== undefined) channel.payload = payload;
  const plan: SubscriptionPlan = { id: subscription.id, status, selector, channel, backport, content: parseContent(source, backport, payload) };
  const heartbeat = unsignedExtension(source, HEARTBEAT_PERIOD, 0);
  if (heartbeat) {
    if (heartbeat.value < env.minHeartbeatSeconds) throw unprocessable(`The heartbeat period must be at least ${env.minHeartbeatSeconds} seconds`, heartbeat.path);
    plan.heartbeatSeconds = heartbeat.value;
  }
  const timeout = unsignedExtension(source, TIMEOUT, 0);
  if (timeout) plan.timeoutSeconds = timeout.value;
  const maxCount = unsignedExtension(source, MAX_COUNT, 1);
  if (maxCount) plan.maxCount = maxCount.value;
  const end = parseEnd(subscription.end);
  if (end) plan.end = end;
  return plan;
}

import type { Subscription } from '@medplum/fhirtypes';
import { FhirError, invalidValue } from '../server/fhir/errors.js';
import { loadValidation } from '../resources/validate.js';
import { BUILT_IN_TOPICS } from './topics.js';
import { parseSubscription, type ParseEnv } from './parse-subscription.js';

const BP = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/';
const OBSERVATION_TOPIC = 'http://kiln.dev/fhir/SubscriptionTopic/observation-changed';
const ALERT_TOPIC = 'http://kiln.dev/fhir/SubscriptionTopic/urgent-alert';

beforeAll(() => loadValidation());

const checkedQueries: [string, string, string][] = [];

function env(overrides: Partial<ParseEnv> = {}): ParseEnv {
  return {
    topics: new Map(BUILT_IN_TOPICS.map((t) => [t.url, t])),
    // Stands in for Kiln's search parser, which refuses any query mentioning "bogus".
    validCriteria(resourceType, query, expression) {
      checkedQueries.push([resourceType, query, expression]);
      if (query.includes('bogus')) throw invalidValue('Kiln search refuses this query', expression);
    },
    minHeartbeatSeconds: 30,
    channels: { email: true, mqtt: true },
    mqttTopic: (endpoint) => (endpoint.startsWith('kiln/') ? endpoint : undefined),
    mailtoAddresses: (endpoint) => (endpoint.startsWith('mailto:') ? endpoint.slice(7).split(',').filter(Boolean) : undefined),
    ...overrides,
  };
}

const r4 = (extra: Partial<Subscription> = {}): Subscription => ({
  resourceType: 'Subscription',
  id: 'sub1',
  status: 'requested',
  reason: 'test',
  criteria: 'Observation?code=http://loinc.org|1234-5',
  channel: { type: 'rest-hook', endpoint: 'https://client.example/hook' },
  ...extra,
});

// The IG's "subscription-admission" example, pointed at a Kiln topic.
const backport = (extra: Record<string, unknown> = {}, channelExtra: Record<string, unknown> = {}): Subscription =>
  ({
    resourceType: 'Subscription',
    id: 'sub2',
    status: 'requested',
    reason: 'test',
    criteria: OBSERVATION_TOPIC,
    _criteria: { extension: [{ url: `${BP}backport-filter-criteria`, valueString: 'Observation?patient=Patient/123' }] },
    channel: {
      type: 'rest-hook',
      endpoint: 'https://client.example/hook',
      extension: [
        { url: `${BP}backport-heartbeat-period`, valueUnsignedInt: 86400 },
        { url: `${BP}backport-timeout`, valueUnsignedInt: 60 },
        { url: `${BP}backport-max-count`, valuePositiveInt: 20 },
      ],
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BP}backport-payload-content`, valueCode: 'id-only' }] },
      ...channelExtra,
    },
    ...extra,
  }) as Subscription;

function refusal(subscription: Subscription, environment = env()): FhirError {
  try {
    parseSubscription(subscription, environment);
  } catch (error) {
    if (error instanceof FhirError) return error;
    throw error;
  }
  throw new Error('the Subscription was accepted');
}

describe('parseSubscription accepts', () => {
  it('an R4 criteria subscription without payload as an empty, non-backport plan', () => {
    checkedQueries.length = 0;
    expect(parseSubscription(r4({ end: '2030-01-01T00:00:00Z', channel: { type: 'rest-hook', endpoint: 'https://client.example/hook', header: ['Authorization: Bearer abc'] } }), env())).toEqual({
      id: 'sub1',
      status: 'requested',
      selector: { kind: 'criteria', resourceType: 'Observation', query: 'code=http://loinc.org|1234-5' },
      channel: { type: 'rest-hook', endpoint: 'https://client.example/hook', headers: ['Authorization: Bearer abc'] },
      backport: false,
      content: 'empty',
      end: new Date('2030-01-01T00:00:00Z'),
    });
    expect(checkedQueries).toEqual([['Observation', 'code=http://loinc.org|1234-5', 'Subscription.criteria']]);
  });

  it('an R4 subscription with a payload as full-resource', () => {
    const plan = parseSubscription(r4({ status: 'off', criteria: 'Patient', channel: { type: 'rest-hook', endpoint: 'http://client.example/', payload: 'application/json' } }), env());
    expect(plan).toMatchObject({ status: 'off', selector: { kind: 'criteria', resourceType: 'Patient', query: '' }, content: 'full-resource', channel: { payload: 'application/json' } });
  });

  it('a criteria subscription with the backport profile as a backport plan', () => {
    const plan = parseSubscription(r4({ meta: { profile: [`${BP}backport-subscription`] }, channel: { type: 'websocket', endpoint: 'wss://ignored', payload: 'application/fhir+json' } }), env());
    expect(plan).toMatchObject({ backport: true, content: 'id-only', channel: { type: 'websocket', headers: [] } });
    expect(plan.channel.endpoint).toBeUndefined();
  });

  it('the IG admission example shape: topic, filter, heartbeat, timeout, max count, id-only', () => {
    checkedQueries.length = 0;
    expect(parseSubscription(backport(), env())).toEqual({
      id: 'sub2',
      status: 'requested',
      selector: { kind: 'topic', topic: OBSERVATION_TOPIC, filters: [{ resourceType: 'Observation', parameter: 'patient', query: 'patient=Patient/123' }] },
      channel: { type: 'rest-hook', endpoint: 'https://client.example/hook', headers: [], payload: 'application/fhir+json' },
      backport: true,
      content: 'id-only',
      heartbeatSeconds: 86400,
      timeoutSeconds: 60,
      maxCount: 20,
    });
    expect(checkedQueries).toEqual([['Observation', 'patient=Patient/123', 'Subscription.criteria.extension[0]']]);
  });

  it('filters written param=value, Type.param=value, with a modifier, or several joined by &', () => {
    const filters = (...texts: string[]) => ({ extension: texts.map((valueString) => ({ url: `${BP}backport-filter-criteria`, valueString })) });
    const plan = parseSubscription(backport({ _criteria: filters('code=http://loinc.org|1', 'Observation.category=vital-signs', 'patient:missing=false&code=x') }), env());
    expect(plan.selector).toEqual({
      kind: 'topic',
      topic: OBSERVATION_TOPIC,
      filters: [
        { resourceType: 'Observation', parameter: 'code', query: 'code=http://loinc.org|1' },
        { resourceType: 'Observation', parameter: 'category', query: 'category=vital-signs' },
        { resourceType: 'Observation', parameter: 'patient', query: 'patient:missing=false' },
        { resourceType: 'Observation', parameter: 'code', query: 'code=x' },
      ],
    });
    const typed = parseSubscription(backport({ criteria: ALERT_TOPIC, _criteria: filters('Flag?patient=Patient/1') }), env());
    expect(typed.selector).toMatchObject({ filters: [{ resourceType: 'Flag', parameter: 'patient', query: 'patient=Patient/1' }] });
  });

  it('backport content levels, and id-only or empty when the content extension is left out', () => {
    const content = (valueCode: string) => ({ _payload: { extension: [{ url: `${BP}backport-payload-content`, valueCode }] } });
    expect(parseSubscription(backport({}, content('full-resource')), env()).content).toBe('full-resource');
    expect(parseSubscription(backport({}, content('empty')), env()).content).toBe('empty');
    expect(parseSubscription(backport({}, { _payload: undefined }), env()).content).toBe('id-only');
    expect(parseSubscription(backport({}, { _payload: undefined, payload: undefined }), env()).content).toBe('empty');
  });

  it('email to a mailto endpoint, and mqtt through the backport custom channel type', () => {
    expect(parseSubscription(r4({ channel: { type: 'email', endpoint: 'mailto:a@example.org' } }), env()).channel).toEqual({ type: 'email', endpoint: 'mailto:a@example.org', headers: [] });
    const mqtt = backport({}, { endpoint: 'kiln/alerts', _type: { extension: [{ url: `${BP}backport-channel-type`, valueCoding: { system: 'http://kiln.dev/fhir/CodeSystem/subscription-channel-type', code: 'mqtt' } }] } });
    expect(parseSubscription(mqtt, env()).channel).toMatchObject({ type: 'mqtt', endpoint: 'kiln/alerts' });
  });

  it('a JSON payload with a FHIR 4.0 version parameter', () => {
    expect(parseSubscription(backport({}, { payload: 'application/fhir+json; fhirVersion=4.0' }), env()).channel.payload).toBe('application/fhir+json; fhirVersion=4.0');
  });
});

const channel = (extra: Record<string, unknown>) => ({ type: 'rest-hook', endpoint: 'https://client.example/hook', ...extra }) as Subscription['channel'];
const customType = (system: string, code: string) => ({ _type: { extension: [{ url: `${BP}backport-channel-type`, valueCoding: { system, code } }] } });

describe('parseSubscription refuses', () => {
  it.each<[string, Subscription, number, string, ParseEnv?]>([
    ['an active status from the client', r4({ status: 'active' }), 422, 'Subscription.status'],
    ['an error status from the client', r4({ status: 'error' }), 422, 'Subscription.status'],
    ['an unknown resource type', r4({ criteria: 'Nothing?a=b' }), 400, 'Subscription.criteria'],
    ['criteria Kiln search refuses', r4({ criteria: 'Observation?bogus=1' }), 400, 'Subscription.criteria'],
    ['an unknown topic', r4({ criteria: 'http://example.org/topic/unknown' }), 422, 'Subscription.criteria'],
    [
      'filter criteria on a criteria subscription',
      { ...r4(), _criteria: { extension: [{ url: `${BP}backport-filter-criteria`, valueString: 'patient=Patient/1' }] } } as Subscription,
      422,
      'Subscription.criteria.extension[0]',
    ],
    ['a filter the topic does not offer', backport({ _criteria: { extension: [{ url: 'x' }, { url: `${BP}backport-filter-criteria`, valueString: 'Observation?status=final' }] } }), 422, 'Subscription.criteria.extension[1]'],
    ['a filter on a type the topic does not offer it for', backport({ _criteria: { extension: [{ url: `${BP}backport-filter-criteria`, valueString: 'Patient?patient=1' }] } }), 422, 'Subscription.criteria.extension[0]'],
    ['an ambiguous untyped filter', backport({ criteria: ALERT_TOPIC, _criteria: { extension: [{ url: `${BP}backport-filter-criteria`, valueString: 'patient=Patient/1' }] } }), 422, 'Subscription.criteria.extension[0]'],
    ['a filter without a value', backport({ _criteria: { extension: [{ url: `${BP}backport-filter-criteria`, valueString: 'Observation?patient' }] } }), 400, 'Subscription.criteria.extension[0]'],
    ['a filter Kiln search refuses', backport({ criteria: OBSERVATION_TOPIC, _criteria: { extension: [{ url: `${BP}backport-filter-criteria`, valueString: 'code=a&code=bogus' }] } }), 400, 'Subscription.criteria.extension[0]'],
    ['a heartbeat below the minimum', backport({}, { extension: [{ url: `${BP}backport-heartbeat-period`, valueUnsignedInt: 5 }] }), 422, 'Subscription.channel.extension[0]'],
    ['a heartbeat that is not an unsignedInt', backport({}, { extension: [{ url: `${BP}backport-heartbeat-period`, valueString: '60' }] }), 400, 'Subscription.channel.extension[0]'],
    ['a zero max count', backport({}, { extension: [{ url: `${BP}backport-max-count`, valuePositiveInt: 0 }] }), 400, 'Subscription.channel.extension[0]'],
    ['an unknown content level', backport({}, { _payload: { extension: [{ url: `${BP}backport-payload-content`, valueCode: 'everything' }] } }), 400, 'Subscription.channel.payload.extension[0]'],
    ['the message channel', r4({ channel: channel({ type: 'message' }) }), 422, 'Subscription.channel.type'],
    ['the sms channel', r4({ channel: channel({ type: 'sms' }) }), 422, 'Subscription.channel.type'],
    ['an unknown channel type', r4({ channel: channel({ type: 'pigeon' }) }), 400, 'Subscription.channel.type'],
    ['an unknown custom channel type', r4({ channel: channel(customType('http://example.org/subscription-channel-type', 'zulip')) }), 422, 'Subscription.channel.type.extension[0]'],
    ['a rest-hook without endpoint', r4({ channel: channel({ endpoint: undefined }) }), 400, 'Subscription.channel.endpoint'],
    ['a rest-hook to a relative URL', r4({ channel: channel({ endpoint: '/hook' }) }), 400, 'Subscription.channel.endpoint'],
    ['a rest-hook to another scheme', r4({ channel: channel({ endpoint: 'ftp://client.example/hook' }) }), 400, 'Subscription.channel.endpoint'],
    ['email that is not mailto', r4({ channel: channel({ type: 'email', endpoint: 'a@example.org' }) }), 400, 'Subscription.channel.endpoint'],
    ['email when KILN_SMTP_URL is not set', r4({ channel: channel({ type: 'email', endpoint: 'mailto:a@example.org' }) }), 422, 'Subscription.channel.type', env({ channels: { email: false, mqtt: true } })],
    [
      'mqtt without a broker',
      r4({ channel: channel({ endpoint: 'kiln/a', ...customType('http://kiln.dev/fhir/CodeSystem/subscription-channel-type', 'mqtt') }) }),
      422,
      'Subscription.channel.type.extension[0]',
      env({ channels: { email: true, mqtt: false } }),
    ],
    ['mqtt to an endpoint that is no topic', r4({ channel: channel({ endpoint: 'elsewhere', ...customType('http://kiln.dev/fhir/CodeSystem/subscription-channel-type', 'mqtt') }) }), 400, 'Subscription.channel.endpoint'],
    ['an XML payload', r4({ channel: channel({ payload: 'application/fhir+xml' }) }), 422, 'Subscription.channel.payload'],
    ['a payload for another FHIR version', r4({ channel: channel({ payload: 'application/fhir+json; fhirVersion=4.3' }) }), 422, 'Subscription.channel.payload'],
    ['a header without a colon', r4({ channel: channel({ header: ['X-Ok: 1', 'Authorization Bearer x'] }) }), 400, 'Subscription.channel.header[1]'],
    ['a header name with a space', r4({ channel: channel({ header: ['X Bad: 1'] }) }), 400, 'Subscription.channel.header[0]'],
    ['a header value with CR LF', r4({ channel: channel({ header: ['X-Ok: 1\r\nHost: evil'] }) }), 400, 'Subscription.channel.header[0]'],
    ['a Host header', r4({ channel: channel({ header: ['host: evil.example'] }) }), 422, 'Subscription.channel.header[0]'],
    ['a Content-Type header', r4({ channel: channel({ header: ['Content-Type: text/plain'] }) }), 422, 'Subscription.channel.header[0]'],
    ['a Transfer-Encoding header', r4({ channel: channel({ header: ['Transfer-Encoding: chunked'] }) }), 422, 'Subscription.channel.header[0]'],
    ['an end that is not an instant', r4({ end: 'next week' }), 400, 'Subscription.end'],
    // A rest parameter keeps the callback's arity at four, so Jest does not mistake a fifth for `done`.
  ])('%s', (_, subscription, status, expression, ...environment) => {
    const error = refusal(subscription, environment[0]);
    expect(error.status).toBe(status);
    expect(error.issues[0].expression).toEqual([expression]);
  });

  it('says that KILN_SMTP_URL is not set', () => {
    const error = refusal(r4({ channel: channel({ type: 'email', endpoint: 'mailto:a@example.org' }) }), env({ channels: { email: false, mqtt: true } }));
    expect(error.message).toContain('KILN_SMTP_URL is not set');
  });
});

import type { Bundle, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { loadValidation, validationErrors } from '../resources/validate.js';
import { eventsBundle, notificationMessage, r4Payload, statusParameters } from './notification-bundle.js';
import type { ContentLevel, Notification, NotificationType, SubscriptionEvent, SubscriptionPlan } from './model.js';

const BASE = 'https://kiln.example/fhir';
const TOPIC = 'http://kiln.dev/fhir/SubscriptionTopic/observation-changed';
const NOW = new Date('2024-03-01T10:00:00.000Z');
const PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4';

beforeAll(() => loadValidation());

const observation = { resourceType: 'Observation', id: 'obs1', meta: { versionId: '2' }, status: 'final', code: { text: 'glucose' } };

const created: SubscriptionEvent = {
  eventNumber: 7,
  timestamp: new Date('2024-03-01T09:59:00.000Z'),
  focus: { resourceType: 'Observation', id: 'obs1', versionId: 1 },
  interaction: 'create',
  resource: JSON.stringify({ ...observation, meta: { versionId: '1' } }),
};
const updated: SubscriptionEvent = { ...created, eventNumber: 8, focus: { ...created.focus, versionId: 2 }, interaction: 'update', resource: JSON.stringify(observation) };
const deleted: SubscriptionEvent = { eventNumber: 9, timestamp: created.timestamp, focus: { ...created.focus, versionId: 3 }, interaction: 'delete' };

function plan(content: ContentLevel, extra: Partial<SubscriptionPlan> = {}): SubscriptionPlan {
  return {
    id: 'sub1',
    status: 'active',
    selector: { kind: 'topic', topic: TOPIC, filters: [] },
    channel: { type: 'rest-hook', endpoint: 'https://client.example/hook', headers: [], payload: 'application/fhir+json' },
    backport: true,
    content,
    ...extra,
  };
}

function notification(type: NotificationType, content: ContentLevel, events: SubscriptionEvent[] = [], extra: Partial<Notification> = {}): Notification {
  return { type, subscription: plan(content), eventsSinceSubscriptionStart: events.at(-1)?.eventNumber ?? 6, events, ...extra };
}

function bundleOf(n: Notification): Bundle {
  const message = notificationMessage(n, BASE, NOW);
  expect(message.contentType).toBe('application/fhir+json');
  // Compact JSON: no indentation.
  expect(message.body).not.toMatch(/\n/);
  const bundle = JSON.parse(message.body) as Bundle;
  // bdl-3 and bdl-4 (every history entry has a request and a response) are among the checks.
  expect(validationErrors(bundle)).toEqual([]);
  return bundle;
}

const named = (parameters: Parameters, name: string): ParametersParameter[] => (parameters.parameter ?? []).filter((p) => p.name === name);
const statusOf = (bundle: Bundle) => bundle.entry?.[0].resource as Parameters;

function expectStatusEntry(bundle: Bundle, type: NotificationType, status: string, since: string) {
  expect(bundle.type).toBe('history');
  expect(bundle.timestamp).toBe(NOW.toISOString());
  const entry = bundle.entry?.[0];
  expect(entry?.fullUrl).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
  expect(entry?.fullUrl).toBe(`urn:uuid:${entry?.resource?.id}`);
  expect(entry?.request).toEqual({ method: 'GET', url: `${BASE}/Subscription/sub1/$status` });
  expect(entry?.response).toEqual({ status: '200' });
  const parameters = statusOf(bundle);
  expect(parameters.resourceType).toBe('Parameters');
  expect(parameters.meta?.profile).toEqual([PROFILE]);
  expect(named(parameters, 'subscription')).toEqual([{ name: 'subscription', valueReference: { reference: `${BASE}/Subscription/sub1` } }]);
  expect(named(parameters, 'status')).toEqual([{ name: 'status', valueCode: status }]);
  expect(named(parameters, 'type')).toEqual([{ name: 'type', valueCode: type }]);
  expect(named(parameters, 'events-since-subscription-start')).toEqual([{ name: 'events-since-subscription-start', valueString: since }]);
}

describe('notificationMessage', () => {
  it('is checked by a validator that refuses a history entry without request (bdl-3)', () => {
    const bundle = bundleOf(notification('event-notification', 'id-only', [created]));
    delete bundle.entry?.[1].request;
    expect(validationErrors(bundle)).not.toEqual([]);
  });

  it('builds a handshake with the requested status and no events', () => {
    const n = notification('handshake', 'id-only', [], { eventsSinceSubscriptionStart: 0 });
    n.subscription.status = 'requested';
    const bundle = bundleOf(n);
    expectStatusEntry(bundle, 'handshake', 'requested', '0');
    expect(bundle.entry).toHaveLength(1);
    expect(named(statusOf(bundle), 'notification-event')).toEqual([]);
    expect(named(statusOf(bundle), 'topic')).toEqual([{ name: 'topic', valueCanonical: TOPIC }]);
  });

  it('builds a heartbeat that reports the events so far', () => {
    const bundle = bundleOf(notification('heartbeat', 'id-only', [], { eventsSinceSubscriptionStart: 12 }));
    expectStatusEntry(bundle, 'heartbeat', 'active', '12');
    expect(bundle.entry).toHaveLength(1);
  });

  it('sends neither focus, topic nor entries with empty content', () => {
    const bundle = bundleOf(notification('event-notification', 'empty', [created]));
    expectStatusEntry(bundle, 'event-notification', 'active', '7');
    expect(bundle.entry).toHaveLength(1);
    expect(named(statusOf(bundle), 'topic')).toEqual([]);
    expect(named(statusOf(bundle), 'notification-event')).toEqual([
      { name: 'notification-event', part: [{ name: 'event-number', valueString: '7' }, { name: 'timestamp', valueInstant: '2024-03-01T09:59:00.000Z' }] },
    ]);
  });

  it('sends the focus and a request per event, without resources, with id-only content', () => {
    const bundle = bundleOf(notification('event-notification', 'id-only', [created, updated]));
    expectStatusEntry(bundle, 'event-notification', 'active', '8');
    expect(named(statusOf(bundle), 'notification-event').map((p) => p.part)).toEqual([
      [
        { name: 'event-number', valueString: '7' },
        { name: 'timestamp', valueInstant: '2024-03-01T09:59:00.000Z' },
        { name: 'focus', valueReference: { reference: `${BASE}/Observation/obs1` } },
      ],
      [
        { name: 'event-number', valueString: '8' },
        { name: 'timestamp', valueInstant: '2024-03-01T09:59:00.000Z' },
        { name: 'focus', valueReference: { reference: `${BASE}/Observation/obs1` } },
      ],
    ]);
    expect(bundle.entry?.slice(1)).toEqual([
      {
        fullUrl: `${BASE}/Observation/obs1`,
        request: { method: 'POST', url: 'Observation' },
        response: { status: '201', etag: 'W/"1"', lastModified: '2024-03-01T09:59:00.000Z' },
      },
      {
        fullUrl: `${BASE}/Observation/obs1`,
        request: { method: 'PUT', url: 'Observation/obs1' },
        response: { status: '200', etag: 'W/"2"', lastModified: '2024-03-01T09:59:00.000Z' },
      },
    ]);
  });

  it('includes the resource with full-resource content', () => {
    const bundle = bundleOf(notification('event-notification', 'full-resource', [updated]));
    expect(named(statusOf(bundle), 'topic')).toEqual([{ name: 'topic', valueCanonical: TOPIC }]);
    expect(bundle.entry?.[1]).toMatchObject({ fullUrl: `${BASE}/Observation/obs1`, resource: observation, request: { method: 'PUT', url: 'Observation/obs1' } });
  });

  it('sends a deletion as a DELETE entry without a resource, even with full-resource content', () => {
    const bundle = bundleOf(notification('event-notification', 'full-resource', [deleted]));
    expect(bundle.entry?.[1]).toEqual({
      fullUrl: `${BASE}/Observation/obs1`,
      request: { method: 'DELETE', url: 'Observation/obs1' },
      response: { status: '204', etag: 'W/"3"', lastModified: '2024-03-01T09:59:00.000Z' },
    });
    expect(named(statusOf(bundle), 'notification-event')[0].part).toContainEqual({ name: 'focus', valueReference: { reference: `${BASE}/Observation/obs1` } });
  });

  it('reports an error as a CodeableConcept', () => {
    const n = notification('heartbeat', 'id-only', [], { error: 'The endpoint answered 500' });
    n.subscription.status = 'error';
    const bundle = bundleOf(n);
    expectStatusEntry(bundle, 'heartbeat', 'error', '6');
    expect(named(statusOf(bundle), 'error')).toEqual([{ name: 'error', valueCodeableConcept: { text: 'The endpoint answered 500' } }]);
  });

  it('names no topic for a criteria-based backport subscription', () => {
    const n = notification('event-notification', 'id-only', [created]);
    n.subscription.selector = { kind: 'criteria', resourceType: 'Observation', query: 'status=final' };
    expect(named(statusOf(bundleOf(n)), 'topic')).toEqual([]);
  });

  it('uses the subscription payload type, and FHIR JSON when it has none', () => {
    const n = notification('heartbeat', 'empty');
    n.subscription.channel.payload = 'application/json';
    expect(notificationMessage(n, BASE, NOW).contentType).toBe('application/json');
    delete n.subscription.channel.payload;
    expect(notificationMessage(n, BASE, NOW).contentType).toBe('application/fhir+json');
  });
});

describe('statusParameters and eventsBundle', () => {
  it('answer $status with type query-status', () => {
    const parameters = statusParameters(notification('event-notification', 'id-only', [], { eventsSinceSubscriptionStart: 4 }), BASE);
    expect(validationErrors(parameters)).toEqual([]);
    expect(parameters.meta?.profile).toEqual([PROFILE]);
    expect(named(parameters, 'type')).toEqual([{ name: 'type', valueCode: 'query-status' }]);
    expect(named(parameters, 'events-since-subscription-start')).toEqual([{ name: 'events-since-subscription-start', valueString: '4' }]);
  });

  it('answer $events with a query-event Bundle of the events', () => {
    const bundle = eventsBundle(notification('event-notification', 'full-resource', [created, updated]), BASE, NOW);
    expect(validationErrors(bundle)).toEqual([]);
    expectStatusEntry(bundle, 'query-event', 'active', '8');
    expect(bundle.entry?.slice(1).map((e) => e.request?.method)).toEqual(['POST', 'PUT']);
  });
});

describe('r4Payload', () => {
  const r4 = (payload: string | undefined, events: SubscriptionEvent[]): Notification => {
    const n = notification('event-notification', payload ? 'full-resource' : 'empty', events);
    n.subscription.backport = false;
    n.subscription.selector = { kind: 'criteria', resourceType: 'Observation', query: '' };
    if (payload) n.subscription.channel.payload = payload;
    else delete n.subscription.channel.payload;
    return n;
  };

  it('sends one empty body per event when the subscription has no payload', () => {
    expect(r4Payload(r4(undefined, [created, updated]))).toEqual([{ body: '' }, { body: '' }]);
  });

  it('sends the resource as stored, with the payload type', () => {
    expect(r4Payload(r4('application/fhir+json', [updated]))).toEqual([{ contentType: 'application/fhir+json', body: JSON.stringify(observation) }]);
  });

  it('sends an empty body without content type for a deletion', () => {
    expect(r4Payload(r4('application/fhir+json', [created, deleted]))).toEqual([{ contentType: 'application/fhir+json', body: created.resource }, { body: '' }]);
  });

  it('sends nothing when there is no event', () => {
    expect(r4Payload(r4('application/fhir+json', []))).toEqual([]);
  });
});

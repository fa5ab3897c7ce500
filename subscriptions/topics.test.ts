import type { Basic, Extension } from '@medplum/fhirtypes';
import { FhirError } from '../server/fhir/errors.js';
import { parseSearch } from '../server/fhir/search/parse-search.js';
import { loadValidation, validationErrors } from '../resources/validate.js';
import { BUILT_IN_TOPICS, topicBasicId, topicFromBasic, topicToBasic } from './topics.js';
import type { TopicDefinition } from './model.js';

const R5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.';
const limits = { defaultCount: 10, maxCount: 100, baseUrl: 'http://kiln.test/fhir', lenient: false };

beforeAll(() => loadValidation());

const topic = (name: string): TopicDefinition => {
  const found = BUILT_IN_TOPICS.find((t) => t.url === `http://kiln.dev/fhir/SubscriptionTopic/${name}`);
  if (!found) throw new Error(`no built-in topic ${name}`);
  return found;
};

function refusal(basic: Basic): FhirError {
  try {
    topicFromBasic(basic);
  } catch (error) {
    if (error instanceof FhirError) return error;
    throw error;
  }
  throw new Error('the Basic was accepted');
}

const extensionOf = (basic: Basic, element: string): Extension => {
  const found = basic.extension?.find((e) => e.url === `${R5}${element}`);
  if (!found) throw new Error(`no ${element}`);
  return found;
};

describe('BUILT_IN_TOPICS', () => {
  it('have distinct canonical URLs under kiln.dev and distinct Basic ids', () => {
    const urls = BUILT_IN_TOPICS.map((t) => t.url);
    expect(new Set(urls).size).toBe(urls.length);
    for (const url of urls) expect(url).toMatch(/^http:\/\/kiln\.dev\/fhir\/SubscriptionTopic\/[a-z-]+$/);
    expect(new Set(urls.map(topicBasicId)).size).toBe(urls.length);
  });

  it('use criteria and filter parameters that Kiln search knows for the type', () => {
    expect(() => parseSearch('Observation', [['no-such-parameter', 'x']], limits)).toThrow();
    for (const t of BUILT_IN_TOPICS) {
      for (const trigger of t.triggers) {
        for (const criteria of [trigger.previous, trigger.current]) {
          if (criteria === undefined) continue;
          const params = [...new URLSearchParams(criteria)];
          expect(() => parseSearch(trigger.resourceType, params, limits)).not.toThrow();
        }
      }
      for (const filter of t.canFilterBy) {
        expect(t.triggers.map((trigger) => trigger.resourceType)).toContain(filter.resourceType);
        expect(() => parseSearch(filter.resourceType, [[filter.parameter, 'x']], limits)).not.toThrow();
      }
    }
  });

  it('notify a booking only when the appointment was not booked before', () => {
    expect(topic('appointment-booked').triggers).toEqual([
      { resourceType: 'Appointment', interactions: ['create', 'update'], previous: 'status:not=booked', current: 'status=booked', requireBoth: true },
    ]);
  });

  it('group DetectedIssue and Flag creation in one urgent-alert topic filtered by patient', () => {
    const alert = topic('urgent-alert');
    expect(alert.triggers.map((t) => [t.resourceType, t.interactions])).toEqual([
      ['DetectedIssue', ['create']],
      ['Flag', ['create']],
    ]);
    expect(alert.canFilterBy.map((f) => `${f.resourceType}.${f.parameter}`)).toEqual(['DetectedIssue.patient', 'Flag.patient']);
  });
});

describe('topicToBasic', () => {
  it('produces a Basic that passes R4 validation, for every built-in topic', () => {
    for (const t of BUILT_IN_TOPICS) expect(validationErrors(topicToBasic(t))).toEqual([]);
    const { code: _, ...withoutCode } = topicToBasic(BUILT_IN_TOPICS[0]);
    expect(validationErrors(withoutCode as Basic)).not.toEqual([]);
  });

  it('follows the IG representation: fhir-types code, cross-version extensions, status as a modifier', () => {
    const basic = topicToBasic(topic('appointment-booked'));
    expect(basic.id).toBe('kiln-topic-appointment-booked');
    expect(basic.code.coding).toContainEqual(expect.objectContaining({ system: 'http://hl7.org/fhir/fhir-types', code: 'SubscriptionTopic' }));
    expect(basic.modifierExtension).toEqual([{ url: `${R5}status`, valueCode: 'active' }]);
    expect(extensionOf(basic, 'url').valueUri).toBe('http://kiln.dev/fhir/SubscriptionTopic/appointment-booked');
    expect(extensionOf(basic, 'title').valueString).toBe('Appointment booked');
    expect(typeof extensionOf(basic, 'description').valueMarkdown).toBe('string');
    const trigger = extensionOf(basic, 'resourceTrigger').extension ?? [];
    expect(trigger).toContainEqual({ url: 'resource', valueUri: 'http://hl7.org/fhir/StructureDefinition/Appointment' });
    expect(trigger.filter((e) => e.url === 'supportedInteraction').map((e) => e.valueCode)).toEqual(['create', 'update']);
    expect(trigger.find((e) => e.url === 'queryCriteria')?.extension).toEqual([
      { url: 'previous', valueString: 'status:not=booked' },
      { url: 'resultForCreate', valueCode: 'test-passes' },
      { url: 'current', valueString: 'status=booked' },
      { url: 'requireBoth', valueBoolean: true },
    ]);
    const filters = basic.extension?.filter((e) => e.url === `${R5}canFilterBy`) ?? [];
    expect(filters.map((f) => f.extension?.find((e) => e.url === 'filterParameter')?.valueString)).toEqual(['patient', 'practitioner', 'actor']);
    expect(filters[0].extension).toContainEqual({ url: 'resource', valueUri: 'Appointment' });
  });

  it('writes no queryCriteria for a topic without criteria', () => {
    const trigger = extensionOf(topicToBasic(topic('observation-changed')), 'resourceTrigger').extension ?? [];
    expect(trigger.some((e) => e.url === 'queryCriteria')).toBe(false);
  });
});

describe('topicFromBasic', () => {
  it('round-trips every built-in topic', () => {
    for (const t of BUILT_IN_TOPICS) expect(topicFromBasic(topicToBasic(t))).toEqual(t);
  });

  it('reads plain and canonical resource names, the IG example 4.3 URLs, and all interactions when none are listed', () => {
    const basic: Basic = {
      resourceType: 'Basic',
      code: { coding: [{ system: 'http://hl7.org/fhir/fhir-types', code: 'SubscriptionTopic' }] },
      extension: [
        { url: `${R5}url`, valueUri: 'http://example.org/topic/encounter' },
        {
          url: 'http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.resourceTrigger',
          extension: [{ url: 'resource', valueUri: 'Encounter' }],
        },
        {
          url: 'http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.canFilterBy',
          extension: [{ url: 'filterParameter', valueString: 'subject' }],
        },
      ],
    };
    expect(topicFromBasic(basic)).toEqual({
      url: 'http://example.org/topic/encounter',
      title: 'http://example.org/topic/encounter',
      description: '',
      triggers: [{ resourceType: 'Encounter', interactions: ['create', 'update', 'delete'] }],
      canFilterBy: [{ resourceType: 'Encounter', parameter: 'subject' }],
    });
  });

  const base = () => topicToBasic(topic('appointment-booked'));
  const triggerIndex = (basic: Basic) => basic.extension?.findIndex((e) => e.url === `${R5}resourceTrigger`) ?? -1;

  it.each<[string, (basic: Basic) => void, string]>([
    ['a Basic that is not a topic', (b) => (b.code = { text: 'other' }), 'Basic.code'],
    ['no url', (b) => (b.extension = b.extension?.filter((e) => e.url !== `${R5}url`)), `Basic.extension('${R5}url')`],
    [
      'no trigger',
      (b) => (b.extension = b.extension?.filter((e) => e.url !== `${R5}resourceTrigger`)),
      `Basic.extension('${R5}resourceTrigger')`,
    ],
    [
      'a trigger without resource',
      (b) => {
        const trigger = b.extension?.[triggerIndex(b)];
        if (trigger) trigger.extension = trigger.extension?.filter((e) => e.url !== 'resource');
      },
      "Basic.extension[3].extension('resource')",
    ],
    [
      'a trigger for an unknown type',
      (b) => b.extension?.[triggerIndex(b)].extension?.splice(1, 1, { url: 'resource', valueUri: 'http://hl7.org/fhir/StructureDefinition/Nothing' }),
      'Basic.extension[3].extension[1]',
    ],
    [
      'an unknown interaction',
      (b) => b.extension?.[triggerIndex(b)].extension?.splice(2, 1, { url: 'supportedInteraction', valueCode: 'read' }),
      'Basic.extension[3].extension[2]',
    ],
    ['FHIRPath criteria', (b) => b.extension?.[triggerIndex(b)].extension?.push({ url: 'fhirPathCriteria', valueString: 'true' }), 'Basic.extension[3].extension[5]'],
    ['a retired topic', (b) => (b.modifierExtension = [{ url: `${R5}status`, valueCode: 'retired' }]), 'Basic.modifierExtension[0]'],
    [
      'a create that fails the previous test',
      (b) => {
        const criteria = b.extension?.[triggerIndex(b)].extension?.find((e) => e.url === 'queryCriteria');
        criteria?.extension?.splice(1, 1, { url: 'resultForCreate', valueCode: 'test-fails' });
      },
      'Basic.extension[3].extension[4].extension[1]',
    ],
    [
      'a filter without parameter',
      (b) => {
        const filter = b.extension?.find((e) => e.url === `${R5}canFilterBy`);
        if (filter) filter.extension = filter.extension?.filter((e) => e.url !== 'filterParameter');
      },
      "Basic.extension[4].extension('filterParameter')",
    ],
  ])('refuses %s with 422 naming the element', (_, spoil, expression) => {
    const basic = base();
    spoil(basic);
    const error = refusal(basic);
    expect(error.status).toBe(422);
    expect(error.issues[0].expression).toEqual([expression]);
  });
});

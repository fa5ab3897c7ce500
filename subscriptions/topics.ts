// The subscription topics Kiln offers, and their R4 form. R4 has no SubscriptionTopic resource: the
// Subscriptions Backport IG (hl7.org/fhir/uv/subscriptions-backport, "Basic-wrapped topics", example
// Basic/r4-encounter-complete) carries one as a Basic whose code is fhir-types#SubscriptionTopic and
// whose elements are the R5 cross-version extensions extension-SubscriptionTopic.*.
import type { Basic, Extension } from '@medplum/fhirtypes';
import type { FeedInteraction } from '../server/store/change-feed.js';
import { unprocessable } from '../server/fhir/errors.js';
import { isResourceType } from '../resources/definitions.js';
import type { TopicDefinition, TopicTrigger } from './model.js';

const KILN_TOPIC_BASE = 'http://kiln.dev/fhir/SubscriptionTopic/';
const TOPIC_EXTENSION_R5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.';
// The IG's own example was published with 4.3 URLs for the backbone extensions; Basics written
// after that example are read too.
const TOPIC_EXTENSION_R4B = 'http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.';
const STRUCTURE_DEFINITION_BASE = 'http://hl7.org/fhir/StructureDefinition/';
const FHIR_TYPES_SYSTEM = 'http://hl7.org/fhir/fhir-types';
const INTERACTIONS: readonly FeedInteraction[] = ['create', 'update', 'delete'];

const topicUrl = (name: string) => `${KILN_TOPIC_BASE}${name}`;

/**
 * Kiln's built-in topics. The urgent alert is one topic with two triggers (DetectedIssue created,
 * Flag created): a client wanting alerts wants both, and one subscription sees them in one event
 * sequence. Topics whose criteria name a state change (booked, cancelled) require the previous
 * version not to be in that state, so an edit of an already booked appointment does not notify again.
 */
export const BUILT_IN_TOPICS: TopicDefinition[] = [
  {
    url: topicUrl('observation-changed'),
    title: 'New or updated Observation',
    description: 'An Observation was created or updated.',
    triggers: [{ resourceType: 'Observation', interactions: ['create', 'update'] }],
    canFilterBy: [
      { resourceType: 'Observation', parameter: 'patient', description: 'The patient the observation is about.' },
      { resourceType: 'Observation', parameter: 'code', description: 'The kind of observation.' },
      { resourceType: 'Observation', parameter: 'category', description: 'The classification of the observation.' },
    ],
  },
  {
    url: topicUrl('diagnostic-report-final'),
    title: 'Final DiagnosticReport',
    description: 'A DiagnosticReport was created or updated with status final.',
    triggers: [{ resourceType: 'DiagnosticReport', interactions: ['create', 'update'], current: 'status=final' }],
    canFilterBy: [
      { resourceType: 'DiagnosticReport', parameter: 'patient', description: 'The patient the report is about.' },
      { resourceType: 'DiagnosticReport', parameter: 'code', description: 'The kind of report.' },
      { resourceType: 'DiagnosticReport', parameter: 'category', description: 'The service category of the report.' },
    ],
  },
  {
    url: topicUrl('communication-created'),
    title: 'New Communication',
    description: 'A Communication was created.',
    triggers: [{ resourceType: 'Communication', interactions: ['create'] }],
    canFilterBy: [
      { resourceType: 'Communication', parameter: 'recipient', description: 'Who the communication is for.' },
      { resourceType: 'Communication', parameter: 'patient', description: 'The patient the communication is about.' },
    ],
  },
  {
    url: topicUrl('appointment-booked'),
    title: 'Appointment booked',
    description: 'An Appointment was created as booked, or updated to booked from another status.',
    triggers: [{ resourceType: 'Appointment', interactions: ['create', 'update'], previous: 'status:not=booked', current: 'status=booked', requireBoth: true }],
    canFilterBy: [
      { resourceType: 'Appointment', parameter: 'patient', description: 'A patient taking part in the appointment.' },
      { resourceType: 'Appointment', parameter: 'practitioner', description: 'A practitioner taking part in the appointment.' },
      { resourceType: 'Appointment', parameter: 'actor', description: 'Any participant of the appointment.' },
    ],
  },
  {
    url: topicUrl('appointment-cancelled'),
    title: 'Appointment cancelled',
    description: 'An Appointment was created as cancelled, or updated to cancelled from another status.',
    triggers: [{ resourceType: 'Appointment', interactions: ['create', 'update'], previous: 'status:not=cancelled', current: 'status=cancelled', requireBoth: true }],
    canFilterBy: [
      { resourceType: 'Appointment', parameter: 'patient', description: 'A patient taking part in the appointment.' },
      { resourceType: 'Appointment', parameter: 'practitioner', description: 'A practitioner taking part in the appointment.' },
      { resourceType: 'Appointment', parameter: 'actor', description: 'Any participant of the appointment.' },
    ],
  },
  {
    url: topicUrl('imaging-study-available'),
    title: 'ImagingStudy available',
    description: 'An ImagingStudy was created or updated with status available.',
    triggers: [{ resourceType: 'ImagingStudy', interactions: ['create', 'update'], current: 'status=available' }],
    canFilterBy: [{ resourceType: 'ImagingStudy', parameter: 'patient', description: 'The patient the study is of.' }],
  },
  {
    url: topicUrl('service-request-stat'),
    title: 'STAT ServiceRequest',
    description: 'A ServiceRequest was created or updated with priority stat.',
    triggers: [{ resourceType: 'ServiceRequest', interactions: ['create', 'update'], current: 'priority=stat' }],
    canFilterBy: [
      { resourceType: 'ServiceRequest', parameter: 'patient', description: 'The patient the request is for.' },
      { resourceType: 'ServiceRequest', parameter: 'code', description: 'What is requested.' },
    ],
  },
  {
    url: topicUrl('urgent-alert'),
    title: 'Urgent clinical alert',
    description: 'A DetectedIssue or a Flag was created.',
    triggers: [
      { resourceType: 'DetectedIssue', interactions: ['create'] },
      { resourceType: 'Flag', interactions: ['create'] },
    ],
    canFilterBy: [
      { resourceType: 'DetectedIssue', parameter: 'patient', description: 'The patient the issue concerns.' },
      { resourceType: 'Flag', parameter: 'patient', description: 'The patient the flag is about.' },
    ],
  },
];

/** A Basic id (1 to 64 of [A-Za-z0-9-.]) derived from the topic's URL, the same on every start. */
export function topicBasicId(url: string): string {
  const name = url.replace(/\/+$/, '').split('/').pop() ?? '';
  const safe = name.replace(/[^A-Za-z0-9\-.]/g, '-');
  return `kiln-topic-${safe}`.slice(0, 64);
}

function triggerDescription(trigger: TopicTrigger): string {
  const criteria = [trigger.previous && `previously ${trigger.previous}`, trigger.current && `now ${trigger.current}`].filter(Boolean);
  const joiner = trigger.requireBoth ? ' and ' : ' or ';
  return `${trigger.resourceType} ${trigger.interactions.join(' or ')}${criteria.length ? `, ${criteria.join(joiner)}` : ''}`;
}

function queryCriteriaExtension(trigger: TopicTrigger): Extension | undefined {
  if (trigger.previous === undefined && trigger.current === undefined) return undefined;
  const parts: Extension[] = [];
  if (trigger.previous !== undefined) {
    parts.push({ url: 'previous', valueString: trigger.previous });
    // Kiln's matcher lets a create pass the `previous` test (there is no previous version to fail
    // it); R5 leaves that to the topic, so it is written out.
    if (trigger.interactions.includes('create')) parts.push({ url: 'resultForCreate', valueCode: 'test-passes' });
  }
  if (trigger.current !== undefined) {
    parts.push({ url: 'current', valueString: trigger.current });
    if (trigger.interactions.includes('delete')) parts.push({ url: 'resultForDelete', valueCode: 'test-fails' });
  }
  if (trigger.requireBoth !== undefined) parts.push({ url: 'requireBoth', valueBoolean: trigger.requireBoth });
  return { url: 'queryCriteria', extension: parts };
}

/** The IG's R4 representation of `topic`: a Basic wrapping the R5 SubscriptionTopic extensions. */
export function topicToBasic(topic: TopicDefinition): Basic {
  const triggers: Extension[] = topic.triggers.map((trigger) => {
    const criteria = queryCriteriaExtension(trigger);
    return {
      url: `${TOPIC_EXTENSION_R5}resourceTrigger`,
      extension: [
        { url: 'description', valueMarkdown: triggerDescription(trigger) },
        { url: 'resource', valueUri: `${STRUCTURE_DEFINITION_BASE}${trigger.resourceType}` },
        ...trigger.interactions.map((interaction) => ({ url: 'supportedInteraction', valueCode: interaction })),
        ...(criteria ? [criteria] : []),
      ],
    };
  });
  const filters: Extension[] = topic.canFilterBy.map((filter) => ({
    url: `${TOPIC_EXTENSION_R5}canFilterBy`,
    extension: [
      ...(filter.description !== undefined ? [{ url: 'description', valueMarkdown: filter.description }] : []),
      { url: 'resource', valueUri: filter.resourceType },
      { url: 'filterParameter', valueString: filter.parameter },
    ],
  }));
  return {
    resourceType: 'Basic',
    id: topicBasicId(topic.url),
    // The IG's example carries status as a modifier extension: a retired topic must not be used.
    modifierExtension: [{ url: `${TOPIC_EXTENSION_R5}status`, valueCode: 'active' }],
    extension: [
      { url: `${TOPIC_EXTENSION_R5}url`, valueUri: topic.url },
      { url: `${TOPIC_EXTENSION_R5}title`, valueString: topic.title },
      { url: `${TOPIC_EXTENSION_R5}description`, valueMarkdown: topic.description },
      ...triggers,
      ...filters,
    ],
    code: { coding: [{ system: FHIR_TYPES_SYSTEM, code: 'SubscriptionTopic', display: 'SubscriptionTopic' }] },
  };
}

/** A trigger's or filter's `resource`: a type name, or the core StructureDefinition URL of one. */
function resourceTypeOf(value: string | undefined, expression: string): string {
  if (value === undefined || value === '') throw unprocessable('The topic element names no resource type', expression);
  const type = value.startsWith(STRUCTURE_DEFINITION_BASE) ? value.slice(STRUCTURE_DEFINITION_BASE.length) : value;
  if (!isResourceType(type)) throw unprocessable(`"${value}" is not an R4 resource type`, expression);
  return type;
}

const isTopicExtension = (extension: Extension, element: string) =>
  extension.url === `${TOPIC_EXTENSION_R5}${element}` || extension.url === `${TOPIC_EXTENSION_R4B}${element}`;

/** Sub-extensions of `parent` named `name`, with their FHIRPath locations. */
function parts(parent: Extension, parentPath: string, name: string): { extension: Extension; path: string }[] {
  return (parent.extension ?? []).flatMap((extension, i) => (extension.url === name ? [{ extension, path: `${parentPath}.extension[${i}]` }] : []));
}

function onePart(parent: Extension, parentPath: string, name: string) {
  const found = parts(parent, parentPath, name);
  if (found.length > 1) throw unprocessable(`More than one "${name}"`, found[1].path);
  return found[0];
}

function readQueryCriteria(trigger: TopicTrigger, criteria: Extension, path: string): void {
  const text = (name: 'previous' | 'current') => {
    const part = onePart(criteria, path, name);
    if (part && typeof part.extension.valueString !== 'string') throw unprocessable(`queryCriteria.${name} must be a string`, part.path);
    return part?.extension.valueString;
  };
  const previous = text('previous');
  const current = text('current');
  if (previous !== undefined) trigger.previous = previous;
  if (current !== undefined) trigger.current = current;
  const requireBoth = onePart(criteria, path, 'requireBoth');
  if (requireBoth) {
    if (typeof requireBoth.extension.valueBoolean !== 'boolean') throw unprocessable('queryCriteria.requireBoth must be a boolean', requireBoth.path);
    trigger.requireBoth = requireBoth.extension.valueBoolean;
  }
  // Kiln's matcher passes `previous` on a create and fails `current` on a delete; a topic asking
  // otherwise would be matched differently than it says.
  const forCreate = onePart(criteria, path, 'resultForCreate');
  if (forCreate && forCreate.extension.valueCode !== 'test-passes') throw unprocessable('Kiln supports only resultForCreate test-passes', forCreate.path);
  const forDelete = onePart(criteria, path, 'resultForDelete');
  if (forDelete && forDelete.extension.valueCode !== 'test-fails') throw unprocessable('Kiln supports only resultForDelete test-fails', forDelete.path);
}

function readTrigger(extension: Extension, path: string): TopicTrigger {
  const resource = onePart(extension, path, 'resource');
  const resourceType = resourceTypeOf(resource?.extension.valueUri, resource?.path ?? `${path}.extension('resource')`);
  const interactions = parts(extension, path, 'supportedInteraction').map(({ extension: part, path: partPath }) => {
    const code = part.valueCode as FeedInteraction | undefined;
    if (!code || !INTERACTIONS.includes(code)) throw unprocessable(`Unknown supportedInteraction "${part.valueCode ?? ''}"`, partPath);
    return code;
  });
  // R5: with no supportedInteraction, every interaction triggers.
  const trigger: TopicTrigger = { resourceType, interactions: interactions.length ? [...new Set(interactions)] : [...INTERACTIONS] };
  const criteria = onePart(extension, path, 'queryCriteria');
  if (criteria) readQueryCriteria(trigger, criteria.extension, criteria.path);
  const fhirPath = onePart(extension, path, 'fhirPathCriteria');
  if (fhirPath) throw unprocessable('Kiln evaluates queryCriteria only, not fhirPathCriteria', fhirPath.path);
  return trigger;
}

function readFilter(extension: Extension, path: string, triggerTypes: Set<string>): TopicDefinition['canFilterBy'][number] {
  const parameter = onePart(extension, path, 'filterParameter');
  if (!parameter || !parameter.extension.valueString) throw unprocessable('canFilterBy has no filterParameter', parameter?.path ?? `${path}.extension('filterParameter')`);
  const resource = onePart(extension, path, 'resource');
  let resourceType: string;
  if (resource) resourceType = resourceTypeOf(resource.extension.valueUri, resource.path);
  // R5 makes canFilterBy.resource optional: it can only mean the one type the topic is about.
  else if (triggerTypes.size === 1) resourceType = [...triggerTypes][0];
  else throw unprocessable('canFilterBy names no resource, and the topic has triggers for several types', `${path}.extension('resource')`);
  const description = onePart(extension, path, 'description')?.extension.valueMarkdown;
  return { resourceType, parameter: parameter.extension.valueString, ...(description !== undefined ? { description } : {}) };
}

function topLevel(basic: Basic, element: string): { extension: Extension; path: string }[] {
  const found: { extension: Extension; path: string }[] = [];
  (basic.extension ?? []).forEach((extension, i) => {
    if (isTopicExtension(extension, element)) found.push({ extension, path: `Basic.extension[${i}]` });
  });
  (basic.modifierExtension ?? []).forEach((extension, i) => {
    if (isTopicExtension(extension, element)) found.push({ extension, path: `Basic.modifierExtension[${i}]` });
  });
  return found;
}

function topLevelString(basic: Basic, element: string, value: (e: Extension) => string | undefined): string | undefined {
  const found = topLevel(basic, element);
  if (found.length > 1) throw unprocessable(`More than one SubscriptionTopic.${element}`, found[1].path);
  if (found.length && value(found[0].extension) === undefined) throw unprocessable(`SubscriptionTopic.${element} has no value of the expected type`, found[0].path);
  return found[0] && value(found[0].extension);
}

/** Reads a Basic-wrapped topic; refuses one Kiln could not evaluate as written. */
export function topicFromBasic(basic: Basic): TopicDefinition {
  const isTopic = basic.code?.coding?.some((coding) => coding.system === FHIR_TYPES_SYSTEM && coding.code === 'SubscriptionTopic');
  if (!isTopic) throw unprocessable(`A topic is a Basic with code ${FHIR_TYPES_SYSTEM}#SubscriptionTopic`, 'Basic.code');
  const url = topLevelString(basic, 'url', (e) => e.valueUri);
  if (!url) throw unprocessable('The topic has no url', `Basic.extension('${TOPIC_EXTENSION_R5}url')`);
  const status = topLevel(basic, 'status')[0];
  if (status?.extension.valueCode === 'retired') throw unprocessable('The topic is retired', status.path);
  const triggers = topLevel(basic, 'resourceTrigger').map(({ extension, path }) => readTrigger(extension, path));
  if (!triggers.length) throw unprocessable('The topic has no resourceTrigger', `Basic.extension('${TOPIC_EXTENSION_R5}resourceTrigger')`);
  const eventTrigger = topLevel(basic, 'eventTrigger')[0];
  if (eventTrigger) throw unprocessable('Kiln supports resourceTrigger only, not eventTrigger', eventTrigger.path);
  const triggerTypes = new Set(triggers.map((trigger) => trigger.resourceType));
  const canFilterBy = topLevel(basic, 'canFilterBy').map(({ extension, path }) => readFilter(extension, path, triggerTypes));
  return {
    url,
    title: topLevelString(basic, 'title', (e) => e.valueString) ?? url,
    description: topLevelString(basic, 'description', (e) => e.valueMarkdown ?? e.valueString) ?? '',
    triggers,
    canFilterBy,
  };
}

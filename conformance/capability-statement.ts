// FHIR R4 CapabilityStatement (hl7.org/fhir/R4/capabilitystatement.html), built from the resource
// types, interactions and indexed parameters Kiln actually serves; never a hand-kept list.
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { FHIR_VERSION, resourceTypes } from '../resources/definitions.js';
import { indexedParameters } from '../resources/search/parameters.js';
import { COMPARTMENT_TYPES } from '../resources/compartments.js';
import { CONDITIONAL, SYSTEM_INTERACTIONS, TYPE_INTERACTIONS } from '../server/fhir/supported-interactions.js';

export interface CapabilityOptions {
  /** The OAuth endpoints when SMART on FHIR authorization is on. */
  oauthUris?: { authorize: string; token: string; introspect: string; revoke: string };
  baseUrl: string;
  software?: { name: string; version: string };
  /** Subscriptions: where websockets connect, the topics Kiln ships, the channel types it sends on. */
  notifications?: { websocketUrl: string; topics: () => string[]; channelTypes: string[] };
}

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport';

/** The Subscription resource's entry: the backport IG's topics and operations, and Kiln's channel types. */
function subscriptionCapabilities(notifications: NonNullable<CapabilityOptions['notifications']>): Partial<CapabilityStatementRestResource> {
  return {
    supportedProfile: [`${BACKPORT}/StructureDefinition/backport-subscription`],
    documentation:
      `Channel types: ${notifications.channelTypes.join(', ')}. MQTT is named the way the backport IG names channel types R4 lacks: ` +
      'the backport-channel-type extension on channel.type (_type) with the code "mqtt" of http://kiln.dev/fhir/CodeSystem/subscription-channel-type; ' +
      'channel.endpoint is the topic (or mqtt://host:port/topic) on Kiln\'s broker. Topics are readable as Basic resources (code SubscriptionTopic).',
    extension: notifications.topics().map((valueCanonical) => ({ url: `${BACKPORT}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical`, valueCanonical })),
    operation: [
      { name: 'status', definition: `${BACKPORT}/OperationDefinition/backport-subscription-status` },
      { name: 'events', definition: `${BACKPORT}/OperationDefinition/backport-subscription-events` },
      { name: 'get-ws-binding-token', definition: `${BACKPORT}/OperationDefinition/backport-subscription-get-ws-binding-token` },
    ],
  };
}

const RESOURCE_PARAMETERS = [
  { name: '_id', type: 'token' as const, definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
  { name: '_lastUpdated', type: 'date' as const, definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
  { name: '_list', type: 'special' as const, documentation: 'The resources a List holds: _list={List id}' },
  { name: '_content', type: 'special' as const, documentation: 'Words anywhere in the resource (web search syntax)' },
  { name: '_text', type: 'special' as const, documentation: 'Words in the narrative (web search syntax)' },
];

function searchCapabilities(type: string, revInclude: string[]): Partial<CapabilityStatementRestResource> {
  const parameters = [...indexedParameters(type).values()];
  const references = parameters.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`);
  return {
    searchParam: [...RESOURCE_PARAMETERS, ...parameters.map((p) => ({ name: p.code, type: p.type === 'near' ? ('special' as const) : p.type, definition: p.url }))],
    searchInclude: references.length ? ['*', ...references] : [],
    searchRevInclude: revInclude,
  };
}

/** For each type, the `Source:parameter` pairs whose references may point at it. */
function revIncludesByTarget(): Map<string, string[]> {
  const byTarget = new Map<string, string[]>();
  for (const source of resourceTypes()) {
    for (const parameter of indexedParameters(source).values()) {
      if (parameter.type !== 'reference') continue;
      for (const target of parameter.target) byTarget.set(target, [...(byTarget.get(target) ?? []), `${source}:${parameter.code}`]);
    }
  }
  return byTarget;
}

/** SMART App Launch §discovery: the security service and the `oauth-uris` extension. */
function smartSecurity(uris: NonNullable<CapabilityOptions['oauthUris']>) {
  return {
    cors: true,
    description: 'SMART on FHIR (SMART App Launch 2.x): OAuth 2.0 bearer tokens; see /.well-known/smart-configuration',
    service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }], text: 'OAuth2 using SMART-on-FHIR profile' }],
    extension: [
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: Object.entries(uris).map(([url, valueUri]) => ({ url, valueUri })),
      },
    ],
  };
}

export function capabilityStatement(options: CapabilityOptions): CapabilityStatement {
  const revIncludes = revIncludesByTarget();
  const software = options.software ?? { name: 'Kiln', version: process.env.npm_package_version ?? '0.1.0' };
  // Writes refuse references to local resources that do not exist (KILN_CHECK_REFERENCES), but a
  // delete does not look for referrers, so references can dangle afterwards: not "enforced".
  const referencePolicy: CapabilityStatementRestResource['referencePolicy'] = ['literal', 'local'];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'Kiln',
    kind: 'instance',
    software,
    implementation: { description: 'Kiln FHIR R4 server', url: options.baseUrl },
    fhirVersion: FHIR_VERSION,
    format: ['json', 'application/fhir+json', 'application/json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        ...(options.notifications ? { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket', valueUrl: options.notifications.websocketUrl }] } : {}),
        ...(options.oauthUris ? { security: smartSecurity(options.oauthUris) } : {}),
        resource: resourceTypes().map((type) => ({
          type: type as CapabilityStatementRestResource['type'],
          profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
          interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: true,
          ...CONDITIONAL,
          referencePolicy,
          ...searchCapabilities(type, revIncludes.get(type) ?? []),
          ...(type === 'Patient'
            ? { operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }] }
            : {}),
          ...(type === 'Subscription' && options.notifications ? subscriptionCapabilities(options.notifications) : {}),
        })),
        interaction: SYSTEM_INTERACTIONS.map((code) => ({ code })),
        compartment: COMPARTMENT_TYPES.map((type) => `http://hl7.org/fhir/CompartmentDefinition/${type.charAt(0).toLowerCase()}${type.slice(1)}`),
      },
    ],
  };
}

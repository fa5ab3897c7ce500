// Backport-profiled topic Subscriptions as the tests write them: Observations of one patient
// (the observation-changed topic with a patient filter), on any channel, at any content level.
import type { Subscription, SubscriptionChannel } from '@medplum/fhirtypes';

export const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/';
export const OBSERVATION_CHANGED = 'http://kiln.dev/fhir/SubscriptionTopic/observation-changed';

export interface PatientTopicOptions {
  patient: string;
  /** `rest-hook` (the default), `websocket`, or `mqtt` (named by the backport-channel-type extension). */
  channel?: 'rest-hook' | 'websocket' | 'mqtt';
  endpoint?: string;
  content?: 'empty' | 'id-only' | 'full-resource';
  heartbeatSeconds?: number;
  reason?: string;
}

export function patientTopicSubscription(options: PatientTopicOptions): Subscription {
  const channel: SubscriptionChannel & Record<string, unknown> = {
    type: options.channel === 'websocket' ? 'websocket' : 'rest-hook',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    payload: 'application/fhir+json',
    _payload: { extension: [{ url: `${BACKPORT}backport-payload-content`, valueCode: options.content ?? 'id-only' }] },
  };
  if (options.channel === 'mqtt') {
    channel._type = { extension: [{ url: `${BACKPORT}backport-channel-type`, valueCoding: { system: 'http://kiln.dev/fhir/CodeSystem/subscription-channel-type', code: 'mqtt' } }] };
  }
  if (options.heartbeatSeconds) channel.extension = [{ url: `${BACKPORT}backport-heartbeat-period`, valueUnsignedInt: options.heartbeatSeconds }];
  return {
    resourceType: 'Subscription',
    meta: { profile: [`${BACKPORT}backport-subscription`] },
    status: 'requested',
    reason: options.reason ?? 'observations of one patient',
    criteria: OBSERVATION_CHANGED,
    _criteria: { extension: [{ url: `${BACKPORT}backport-filter-criteria`, valueString: `Observation?patient=Patient/${options.patient}` }] },
    channel,
  } as Subscription;
}

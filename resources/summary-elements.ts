// FHIR R4 §3.1.1.5.8 `_summary` and `_elements` (hl7.org/fhir/R4/search.html#summary): which
// elements are in the summary and which are mandatory, read from the R4 StructureDefinitions.
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';

interface ElementFlags {
  /** Element paths (`Patient.name`, `Patient.contact.name`) with isSummary. */
  summary: Set<string>;
  /** Element paths with min >= 1. */
  mandatory: Set<string>;
}

const flags = new Map<string, ElementFlags>();

/** Called by loadDefinitions with the resource StructureDefinitions it already parsed. */
export function indexElementFlags(bundle: Bundle<StructureDefinition>): void {
  for (const entry of bundle.entry ?? []) {
    const sd = entry.resource;
    if (sd?.resourceType !== 'StructureDefinition' || sd.kind !== 'resource' || sd.derivation === 'constraint') continue;
    const entryFlags: ElementFlags = { summary: new Set(), mandatory: new Set() };
    for (const element of sd.snapshot?.element ?? []) {
      const path = element.path.replace('[x]', '');
      if (element.isSummary) entryFlags.summary.add(path);
      if ((element.min ?? 0) >= 1) entryFlags.mandatory.add(path);
    }
    flags.set(sd.type, entryFlags);
  }
}

export function elementFlags(resourceType: string): ElementFlags {
  return flags.get(resourceType) ?? { summary: new Set(), mandatory: new Set() };
}

/** The element path a JSON key stands for: choice keys (`valueQuantity`) map to `value`. */
export function elementPath(parentPath: string, key: string, known: Set<string>): string {
  const direct = `${parentPath}.${key}`;
  if (known.has(direct)) return direct;
  const choice = /^([a-z][A-Za-z0-9]*?)[A-Z][A-Za-z0-9]*$/.exec(key);
  if (choice && known.has(`${parentPath}.${choice[1]}`)) return `${parentPath}.${choice[1]}`;
  return direct;
}

// FHIR R4 §2.3.0 Resource references (hl7.org/fhir/R4/references.html): finds the references in a
// resource that point at this server, so a write can refuse one whose target does not exist.
import { isResourceType } from './definitions.js';

export interface LocalReference {
  resourceType: string;
  id: string;
  versionId?: number;
  /** Where the reference stands, as a FHIRPath-like location. */
  path: string;
  text: string;
}

const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([0-9]+))?$/;

/** References relative to this server (`Patient/1`) or absolute under its base URL. */
export function localReferences(resource: Record<string, unknown>, baseUrl: string): LocalReference[] {
  const found: LocalReference[] = [];
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const visit = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, `${path}[${i}]`));
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const object = value as Record<string, unknown>;
    const reference = object.reference;
    if (typeof reference === 'string') {
      const relative = reference.startsWith(base) ? reference.slice(base.length) : reference;
      const match = RELATIVE.exec(relative);
      if (match && isResourceType(match[1])) {
        found.push({
          resourceType: match[1],
          id: match[2],
          versionId: match[3] ? Number(match[3]) : undefined,
          path: `${path}.reference`,
          text: reference,
        });
      }
    }
    for (const [key, child] of Object.entries(object)) {
      if (key !== 'reference' && child !== null && typeof child === 'object') visit(child, `${path}.${key}`);
    }
  };
  visit(resource, String(resource.resourceType));
  return found;
}

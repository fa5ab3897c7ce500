// FHIR R4 §2.36.4.1 resolving references in Bundles and §3.1.0.11.2 transaction processing rules
// (hl7.org/fhir/R4/bundle.html#references, http.html#trules): an entry's fullUrl (urn:uuid:,
// urn:oid: or an absolute URL) stands for the resource the transaction writes, and every place
// another entry refers to it (references anywhere, extensions and contained resources included,
// uri values, and links in the narrative) is rewritten to the id the server gave it.
import type { Resource } from '@medplum/fhirtypes';

/** `Type/id` each fullUrl of the Bundle became. */
export type FullUrlTargets = Map<string, string>;

const URN = /^urn:(uuid|oid):/;
const TYPED_URL = /^(https?:\/\/.+)\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

export const isUrn = (value: string) => URN.test(value);

/** The base URL and `Type/id` of an absolute RESTful fullUrl (`http://x/fhir/Patient/1`). */
export function restfulUrl(fullUrl: string): { base: string; type: string; id: string } | undefined {
  const match = TYPED_URL.exec(fullUrl);
  return match ? { base: match[1], type: match[2], id: match[3] } : undefined;
}

export interface Rewrite {
  /** A reference to a urn: fullUrl no entry has: the whole Bundle is refused with this value. */
  unresolved: string[];
  /** Conditional references (`Patient?identifier=…`) left for the caller to resolve, with where to put the answer. */
  conditional: { value: string; set: (reference: string) => void }[];
}

/**
 * Rewrites `resource` in place. `fullUrl` is the entry's own, against which relative references
 * are read when it is an absolute URL.
 */
export function rewriteReferences(resource: Resource, fullUrl: string | undefined, targets: FullUrlTargets): Rewrite {
  const out: Rewrite = { unresolved: [], conditional: [] };
  const base = fullUrl ? restfulUrl(fullUrl)?.base : undefined;
  const resolve = (value: string): string | undefined => {
    const direct = targets.get(value) ?? targets.get(value.replace(/\/_history\/[^/]+$/, ''));
    if (direct) return direct;
    if (base && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(value)) return targets.get(`${base}/${value}`);
    return undefined;
  };
  const visit = (node: unknown, key: string | undefined, holder: Record<string, unknown> | unknown[], slot: string | number): void => {
    if (typeof node === 'string') {
      if (key === 'reference') {
        const target = resolve(node);
        if (target) (holder as Record<string, unknown>)[slot as string] = target;
        else if (isUrn(node)) out.unresolved.push(node);
        else if (/^[A-Z][A-Za-z]+\?/.test(node)) out.conditional.push({ value: node, set: (reference) => ((holder as Record<string, unknown>)[slot as string] = reference) });
      } else if (key === 'div') {
        (holder as Record<string, unknown>)[slot as string] = rewriteNarrative(node, targets);
      } else if (isUrn(node)) {
        // uri, url, oid and uuid elements that name an entry (e.g. Provenance.target, Attachment.url).
        const target = targets.get(node);
        if (target) (holder as Record<string, unknown>)[slot as string] = target;
      }
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, key, node, i));
      return;
    }
    if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) visit(v, k, node as Record<string, unknown>, k);
    }
  };
  for (const [k, v] of Object.entries(resource)) {
    if (k !== 'id' && k !== 'resourceType') visit(v, k, resource as unknown as Record<string, unknown>, k);
  }
  return out;
}

/** `href="urn:uuid:…"` and `src="…"` in the narrative XHTML. */
function rewriteNarrative(div: string, targets: FullUrlTargets): string {
  if (!div.includes('urn:') && !div.includes('http')) return div;
  return div.replace(/\b(href|src)="([^"]+)"/g, (whole, attribute: string, value: string) => {
    const target = targets.get(value);
    return target ? `${attribute}="${target}"` : whole;
  });
}

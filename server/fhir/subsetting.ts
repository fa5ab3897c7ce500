// FHIR R4 §3.1.1.5.8-9 `_summary` and `_elements` (hl7.org/fhir/R4/search.html#summary), applied
// to a resource on its way out; a subset is tagged SUBSETTED as the spec requires.
import { elementFlags, elementPath } from '../../resources/summary-elements.js';
import { badRequest } from './errors.js';

export type Subset = { kind: 'summary' } | { kind: 'text' } | { kind: 'data' } | { kind: 'elements'; names: Set<string> };

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

/** Reads `_summary` / `_elements` from a query; undefined means the whole resource. */
export function parseSubset(query: Record<string, unknown>, allowCount = false): Subset | undefined {
  const summary = query._summary;
  const elements = query._elements;
  if (summary !== undefined && typeof summary !== 'string') throw badRequest('_summary may be given once');
  if (elements !== undefined && typeof elements !== 'string') throw badRequest('_elements may be given once');
  if (summary !== undefined && summary !== 'false' && elements !== undefined) throw badRequest('_summary and _elements cannot be combined');
  if (elements !== undefined) {
    const names = elements.split(',').map((n) => n.trim()).filter(Boolean);
    if (!names.length) throw badRequest('_elements needs at least one element name');
    return { kind: 'elements', names: new Set(names) };
  }
  switch (summary) {
    case undefined:
    case 'false':
      return undefined;
    case 'true':
      return { kind: 'summary' };
    case 'text':
      return { kind: 'text' };
    case 'data':
      return { kind: 'data' };
    case 'count':
      if (allowCount) return undefined;
      throw badRequest('_summary=count applies to searches, not to reading one resource');
    default:
      throw badRequest(`_summary must be one of true, false, text, data, count; not "${summary}"`);
  }
}

type Json = Record<string, unknown>;

export function applySubset(resource: Json, subset: Subset): Json {
  const type = String(resource.resourceType);
  const flags = elementFlags(type);
  let result: Json;
  switch (subset.kind) {
    case 'data': {
      const { text: _text, ...rest } = resource;
      return rest;
    }
    case 'summary':
      result = keepSummary(resource, type, flags.summary);
      break;
    case 'text':
      result = pickTop(resource, type, (path, key) => key === 'text' || flags.mandatory.has(path));
      break;
    case 'elements':
      result = pickTop(resource, type, (path, key) => subset.names.has(key) || flags.mandatory.has(path));
      break;
  }
  return tagSubsetted(result);
}

function pickTop(resource: Json, type: string, keep: (path: string, key: string) => boolean): Json {
  const known = elementFlags(type);
  const all = new Set([...known.summary, ...known.mandatory]);
  const out: Json = {};
  for (const [key, value] of Object.entries(resource)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    if (key === 'resourceType' || name === 'id' || key === 'meta' || keep(elementPath(type, name, all), name)) out[key] = value;
  }
  return out;
}

/** Summary elements at every level of backbone elements (`Patient.contact.name`). */
function keepSummary(value: Json, path: string, summary: Set<string>): Json {
  const out: Json = {};
  for (const [key, child] of Object.entries(value)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    if (key === 'resourceType' || (path.indexOf('.') < 0 && (name === 'id' || key === 'meta'))) {
      out[key] = child;
      continue;
    }
    const childPath = elementPath(path, name, summary);
    if (!summary.has(childPath)) continue;
    const hasSummaryChildren = [...summary].some((p) => p.startsWith(`${childPath}.`));
    if (hasSummaryChildren && child !== null && typeof child === 'object') {
      out[key] = Array.isArray(child)
        ? child.map((item) => (item && typeof item === 'object' ? keepSummary(item as Json, childPath, summary) : item))
        : keepSummary(child as Json, childPath, summary);
    } else {
      out[key] = child;
    }
  }
  return out;
}

function tagSubsetted(resource: Json): Json {
  const meta = (resource.meta ?? {}) as Json;
  const tags = Array.isArray(meta.tag) ? (meta.tag as Json[]) : [];
  if (tags.some((tag) => tag.system === SUBSETTED.system && tag.code === SUBSETTED.code)) return resource;
  return { ...resource, meta: { ...meta, tag: [...tags, SUBSETTED] } };
}

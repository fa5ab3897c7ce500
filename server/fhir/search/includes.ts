// FHIR R4 §3.1.1.5.4 _include and _revinclude (hl7.org/fhir/R4/search.html#include): resources the
// matches refer to, and resources that refer to the matches, with :iterate followed a few rounds.
import { column } from '../../../resources/search/index-values.js';
import { indexedParameters } from '../../../resources/search/parameters.js';
import type { Queryable } from '../../store/database.js';
import { readByIds, readReferencing } from '../../store/search/search-sql.js';
import { indexValues } from '../../../resources/search/index-values.js';
import type { Resource } from '@medplum/fhirtypes';
import type { IncludeRequest } from './parse-search.js';

export interface FoundResource {
  resourceType: string;
  id: string;
  content: string;
}

const MAX_ROUNDS = 4;
const MAX_REVINCLUDES = 1000;

export async function resolveIncludes(
  q: Queryable,
  baseUrl: string,
  matches: FoundResource[],
  include: IncludeRequest[],
  revinclude: IncludeRequest[],
): Promise<FoundResource[]> {
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  const included: FoundResource[] = [];
  let frontier = matches;
  for (let round = 0; round < MAX_ROUNDS && frontier.length; round++) {
    const found: FoundResource[] = [];
    for (const request of include) {
      if (round > 0 && !request.iterate) continue;
      found.push(...(await followReferences(q, baseUrl, frontier, request)));
    }
    for (const request of revinclude) {
      if (round > 0 && !request.iterate) continue;
      found.push(...(await followReferrers(q, baseUrl, frontier, request)));
    }
    frontier = [];
    for (const resource of found) {
      const key = `${resource.resourceType}/${resource.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      included.push(resource);
      frontier.push(resource);
    }
  }
  return included;
}

function referenceCodes(type: string, request: IncludeRequest): string[] {
  if (request.code !== '*') return [request.code];
  return [...indexedParameters(type).values()].filter((p) => p.type === 'reference').map((p) => p.code);
}

async function followReferences(q: Queryable, baseUrl: string, from: FoundResource[], request: IncludeRequest): Promise<FoundResource[]> {
  const sources = from.filter((r) => request.code === '*' ? true : r.resourceType === request.sourceType);
  const found: FoundResource[] = [];
  for (const type of new Set(sources.map((r) => r.resourceType))) {
    const byTarget = new Map<string, Set<string>>();
    const resources = sources.filter((r) => r.resourceType === type).map((r) => JSON.parse(r.content) as Resource);
    for (const code of referenceCodes(type, request)) {
      const parameter = indexedParameters(type).get(code);
      if (!parameter) continue;
      // The references are read from the resources already in hand rather than from the database.
      const keys = resources.flatMap((resource) => (indexValues(resource, [parameter])[column.main(code)] as string[] | null) ?? []);
      for (const key of new Set(keys)) {
        const local = key.startsWith(`${baseUrl}/`) ? key.slice(baseUrl.length + 1) : key;
        const match = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(local);
        if (!match || (request.targetType && match[1] !== request.targetType)) continue;
        if (!byTarget.has(match[1])) byTarget.set(match[1], new Set());
        byTarget.get(match[1])?.add(match[2]);
      }
    }
    for (const [target, targetIds] of byTarget) {
      if (!indexedParameters(target)) continue;
      for (const row of await readByIds(q, target, [...targetIds])) found.push({ resourceType: target, ...row });
    }
  }
  return found;
}

async function followReferrers(q: Queryable, baseUrl: string, to: FoundResource[], request: IncludeRequest): Promise<FoundResource[]> {
  const targets = to
    .filter((r) => !request.targetType || r.resourceType === request.targetType)
    .flatMap((r) => [`${r.resourceType}/${r.id}`, `${baseUrl}/${r.resourceType}/${r.id}`]);
  if (!targets.length) return [];
  const found: FoundResource[] = [];
  for (const code of referenceCodes(request.sourceType, request)) {
    const rows = await readReferencing(q, request.sourceType, column.main(code), targets, MAX_REVINCLUDES);
    for (const row of rows) found.push({ resourceType: request.sourceType, ...row });
  }
  return found;
}

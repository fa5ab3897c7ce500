// FHIR R4 §3.1.1.5.4 _include and _revinclude (hl7.org/fhir/R4/search.html#include): resources the
// matches refer to, and resources that refer to the matches, with :iterate followed a few rounds.
// How far includes go is the server's to decide; here a page holds at most KILN_MAX_INCLUDES of
// them and :iterate follows MAX_ITERATE_ROUNDS steps, and the search says when either cut it short.
import { column } from '../../../resources/search/index-values.js';
import { isResourceType } from '../../../resources/definitions.js';
import { indexedParameters } from '../../../resources/search/parameters.js';
import type { Queryable } from '../../store/database.js';
import type { Condition } from '../../store/search/condition.js';
import { readByIds, readReferencing } from '../../store/search/search-sql.js';
import { indexValues } from '../../../resources/search/index-values.js';
import type { Resource } from '@medplum/fhirtypes';
import type { IncludeRequest } from './parse-search.js';

export interface FoundResource {
  resourceType: string;
  id: string;
  content: string;
}

/** Rounds of `:iterate` after the first: a chain of references is followed this many steps at most. */
export const MAX_ITERATE_ROUNDS = 3;

/** What a resource of `type` must meet to be included; null when none may be. */
export type IncludeRestriction = (type: string) => Condition | undefined | null;

export interface IncludeResult {
  included: FoundResource[];
  /** Why some resources the request names were left out: the page's limit, or the rounds of :iterate. */
  stopped?: 'limit' | 'rounds';
}

/** The resources of one page so far, and how many more it may take (KILN_MAX_INCLUDES). */
class IncludedSet {
  readonly included: FoundResource[] = [];
  private readonly seen = new Set<string>();
  private readonly seenByType = new Map<string, number>();
  full = false;

  constructor(
    matches: FoundResource[],
    private readonly limit: number,
  ) {
    for (const r of matches) this.mark(r);
  }

  private mark(r: FoundResource): void {
    this.seen.add(`${r.resourceType}/${r.id}`);
    this.seenByType.set(r.resourceType, (this.seenByType.get(r.resourceType) ?? 0) + 1);
  }

  has(type: string, id: string): boolean {
    return this.seen.has(`${type}/${id}`);
  }

  get remaining(): number {
    return this.limit - this.included.length;
  }

  /** Rows a query must read to find `remaining + 1` new ones among those of `type` already held. */
  rowsToRead(type: string): number {
    return this.remaining + (this.seenByType.get(type) ?? 0) + 1;
  }

  /** Takes the new ones of `found`; those past the limit mark the page full. Returns those taken. */
  take(found: FoundResource[]): FoundResource[] {
    const taken: FoundResource[] = [];
    for (const r of found) {
      if (this.has(r.resourceType, r.id)) continue;
      if (this.remaining <= 0) {
        this.full = true;
        break;
      }
      this.mark(r);
      this.included.push(r);
      taken.push(r);
    }
    return taken;
  }
}

/**
 * The restriction applies inside each round's query, so :iterate never walks on from a resource the
 * caller may not see. At most `limit` resources are included, each query reading no more than it
 * needs to know whether the limit is passed.
 */
export async function resolveIncludes(
  q: Queryable,
  baseUrl: string,
  matches: FoundResource[],
  include: IncludeRequest[],
  revinclude: IncludeRequest[],
  restrict: IncludeRestriction = () => undefined,
  limit = Infinity,
): Promise<IncludeResult> {
  const set = new IncludedSet(matches, limit);
  let frontier = matches;
  for (let round = 0; frontier.length; round++) {
    const requests = [...include.map((r) => ({ r, follow: followReferences })), ...revinclude.map((r) => ({ r, follow: followReferrers }))].filter(({ r }) => round === 0 || r.iterate);
    if (!requests.length) break;
    if (round > MAX_ITERATE_ROUNDS) return { included: set.included, stopped: 'rounds' };
    const next: FoundResource[] = [];
    for (const { r, follow } of requests) {
      next.push(...set.take(await follow(q, baseUrl, frontier, r, restrict, set)));
      if (set.full) return { included: set.included, stopped: 'limit' };
    }
    frontier = next;
  }
  return { included: set.included };
}

function referenceCodes(type: string, request: IncludeRequest): string[] {
  if (request.code !== '*') return [request.code];
  return [...indexedParameters(type).values()].filter((p) => p.type === 'reference').map((p) => p.code);
}

async function followReferences(q: Queryable, baseUrl: string, from: FoundResource[], request: IncludeRequest, restrict: IncludeRestriction, set: IncludedSet): Promise<FoundResource[]> {
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
        if (set.has(match[1], match[2])) continue;
        if (!byTarget.has(match[1])) byTarget.set(match[1], new Set());
        byTarget.get(match[1])?.add(match[2]);
      }
    }
    for (const [target, targetIds] of byTarget) {
      if (!isResourceType(target)) continue;
      const restriction = restrict(target);
      if (restriction === null) continue;
      // One more than the page may still take tells whether the limit is passed; ids that name
      // nothing are skipped by reading on, a few hundred at a time.
      const ids = [...targetIds];
      for (let at = 0; at < ids.length && found.length <= set.remaining; ) {
        const size = Math.max(set.remaining + 1 - found.length, 500);
        const chunk = ids.slice(at, at + size);
        at += size;
        for (const row of await readByIds(q, target, chunk, restriction)) found.push({ resourceType: target, ...row });
      }
    }
  }
  return found;
}

async function followReferrers(q: Queryable, baseUrl: string, to: FoundResource[], request: IncludeRequest, restrict: IncludeRestriction, set: IncludedSet): Promise<FoundResource[]> {
  const restriction = restrict(request.sourceType);
  if (restriction === null) return [];
  const targets = to
    .filter((r) => !request.targetType || r.resourceType === request.targetType)
    .flatMap((r) => [`${r.resourceType}/${r.id}`, `${baseUrl}/${r.resourceType}/${r.id}`]);
  if (!targets.length) return [];
  const found: FoundResource[] = [];
  for (const code of referenceCodes(request.sourceType, request)) {
    const rows = await readReferencing(q, request.sourceType, column.main(code), targets, set.rowsToRead(request.sourceType), restriction);
    for (const row of rows) found.push({ resourceType: request.sourceType, ...row });
  }
  return found;
}

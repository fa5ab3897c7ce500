// FHIR R4 §3.1.1 search (hl7.org/fhir/R4/http.html#search, search.html): a searchset Bundle with
// self/next/previous links a client can follow to the end, matches and includes marked as such.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { applySubset } from '../subsetting.js';
import { countRows, readByIds, searchRows, type SearchRow } from '../../store/search/search-sql.js';
import type { FhirContext } from '../context.js';
import { invalidValue } from '../errors.js';
import { encodeCursor } from '../search/cursor.js';
import { MAX_ITERATE_ROUNDS, resolveIncludes, type FoundResource, type IncludeResult } from '../search/includes.js';
import { parseSearch, type ParsedSearch } from '../search/parse-search.js';
import { compartmentCondition } from './everything.js';
import { readRestriction, restrictSearchConditions, searchRestriction } from '../access-checks.js';
import { auditRead } from '../audit-hooks.js';

export interface SearchOptions {
  lenient: boolean;
  /** Search within a compartment: `Patient/123/Observation?…`. */
  compartment?: { type: string; id: string };
}

export async function search(ctx: FhirContext, resourceType: string, params: [string, string][], options: SearchOptions): Promise<string> {
  const plan = parseSearch(resourceType, params, {
    defaultCount: ctx.defaultPageSize,
    maxCount: ctx.maxPageSize,
    baseUrl: ctx.baseUrl,
    lenient: options.lenient,
  });
  const restriction = searchRestriction(ctx, resourceType);
  const conditions = restrictSearchConditions(ctx, plan.conditions);
  if (options.compartment) {
    const membership = compartmentCondition(options.compartment.type, options.compartment.id, resourceType, ctx.baseUrl);
    if (!membership) throw invalidValue(`${resourceType} resources are never in the ${options.compartment.type} compartment`);
    conditions.push(membership);
  }
  if (restriction) conditions.push(restriction);
  const prefix = options.compartment ? `${options.compartment.type}/${options.compartment.id}/` : '';
  const spec = { resourceType, conditions, sort: plan.sort, count: plan.count, page: plan.page, contained: plan.contained };

  const rows = plan.summaryCount ? [] : await searchRows(ctx.db, spec);
  const more = rows.length > plan.count;
  const page = rows.slice(0, plan.count);
  if (plan.page?.before) page.reverse();
  const total = plan.total === 'none' ? undefined : await countRows(ctx.db, spec, plan.total === 'estimate');

  const found = page.map((row) => ({ resourceType, id: row.id, content: row.content }));
  const matches = plan.contained !== 'false' && plan.containedType === 'container' ? await containersOf(ctx, found) : found;
  // Included resources are only those the caller may read, at every round of :iterate: the search is narrowed, not failed.
  const restrict = (type: string) => readRestriction(ctx, type);
  const { included, stopped } = plan.include.length || plan.revinclude.length ? await resolveIncludes(ctx.db, ctx.baseUrl, matches, plan.include, plan.revinclude, restrict, ctx.maxIncludes) : { included: [], stopped: undefined };

  const hasNewer = plan.page?.before ? more : Boolean(plan.page?.after);
  const hasOlder = plan.page?.before ? true : more;
  const links = [{ relation: 'self', url: linkUrl(ctx, plan, prefix, plan.page ? (plan.page.after ? encodeCursor('after', plan.page.after) : encodeCursor('before', plan.page.before as unknown[])) : undefined) }];
  if (hasNewer && page.length) links.push({ relation: 'previous', url: linkUrl(ctx, plan, prefix, encodeCursor('before', (page[0] as SearchRow).key)) });
  if (hasOlder && page.length) links.push({ relation: 'next', url: linkUrl(ctx, plan, prefix, encodeCursor('after', (page[page.length - 1] as SearchRow).key)) });

  const head: Record<string, unknown> = { resourceType: 'Bundle', type: 'searchset' };
  if (total !== undefined) head.total = total;
  head.link = links;
  const entries = [
    ...matches.map((r) => entryText(ctx, plan, r, 'match')),
    ...included.map((r) => entryText(ctx, plan, r, 'include')),
  ];
  const warnings = [...ignoredWarnings(plan.ignored), ...includeWarnings(ctx, stopped)];
  if (warnings.length) entries.push(JSON.stringify({ resource: { resourceType: 'OperationOutcome', issue: warnings }, search: { mode: 'outcome' } }));
  auditRead(ctx, 'search-type', { type: resourceType, query: `${prefix}${resourceType}?${new URLSearchParams(params)}` });
  const headText = JSON.stringify(head);
  return `${headText.slice(0, -1)}${entries.length ? `,"entry":[${entries.join(',')}]` : ''}}`;
}

function linkUrl(ctx: FhirContext, plan: ParsedSearch, prefix: string, page?: string): string {
  const search = new URLSearchParams(plan.linkParams);
  if (!search.has('_count')) search.set('_count', String(plan.count));
  if (page) search.set('_page', page);
  return `${ctx.baseUrl}/${prefix}${plan.resourceType}?${search}`;
}

function entryText(ctx: FhirContext, plan: ParsedSearch, resource: FoundResource, mode: 'match' | 'include'): string {
  const content = plan.subset ? JSON.stringify(applySubset(JSON.parse(resource.content) as Record<string, unknown>, plan.subset)) : resource.content;
  // A contained resource's id is `Container/id#local`: its address is its container's, with the fragment.
  const fullUrl = resource.id.includes('#') ? `${ctx.baseUrl}/${resource.id}` : `${ctx.baseUrl}/${resource.resourceType}/${resource.id}`;
  return `{"fullUrl":${JSON.stringify(fullUrl)},"resource":${content},"search":{"mode":"${mode}"}}`;
}

/**
 * `_containedType=container`: each contained match answered by its container, once, in order; only
 * containers the caller may read.
 */
async function containersOf(ctx: FhirContext, found: FoundResource[]): Promise<FoundResource[]> {
  const wanted = found.map((r) => (r.id.includes('#') ? r.id.split('#')[0] : `${r.resourceType}/${r.id}`));
  const byType = new Map<string, Set<string>>();
  for (const reference of wanted) {
    const [type, id] = reference.split('/');
    if (!byType.has(type)) byType.set(type, new Set());
    byType.get(type)?.add(id);
  }
  const loaded = new Map<string, FoundResource>();
  for (const [type, ids] of byType) {
    const restriction = readRestriction(ctx, type);
    if (restriction === null) continue;
    for (const row of await readByIds(ctx.db, type, [...ids], restriction)) loaded.set(`${type}/${row.id}`, { resourceType: type, ...row });
  }
  const seen = new Set<string>();
  return wanted.flatMap((reference) => {
    const resource = loaded.get(reference);
    if (!resource || seen.has(reference)) return [];
    seen.add(reference);
    return [resource];
  });
}

function ignoredWarnings(ignored: string[]): OperationOutcomeIssue[] {
  return ignored.map((name) => ({
    severity: 'warning',
    code: 'not-supported',
    details: { text: `Search parameter "${name}" is not known and was ignored (Prefer: handling=lenient)` },
  }));
}

/**
 * R4 search.html leaves how far includes are followed to the server, and gives the outcome entry
 * for warnings about the search: a page whose includes were cut short says so, with the limit.
 */
function includeWarnings(ctx: FhirContext, stopped: IncludeResult['stopped']): OperationOutcomeIssue[] {
  if (!stopped) return [];
  const text =
    stopped === 'limit'
      ? `_include and _revinclude stopped at ${ctx.maxIncludes} included resources, the most one page carries (KILN_MAX_INCLUDES): this page does not hold every resource they name`
      : `:iterate stopped after ${MAX_ITERATE_ROUNDS} rounds: resources further along the references were not included`;
  return [{ severity: 'warning', code: 'too-costly', details: { text } }];
}

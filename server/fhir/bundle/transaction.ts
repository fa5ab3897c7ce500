// FHIR R4 §3.1.0.11.2 transaction (hl7.org/fhir/R4/http.html#trules): every entry succeeds or
// nothing is written, in one database transaction. Entries run in the order the specification
// sets (DELETE, POST, PUT and PATCH, then GET and HEAD), after each fullUrl has been given the id
// its resource will have and every reference to it rewritten.
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { SqlState, sqlStateOf } from '../../store/database.js';
import { lockCriteria } from '../../store/match-query.js';
import { transactionScope } from '../../store/transaction-scope.js';
import type { FhirContext, ReturnPreference } from '../context.js';
import { badRequest, FhirError, invalidResource } from '../errors.js';
import { missingIssue, missingReferences } from '../write-checks.js';
import { bundleOf, EntryError, parseEntry, type ParsedEntry } from './bundle-entries.js';
import { rewriteReferences, type FullUrlTargets } from './bundle-references.js';
import { conditionalTarget, soleMatch } from './conditional-references.js';
import { runEntry, type EntryOutcome } from './run-entry.js';

const PHASES: ParsedEntry['request']['method'][][] = [['DELETE'], ['POST'], ['PUT', 'PATCH'], ['GET', 'HEAD']];

/**
 * `readBundle` gives the posted Bundle, freshly parsed each time it is called: entries are
 * rewritten in place, and a transaction that lost a race to another runs again from the start.
 */
export async function transaction(ctx: FhirContext, readBundle: () => unknown, preference: ReturnPreference): Promise<Bundle> {
  const entriesOf = (body: unknown) => {
    const entries = (bundleOf(body, ctx.maxBundleEntries).entry ?? []).map((entry, index) => parseEntry(entry, index, ctx.baseUrl));
    assertDistinctFullUrls(entries);
    return entries;
  };
  let entries = entriesOf(readBundle());
  const run = () => ctx.db.transaction((tx) => runAll({ ...ctx, db: transactionScope(ctx.db, tx), checkReferences: false }, ctx.checkReferences, entries, preference));
  let outcomes: EntryOutcome[];
  try {
    outcomes = await run();
  } catch (error) {
    if (!lostRace(error)) throw error;
    entries = entriesOf(readBundle());
    outcomes = await run();
  }
  return {
    resourceType: 'Bundle',
    type: 'transaction-response',
    entry: outcomes.map((outcome): BundleEntry => ({ ...(outcome.resource ? { resource: outcome.resource } : {}), response: outcome.response })),
  };
}

/** `readBundle` for `transaction`: the Bundle already parsed the first time, parsed anew after that. */
export function postedBundle(parsed: unknown, parse: () => unknown): () => unknown {
  let first: unknown = parsed;
  return () => {
    const bundle = first ?? parse();
    first = undefined;
    return bundle;
  };
}

async function runAll(ctx: FhirContext, checkReferences: boolean, entries: ParsedEntry[], preference: ReturnPreference): Promise<EntryOutcome[]> {
  const outcomes: EntryOutcome[] = new Array(entries.length);
  const inPhase = (methods: string[]) => entries.filter((e) => methods.includes(e.request.method));
  for (const entry of inPhase(PHASES[0])) outcomes[entry.index] = await attempt(entry, () => runEntry(ctx, entry, preference));

  const ids = await assignIds(ctx, entries);
  await rewriteAll(ctx, entries, ids.targets);

  // Plain creates run together, so that their rows are written by a few multi-row statements.
  const posts = inPhase(PHASES[1]);
  const plain = posts.filter((e) => e.request.ifNoneExist === undefined);
  const settled = await Promise.allSettled(plain.map((entry) => attempt(entry, () => runEntry(ctx, entry, preference, ids.byEntry.get(entry.index)))));
  throwFirstFailure(settled);
  settled.forEach((result, i) => (outcomes[plain[i].index] = (result as PromiseFulfilledResult<EntryOutcome>).value));
  for (const entry of posts.filter((e) => e.request.ifNoneExist !== undefined)) {
    outcomes[entry.index] = await attempt(entry, () => runEntry(ctx, entry, preference, ids.byEntry.get(entry.index)));
  }
  for (const entry of inPhase(PHASES[2])) outcomes[entry.index] = await attempt(entry, () => runEntry(ctx, entry, preference));

  if (checkReferences) await assertReferencesExist(ctx, entries, outcomes);
  for (const entry of inPhase(PHASES[3])) outcomes[entry.index] = await attempt(entry, () => runEntry(ctx, entry, preference));
  return outcomes;
}

/** Runs one entry; a FHIR failure is reported as that entry's. */
async function attempt<T>(entry: ParsedEntry, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof FhirError && !(error instanceof EntryError)) throw new EntryError(entry, error);
    throw error;
  }
}

/**
 * Of several entries that failed together, the one to report: an entry's own failure rather than
 * one caused by the transaction having been aborted under it, and the first in Bundle order.
 */
function throwFirstFailure(settled: PromiseSettledResult<unknown>[]): void {
  const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (!failures.length) return;
  const own = failures.filter((error) => error instanceof EntryError).sort((a, b) => (a as EntryError).entry.index - (b as EntryError).entry.index);
  throw own[0] ?? failures.find((error) => sqlStateOf(error) !== '25P02') ?? failures[0];
}

function assertDistinctFullUrls(entries: ParsedEntry[]): void {
  const seen = new Map<string, number>();
  for (const entry of entries) {
    if (!entry.fullUrl || !entry.resource || !['POST', 'PUT'].includes(entry.request.method)) continue;
    const earlier = seen.get(entry.fullUrl);
    if (earlier !== undefined) throw new EntryError(entry, badRequest(`fullUrl ${entry.fullUrl} is also the fullUrl of entry ${earlier}; each resource of a transaction needs its own`));
    seen.set(entry.fullUrl, entry.index);
  }
}

interface AssignedIds {
  /** fullUrl → `Type/id`. */
  targets: FullUrlTargets;
  /** The id each create will give its resource. */
  byEntry: Map<number, string>;
}

/**
 * The id each written resource will have: a new one for a create (or the match of its
 * ifNoneExist), the one in the url of an update (or the match of its criteria).
 */
async function assignIds(ctx: FhirContext, entries: ParsedEntry[]): Promise<AssignedIds> {
  const targets: FullUrlTargets = new Map();
  const byEntry = new Map<number, string>();
  // Two creates with the same ifNoneExist make one resource.
  const byCriteria = new Map<string, string>();
  for (const entry of entries) {
    const { method, resourceType, id, query, ifNoneExist } = entry.request;
    const type = resourceType as string;
    let target: string | undefined;
    if (method === 'POST') {
      if (ifNoneExist !== undefined) {
        const key = `${type}?${ifNoneExist}`;
        // The same lock the create takes, so that no other writer can make a match in between.
        await lockCriteria(ctx.db, key);
        target = byCriteria.get(key) ?? (await attempt(entry, () => soleMatch(ctx, type, ifNoneExist, 'ifNoneExist'))) ?? randomUUID();
        byCriteria.set(key, target);
      } else {
        target = randomUUID();
      }
      byEntry.set(entry.index, target);
    } else if (method === 'PUT') {
      if (id) target = id;
      else {
        target = (await attempt(entry, () => soleMatch(ctx, type, query as string, 'Conditional update'))) ?? entry.resource?.id ?? randomUUID();
        if (entry.resource && entry.resource.id === undefined) entry.resource = { ...entry.resource, id: target };
      }
    }
    if (target && entry.fullUrl) targets.set(entry.fullUrl, `${type}/${target}`);
  }
  return { targets, byEntry };
}

/** Rewrites fullUrl references and resolves conditional ones (`Patient?identifier=…`) in every written resource. */
async function rewriteAll(ctx: FhirContext, entries: ParsedEntry[], targets: FullUrlTargets): Promise<void> {
  const resolved = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.resource || (entry.request.method !== 'POST' && entry.request.method !== 'PUT')) continue;
    await attempt(entry, async () => {
      const rewrite = rewriteReferences(entry.resource as Resource, entry.fullUrl, targets);
      if (rewrite.unresolved.length) {
        throw badRequest(`Reference "${rewrite.unresolved[0]}" names no entry of this transaction (no entry has that fullUrl)`);
      }
      for (const { value, set } of rewrite.conditional) {
        let reference = resolved.get(value);
        if (!reference) resolved.set(value, (reference = await conditionalTarget(ctx, value)));
        set(reference);
      }
    });
  }
}

/** After all writes: every reference of every written resource points at something that now exists. */
async function assertReferencesExist(ctx: FhirContext, entries: ParsedEntry[], outcomes: EntryOutcome[]): Promise<void> {
  const written = entries.filter((e) => outcomes[e.index]?.written);
  const missing = await missingReferences(ctx, ctx.db, written.map((e) => outcomes[e.index].written as Resource));
  const failing = missing.findIndex((refs) => refs.length);
  if (failing >= 0) throw new EntryError(written[failing], invalidResource(missing[failing].map(missingIssue)));
}

/** Two transactions wrote the same row at once: the loser may run again against the winner's. */
function lostRace(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state === SqlState.uniqueViolation || state === SqlState.serializationFailure || state === SqlState.deadlockDetected;
}

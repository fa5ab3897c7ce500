// FHIR R4 §3.1.0.11.2 transaction (hl7.org/fhir/R4/http.html#trules): every entry succeeds or
// nothing is written, in one database transaction. Entries run in the order the specification
// sets (DELETE, POST, PUT and PATCH, then GET and HEAD), after each fullUrl has been given the id
// its resource will have and every reference to it rewritten.
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { SqlState, sqlStateOf } from '../../store/database.js';
import { criteriaKey, findMatchingIds, lockCriteria } from '../../store/match-query.js';
import { parseCriteria } from '../conditional-criteria.js';
import { transactionScope } from '../../store/transaction-scope.js';
import type { FhirContext, ReturnPreference } from '../context.js';
import { badRequest, FhirError, invalidResource } from '../errors.js';
import { missingIssue, missingReferences } from '../write-checks.js';
import { bundleOf, EntryError, parseEntry, type ParsedEntry } from './bundle-entries.js';
import { rewriteReferences, type FullUrlTargets } from './bundle-references.js';
import { conditionalTarget, soleMatch } from './conditional-references.js';
import { HEAVY_ENTRIES_PER_TURN, LIGHT_ENTRIES_PER_TURN, pacer } from './pacing.js';
import { ReadBudget } from './read-budget.js';
import { runEntry, type EntryOutcome } from './run-entry.js';

const PHASES: ParsedEntry['request']['method'][][] = [['DELETE'], ['POST'], ['PUT', 'PATCH'], ['GET', 'HEAD']];

/**
 * `readBundle` gives the posted Bundle, freshly parsed each time it is called: entries are
 * rewritten in place, and a transaction that lost a race to another runs again from the start.
 */
export async function transaction(ctx: FhirContext, readBundle: () => unknown, preference: ReturnPreference): Promise<Bundle> {
  const entriesOf = async (body: unknown) => {
    const pace = pacer(LIGHT_ENTRIES_PER_TURN);
    const entries: ParsedEntry[] = [];
    for (const [index, entry] of (bundleOf(body, ctx.maxBundleEntries).entry ?? []).entries()) {
      entries.push(parseEntry(entry, index, ctx.baseUrl));
      await pace();
    }
    assertDistinctFullUrls(entries);
    return entries;
  };
  let entries = await entriesOf(readBundle());
  const run = () => ctx.db.transaction((tx) => runAll({ ...ctx, db: transactionScope(ctx.db, tx), checkReferences: false }, ctx.checkReferences, entries, preference));
  let outcomes: EntryOutcome[];
  try {
    outcomes = await run();
  } catch (error) {
    if (!lostRace(error)) throw error;
    entries = await entriesOf(readBundle());
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
  const pace = pacer(HEAVY_ENTRIES_PER_TURN);
  const deleted = await deleteIdentities(ctx, inPhase(PHASES[0]));
  for (const entry of inPhase(PHASES[0])) {
    outcomes[entry.index] = await attempt(entry, () => runEntry(ctx, entry, preference));
    await pace();
  }

  const ids = await assignIds(ctx, entries);
  await assertDistinctIdentities(ctx, entries, deleted, ids);
  await rewriteAll(ctx, entries, ids.targets);

  // Plain creates run together, so that their rows are written by a few multi-row statements:
  // started a slice at a time (each create validates and indexes before it waits for its batch),
  // and no more once one has failed, since the transaction fails with it.
  const posts = inPhase(PHASES[1]);
  const plain = posts.filter((e) => e.request.ifNoneExist === undefined);
  const started: Promise<PromiseSettledResult<EntryOutcome>>[] = [];
  let failed = false;
  for (const entry of plain) {
    if (failed) break;
    started.push(settle(attempt(entry, () => runEntry(ctx, entry, preference, ids.byEntry.get(entry.index))), () => (failed = true)));
    await pace();
  }
  const settled = await Promise.all(started);
  throwFirstFailure(settled);
  settled.forEach((result, i) => (outcomes[plain[i].index] = (result as PromiseFulfilledResult<EntryOutcome>).value));
  for (const entry of posts.filter((e) => e.request.ifNoneExist !== undefined)) {
    outcomes[entry.index] = await attempt(entry, () => runEntry(ctx, entry, preference, ids.byEntry.get(entry.index)));
    await pace();
  }
  for (const entry of inPhase(PHASES[2])) {
    const madeId = ids.serverAssigned.has(entry.index) ? ids.byEntry.get(entry.index) : undefined;
    outcomes[entry.index] = await attempt(entry, () => runEntry(ctx, entry, preference, madeId));
    await pace();
  }

  if (checkReferences) await assertReferencesExist(ctx, entries, outcomes);
  const budget = new ReadBudget(ctx.maxBatchResults);
  for (const entry of inPhase(PHASES[3])) {
    outcomes[entry.index] = await attempt(entry, () => runEntry(ctx, entry, preference, undefined, budget));
    await pace();
  }
  return outcomes;
}

/** The promise's outcome as a value, so that a failure is handled at once; `onFailure` hears of one. */
function settle<T>(work: Promise<T>, onFailure: () => void): Promise<PromiseSettledResult<T>> {
  return work.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => {
      onFailure();
      return { status: 'rejected', reason };
    },
  );
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
  /** The id each create will give its resource, and the id each update will write. */
  byEntry: Map<number, string>;
  /** Conditional updates that matched nothing and carried no id: their id is new, made here. */
  serverAssigned: Set<number>;
  /** The parsed ifNoneExist of each conditional create, as one text (match-query.ts criteriaKey). */
  criteriaKeys: Map<number, string>;
}

/** `Type/id` of everything the DELETE entries remove, conditional ones by their matches. */
async function deleteIdentities(ctx: FhirContext, deletes: ParsedEntry[]): Promise<Map<number, string[]>> {
  const identities = new Map<number, string[]>();
  for (const entry of deletes) {
    const { resourceType, id, query } = entry.request;
    const matched = id ? [id] : await attempt(entry, async () => findMatchingIds(ctx.db, resourceType as string, parseCriteria(ctx, resourceType as string, query as string, 'Conditional delete'), ctx.maxConditionalDeletes + 1));
    identities.set(entry.index, matched.map((match) => `${resourceType}/${match}`));
  }
  return identities;
}

/**
 * R4 http.html#trules: when the resources that the DELETE, POST, PUT and PATCH entries touch
 * (conditional ones as resolved) overlap, the transaction fails. Entries that create by the same
 * ifNoneExist are one create, not an overlap.
 */
async function assertDistinctIdentities(ctx: FhirContext, entries: ParsedEntry[], deleted: Map<number, string[]>, ids: AssignedIds): Promise<void> {
  const claimed = new Map<string, { claimant: string; entry: ParsedEntry }>();
  const claim = async (entry: ParsedEntry, identity: string, claimant: string) => {
    const earlier = claimed.get(identity);
    if (earlier && earlier.claimant !== claimant) {
      throw new EntryError(entry, badRequest(`${identity} is also touched by entry ${earlier.entry.index}: the entries of a transaction may not overlap (DELETE, POST, PUT and PATCH of the same resource)`));
    }
    claimed.set(identity, { claimant, entry });
  };
  const pace = pacer(LIGHT_ENTRIES_PER_TURN);
  for (const entry of entries) {
    await pace();
    const { method, resourceType, id, query, ifNoneExist } = entry.request;
    const own = `entry ${entry.index}`;
    if (method === 'DELETE') for (const identity of deleted.get(entry.index) ?? []) await claim(entry, identity, own);
    else if (method === 'POST') await claim(entry, `${resourceType}/${ids.byEntry.get(entry.index)}`, ifNoneExist === undefined ? own : (ids.criteriaKeys.get(entry.index) as string));
    else if (method === 'PUT') await claim(entry, `${resourceType}/${ids.byEntry.get(entry.index)}`, own);
    else if (method === 'PATCH') {
      const target = id ?? (await attempt(entry, () => soleMatch(ctx, resourceType as string, query as string, 'Conditional patch')));
      if (target) await claim(entry, `${resourceType}/${target}`, own);
    }
  }
}

/**
 * The id each written resource will have: a new one for a create (or the match of its
 * ifNoneExist), the one in the url of an update (or the match of its criteria).
 */
async function assignIds(ctx: FhirContext, entries: ParsedEntry[]): Promise<AssignedIds> {
  const targets: FullUrlTargets = new Map();
  const byEntry = new Map<number, string>();
  const serverAssigned = new Set<number>();
  const criteriaKeys = new Map<number, string>();
  // Two creates with the same ifNoneExist make one resource.
  const byCriteria = new Map<string, string>();
  const pace = pacer(LIGHT_ENTRIES_PER_TURN);
  for (const entry of entries) {
    await pace();
    const { method, resourceType, id, query, ifNoneExist } = entry.request;
    const type = resourceType as string;
    let target: string | undefined;
    if (method === 'POST') {
      if (ifNoneExist !== undefined) {
        const criteria = await attempt(entry, async () => parseCriteria(ctx, type, ifNoneExist, 'ifNoneExist'));
        // Keyed by the parsed criteria, so that every spelling of the same criteria is one create.
        const key = criteriaKey(type, criteria);
        criteriaKeys.set(entry.index, key);
        // The same lock the create takes, so that no other writer can make a match in between.
        await lockCriteria(ctx.db, type, criteria);
        target = byCriteria.get(key) ?? (await attempt(entry, () => soleMatch(ctx, type, ifNoneExist, 'ifNoneExist'))) ?? randomUUID();
        byCriteria.set(key, target);
      } else {
        target = randomUUID();
      }
      byEntry.set(entry.index, target);
    } else if (method === 'PUT') {
      if (id) target = id;
      else {
        target = (await attempt(entry, () => soleMatch(ctx, type, query as string, 'Conditional update'))) ?? entry.resource?.id;
        if (target === undefined) {
          target = randomUUID();
          serverAssigned.add(entry.index);
        }
        if (entry.resource && entry.resource.id === undefined) entry.resource = { ...entry.resource, id: target };
      }
      byEntry.set(entry.index, target);
    }
    if (target && entry.fullUrl) targets.set(entry.fullUrl, `${type}/${target}`);
  }
  return { targets, byEntry, serverAssigned, criteriaKeys };
}

/** Rewrites fullUrl references and resolves conditional ones (`Patient?identifier=…`) in every written resource. */
async function rewriteAll(ctx: FhirContext, entries: ParsedEntry[], targets: FullUrlTargets): Promise<void> {
  const resolved = new Map<string, string>();
  const pace = pacer(LIGHT_ENTRIES_PER_TURN);
  for (const entry of entries) {
    await pace();
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

// FHIR R4 §3.1.0.11.1 batch (hl7.org/fhir/R4/http.html#brules): each entry on its own, in its own
// database transaction; a failing entry gets its own OperationOutcome and the others go on.
// Entries of a batch may not depend on each other, so a reference to another entry's fullUrl fails.
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { STATUS_CODES } from 'node:http';
import type { FhirContext, ReturnPreference } from '../context.js';
import { badRequest, FhirError } from '../errors.js';
import { bundleOf, EntryError, parseEntry, type ParsedEntry } from './bundle-entries.js';
import { isUrn, rewriteReferences } from './bundle-references.js';
import { conditionalTarget } from './conditional-references.js';
import { HEAVY_ENTRIES_PER_TURN, pacer } from './pacing.js';
import { ReadBudget } from './read-budget.js';
import { runEntry, type EntryOutcome } from './run-entry.js';

/** Entries in flight at once: enough to fill the connection pool, few enough to keep memory flat. */
const CONCURRENCY = 16;

export async function batch(ctx: FhirContext, body: unknown, preference: ReturnPreference): Promise<Bundle> {
  const raw = bundleOf(body, ctx.maxBundleEntries).entry ?? [];
  const outcomes: EntryOutcome[] = new Array(raw.length);
  const budget = new ReadBudget(ctx.maxBatchResults);
  const pace = pacer(HEAVY_ENTRIES_PER_TURN);
  let next = 0;
  const worker = async () => {
    while (next < raw.length) {
      const index = next++;
      outcomes[index] = await runOne(ctx, raw[index], index, preference, budget);
      await pace();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, raw.length) }, worker));
  return {
    resourceType: 'Bundle',
    type: 'batch-response',
    entry: outcomes.map((outcome): BundleEntry => ({ ...(outcome.resource ? { resource: outcome.resource } : {}), response: outcome.response })),
  };
}

async function runOne(ctx: FhirContext, raw: BundleEntry, index: number, preference: ReturnPreference, budget: ReadBudget): Promise<EntryOutcome> {
  try {
    const entry = parseEntry(raw, index, ctx.baseUrl);
    await resolveReferences(ctx, entry);
    return await runEntry(ctx, entry, preference, undefined, budget);
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    const failure = error instanceof EntryError ? error : new EntryError({ index, fullUrl: raw?.fullUrl }, error);
    return { response: { status: `${failure.status} ${STATUS_CODES[failure.status] ?? ''}`.trim(), outcome: failure.toOperationOutcome() } };
  }
}

/** Conditional references are resolved by search; a reference to another entry cannot be. */
async function resolveReferences(ctx: FhirContext, entry: ParsedEntry): Promise<void> {
  if (!entry.resource || (entry.request.method !== 'POST' && entry.request.method !== 'PUT')) return;
  const rewrite = rewriteReferences(entry.resource as Resource, entry.fullUrl, new Map());
  const toEntry = rewrite.unresolved.find(isUrn);
  if (toEntry) throw badRequest(`Reference "${toEntry}" names another entry: entries of a batch may not depend on each other (send a transaction)`);
  for (const { value, set } of rewrite.conditional) set(await conditionalTarget(ctx, value));
}


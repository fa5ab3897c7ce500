// FHIR R4 §3.1.0.11 batch and transaction (hl7.org/fhir/R4/http.html#transaction) of up to
// KILN_MAX_BUNDLE_ENTRIES entries: the loops over their entries give the event loop a turn every
// so often, so that a Bundle of 10,000 entries never holds up other requests (a /healthz, a read)
// for longer than a few hundred entries take. Awaiting a promise that is already settled does not
// give that turn (it runs as a microtask, before any I/O); setImmediate does.

/** A function to await once per entry: every `every` calls it waits for the next turn of the event loop. */
export function pacer(every: number): () => Promise<void> {
  let calls = 0;
  return () => (++calls % every === 0 ? new Promise<void>((resolve) => setImmediate(resolve)) : Promise.resolve());
}

/** Entries whose work is mostly synchronous (validation, search values) between turns. */
export const HEAVY_ENTRIES_PER_TURN = 50;
/** Entries whose work is light (reading a request, rewriting references) between turns. */
export const LIGHT_ENTRIES_PER_TURN = 500;

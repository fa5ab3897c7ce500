// Coalesces concurrent single-row operations into one statement: every request that asks in the
// same turn of the event loop shares one round trip (and, for writes, one commit). Under load
// this removes most per-request database and socket work; alone, a request waits one tick.
import DataLoader from 'dataloader';
import type { Database } from './database.js';

const MAX_BATCH = 256;

export function batchLoader<K, V>(load: (keys: readonly K[]) => Promise<ArrayLike<V | Error>>): DataLoader<K, V> {
  // setImmediate runs after the poll phase, so requests read from different sockets in the same
  // turn land in one batch (the default, nextTick, would batch one socket's work only).
  return new DataLoader<K, V>(load, { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (run) => setImmediate(run) });
}

/** One loader per database and name (e.g. per resource type), created on first use. */
export function loaderCache<K, V>(create: (db: Database, name: string) => DataLoader<K, V>): (db: Database, name: string) => DataLoader<K, V> {
  const byDatabase = new WeakMap<Database, Map<string, DataLoader<K, V>>>();
  return (db, name) => {
    let loaders = byDatabase.get(db);
    if (!loaders) byDatabase.set(db, (loaders = new Map()));
    let loader = loaders.get(name);
    if (!loader) loaders.set(name, (loader = create(db, name)));
    return loader;
  };
}

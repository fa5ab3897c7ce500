// bench:search settings from flags (`npm run bench:search -- --seconds 5`) or environment variables.
import { logLevelOf, readGiven, wholeNumber } from '../support/settings.js';

export interface SearchSettings {
  /** Concurrent HTTP connections of each search load. */
  connections: number;
  /** Measured seconds of each search load. */
  seconds: number;
  /** Unmeasured seconds of the same load before it. */
  warmupSeconds: number;
  patients: number;
  observations: number;
  /** Observations loaded when the selective search is measured the first time. */
  checkpoint: number;
  /** Observations created through the HTTP API, for the write-rate comparison. */
  apiCreates: number;
  /** Resources per bulk INSERT statement. */
  batchSize: number;
  logLevel: string;
  workers: string;
  seed: number;
}

export const SEARCH_USAGE = `usage: npm run bench:search -- [options]
  --connections, -c  concurrent connections of each search load   (env BENCH_CONNECTIONS, default 10)
  --seconds, -d      measured seconds of each search load         (env BENCH_SECONDS, default 10)
  --warmup, -w       unmeasured seconds before each load          (env BENCH_WARMUP, default 2)
  --patients         Patients to load                             (env BENCH_PATIENTS, default 10000)
  --observations     Observations to load                         (env BENCH_OBSERVATIONS, default 1000000)
  --checkpoint       Observations at the first measurement        (env BENCH_CHECKPOINT, default 100000)
  --api-creates      Observations created through the HTTP API    (env BENCH_API_CREATES, default 2000)
  --batch            resources per bulk INSERT statement          (env BENCH_BATCH, default 2000)
  --log-level        LOG_LEVEL of the server under test           (env BENCH_LOG_LEVEL, default warn)
  --workers          KILN_WORKERS of the server under test        (env BENCH_WORKERS, default auto: one per CPU)
  --seed             seed of the generated data                   (env BENCH_SEED, default 42)`;

/** Mistakes in the settings are the shared benchmark settings error. */

const FLAGS: Record<string, keyof SearchSettings> = {
  '--connections': 'connections',
  '-c': 'connections',
  '--seconds': 'seconds',
  '-d': 'seconds',
  '--warmup': 'warmupSeconds',
  '-w': 'warmupSeconds',
  '--patients': 'patients',
  '--observations': 'observations',
  '--checkpoint': 'checkpoint',
  '--api-creates': 'apiCreates',
  '--batch': 'batchSize',
  '--log-level': 'logLevel',
  '--workers': 'workers',
  '--seed': 'seed',
};

const ENV: Record<keyof SearchSettings, string> = {
  connections: 'BENCH_CONNECTIONS',
  seconds: 'BENCH_SECONDS',
  warmupSeconds: 'BENCH_WARMUP',
  patients: 'BENCH_PATIENTS',
  observations: 'BENCH_OBSERVATIONS',
  checkpoint: 'BENCH_CHECKPOINT',
  apiCreates: 'BENCH_API_CREATES',
  batchSize: 'BENCH_BATCH',
  logLevel: 'BENCH_LOG_LEVEL',
  workers: 'BENCH_WORKERS',
  seed: 'BENCH_SEED',
};

const integer = wholeNumber;

export function parseSearchSettings(argv: string[], env: NodeJS.ProcessEnv): SearchSettings {
  const given = readGiven(argv, env, FLAGS, ENV, SEARCH_USAGE);
  const logLevel = logLevelOf(given.logLevel);
  const observations = integer('observations', given.observations ?? '1000000', 1000, 100_000_000);
  const settings: SearchSettings = {
    connections: integer('connections', given.connections ?? '10', 1, 1000),
    seconds: integer('seconds', given.seconds ?? '10', 1, 3600),
    warmupSeconds: integer('warmup', given.warmupSeconds ?? '2', 0, 600),
    patients: integer('patients', given.patients ?? '10000', 100, 10_000_000),
    observations,
    checkpoint: integer('checkpoint', given.checkpoint ?? String(Math.min(100_000, observations)), 1000, observations),
    apiCreates: integer('api-creates', given.apiCreates ?? '2000', 0, 1_000_000),
    batchSize: integer('batch', given.batchSize ?? '2000', 1, 20_000),
    logLevel,
    workers: given.workers === undefined || given.workers === 'auto' ? 'auto' : String(integer('workers', given.workers, 1, 64)),
    seed: integer('seed', given.seed ?? '42', 0, 2 ** 31),
  };
  return settings;
}

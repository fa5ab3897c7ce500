// Benchmark settings from flags (`npm run bench:crud -- --connections 32`) or environment variables.
export interface Settings {
  /** Concurrent connections (HTTP) and concurrent loops / pool size (SQL). */
  connections: number;
  /** Measured seconds of each phase. */
  seconds: number;
  /** Unmeasured seconds of load before each phase. */
  warmupSeconds: number;
  /** LOG_LEVEL of the server under test. */
  logLevel: string;
  /** KILN_WORKERS of the server under test: a number or auto. */
  workers: string;
}

export const USAGE = `usage: npm run bench:crud -- [--connections N] [--seconds N] [--warmup N] [--log-level LEVEL]
  --connections, -c  concurrent connections / SQL loops    (env BENCH_CONNECTIONS, default 16)
  --seconds, -d      measured seconds of each phase          (env BENCH_SECONDS, default 10)
  --warmup, -w       unmeasured seconds before each phase    (env BENCH_WARMUP, default 2)
  --log-level        LOG_LEVEL of the server under test      (env BENCH_LOG_LEVEL, default warn)
  --workers          KILN_WORKERS of the server under test   (env BENCH_WORKERS, default auto: one per CPU)`;

export class SettingsError extends Error {}

const FLAGS: Record<string, keyof Settings> = {
  '--connections': 'connections',
  '-c': 'connections',
  '--seconds': 'seconds',
  '-d': 'seconds',
  '--warmup': 'warmupSeconds',
  '-w': 'warmupSeconds',
  '--log-level': 'logLevel',
  '--workers': 'workers',
};

/** A whole number within bounds, or a SettingsError naming the setting. */
export function wholeNumber(name: string, text: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new SettingsError(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return Number(text);
}
const integer = wholeNumber;

/**
 * The settings given as environment variables (`env` names one per setting) and then flags
 * (`flags` maps each flag to its setting), flags winning; `usage` answers --help and mistakes.
 */
export function readGiven<K extends string>(
  argv: string[],
  env: NodeJS.ProcessEnv,
  flags: Record<string, K>,
  envNames: Partial<Record<K, string>>,
  usage: string,
): Partial<Record<K, string>> {
  const given: Partial<Record<K, string>> = {};
  for (const [key, name] of Object.entries(envNames) as [K, string][]) if (env[name]) given[key] = env[name];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag === '--help' || flag === '-h') throw new SettingsError(usage);
    const key = flags[flag];
    if (!key) throw new SettingsError(`unknown argument ${argv[i]}\n${usage}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new SettingsError(`${flag} needs a value\n${usage}`);
    given[key] = value;
  }
  return given;
}

/** LOG_LEVEL for the server under test, warn unless given. */
export function logLevelOf(text: string | undefined): string {
  const level = text ?? 'warn';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    throw new SettingsError(`--log-level must be one of fatal, error, warn, info, debug, trace, silent, not ${JSON.stringify(level)}`);
  }
  return level;
}

export function parseSettings(argv: string[], env: NodeJS.ProcessEnv): Settings {
  const given = readGiven(argv, env, FLAGS, {
    connections: 'BENCH_CONNECTIONS',
    seconds: 'BENCH_SECONDS',
    warmupSeconds: 'BENCH_WARMUP',
    logLevel: 'BENCH_LOG_LEVEL',
    workers: 'BENCH_WORKERS',
  }, USAGE);
  const logLevel = logLevelOf(given.logLevel);
  return {
    connections: integer('connections', given.connections ?? '16', 1, 1000),
    seconds: integer('seconds', given.seconds ?? '10', 1, 3600),
    warmupSeconds: integer('warmup', given.warmupSeconds ?? '2', 0, 600),
    logLevel,
    workers: given.workers === undefined || given.workers === 'auto' ? 'auto' : String(integer('workers', given.workers, 1, 64)),
  };
}

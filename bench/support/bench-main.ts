// What every benchmark's entry point does around its own work: refuse a database that is not a
// scratch one (benchmarks empty it), stop after a time budget whatever happens, and turn the
// known failures into one plain line.
import { BenchAlreadyRunning, databaseName, PostgresUnreachable, redacted, START_POSTGRES } from './database.js';
import { SettingsError } from './settings.js';

export interface BenchRun<S> {
  /** `bench:crud`, `bench:search`: how messages name the benchmark. */
  name: string;
  /** Reads the settings from the command line and environment; a SettingsError is printed as it is. */
  settings: () => S;
  /** DATABASE_URL, or the benchmark's own scratch database. */
  defaultDatabaseUrl: string;
  /** Last-resort limit on the whole run; each phase has its own limits too. */
  budgetMs: (settings: S) => number;
  run: (settings: S, databaseUrl: string) => Promise<void>;
}

export async function runBenchmark<S>(bench: BenchRun<S>): Promise<number> {
  let settings: S;
  try {
    settings = bench.settings();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(error.message);
    return 1;
  }
  const databaseUrl = process.env.DATABASE_URL || bench.defaultDatabaseUrl;
  return runWithin(bench.name, databaseUrl, bench.budgetMs(settings), () => bench.run(settings, databaseUrl));
}

async function runWithin(name: string, databaseUrl: string, budgetMs: number, run: () => Promise<void>): Promise<number> {
  const database = databaseName(databaseUrl);
  if (!/bench/i.test(database) && process.env.BENCH_ALLOW_RESET !== '1') {
    console.error(
      `${name} drops and recreates the schema of its database; "${database}" does not look like a benchmark database.` +
        ' Use a database whose name contains "bench", or set BENCH_ALLOW_RESET=1.',
    );
    return 1;
  }
  setTimeout(() => {
    console.error(`${name} did not finish within ${Math.round(budgetMs / 1000)} s; stopping.`);
    process.exit(1);
  }, budgetMs).unref();
  try {
    await run();
    return 0;
  } catch (error) {
    if (error instanceof PostgresUnreachable) {
      console.error(`Postgres is not reachable at ${redacted(databaseUrl)} (${error.message}); start it with: ${START_POSTGRES}`);
    } else if (error instanceof BenchAlreadyRunning) {
      console.error(error.message);
    } else {
      console.error(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    return 1;
  }
}

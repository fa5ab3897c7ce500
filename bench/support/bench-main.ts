// What every benchmark's entry point does around its own work: refuse a database that is not a
// scratch one (benchmarks empty it), stop after a time budget whatever happens, and turn the
// known failures into one plain line.
import { BenchAlreadyRunning, databaseName, PostgresUnreachable, redacted, START_POSTGRES } from './database.js';

export interface BenchRun {
  /** `bench:crud`, `bench:search`: how messages name the benchmark. */
  name: string;
  databaseUrl: string;
  /** Last-resort limit on the whole run; each phase has its own limits too. */
  budgetMs: number;
  run: () => Promise<void>;
}

export async function runBenchmark({ name, databaseUrl, budgetMs, run }: BenchRun): Promise<number> {
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

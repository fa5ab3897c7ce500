// Entry point of `npm start`: configuration → database → application → listen, with a graceful
// shutdown on SIGTERM/SIGINT. With KILN_WORKERS > 1 the first process only supervises workers
// that share the port (Kiln keeps no state in a process, so any worker can answer any request),
// and keeps the request counts they share. A worker that stops is started again, after a pause
// that grows while workers keep failing before they are ready; if none has ever been ready, the
// failure is Kiln's start failing (a wrong setting, a database that never came), and it stops.
import cluster, { type Worker } from 'node:cluster';
import { keepSharedRequestCounts } from './auth/rate-limits.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { startServer } from './server.js';
import { DataFolderInUse } from './store/data-folder-lock.js';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function runServer(config: Config, logger: Logger): Promise<void> {
  const running = await startServer(config, logger);
  if (cluster.isPrimary) {
    logger.info(
      { fhir: running.fhirUrl, database: config.DATABASE_URL ? 'postgres' : `embedded (${config.KILN_DATA_DIR})`, startSeconds: Number(process.uptime().toFixed(1)) },
      `Kiln is listening: ${running.fhirUrl}`,
    );
  } else {
    process.send?.(READY_MESSAGE);
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** What a worker tells the primary once it serves requests. */
const READY_MESSAGE = 'kiln:ready';
const FIRST_RESTART_PAUSE_MS = 1_000;
const LONGEST_RESTART_PAUSE_MS = 30_000;

function superviseWorkers(config: Config, logger: Logger): void {
  // The request limits hold for the whole Kiln: the workers count in this process.
  if (config.KILN_AUTH === 'on' && config.KILN_RATE_LIMIT_PER_MINUTE > 0) keepSharedRequestCounts();
  let stopping = false;
  let everReady = false;
  let exitCode = 0;
  let pause = FIRST_RESTART_PAUSE_MS;
  const ready = new WeakSet<Worker>();
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => {
      if (message !== READY_MESSAGE) return;
      ready.add(worker);
      pause = FIRST_RESTART_PAUSE_MS;
      if (everReady) return;
      everReady = true;
      logger.info(
        { workers: config.KILN_WORKERS, fhir: config.baseUrl, startSeconds: Number(process.uptime().toFixed(1)) },
        `Kiln is listening with ${config.KILN_WORKERS} workers: ${config.baseUrl}`,
      );
    });
  };
  for (let i = 0; i < config.KILN_WORKERS; i++) fork();
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down workers: finishing requests in flight');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    if (!everReady) {
      // The worker said why on its standard error; starting it again would only say it again.
      logger.error({ pid: worker.process.pid, code, signal }, 'a worker could not start; stopping Kiln');
      exitCode = 1;
      shutdown('start-up failure');
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    const wait = pause;
    // A worker that dies before it is ready again and again is given more time between tries.
    if (!ready.has(worker)) pause = Math.min(pause * 2, LONGEST_RESTART_PAUSE_MS);
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: wait }, 'worker stopped unexpectedly; starting another');
    setTimeout(fork, wait);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function main(): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config.LOG_LEVEL);
  if (config.KILN_WORKERS > 1 && cluster.isPrimary) superviseWorkers(config, logger);
  else await runServer(config, logger);
}

main().catch((error: unknown) => {
  const advice = error instanceof DataFolderInUse ? '; stop it first, or give this one another KILN_DATA_DIR' : '';
  process.stderr.write(`Kiln could not start: ${error instanceof Error ? error.message : String(error)}${advice}\n`);
  process.exit(1);
});

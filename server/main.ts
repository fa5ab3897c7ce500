// Entry point of `npm start`: configuration → database → application → listen, with a graceful
// shutdown on SIGTERM/SIGINT. With KILN_WORKERS > 1 the first process only supervises workers
// that share the port (Kiln keeps no state in a process, so any worker can answer any request).
import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { startServer } from './server.js';

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
      { fhir: running.fhirUrl, database: config.DATABASE_URL ? 'postgres' : `embedded (${config.KILN_DATA_DIR})` },
      `Kiln is listening: ${running.fhirUrl}`,
    );
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

function superviseWorkers(config: Config, logger: Logger): void {
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < config.KILN_WORKERS; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker stopped unexpectedly; starting another');
    setTimeout(fork, 1000);
  });
  let announced = false;
  cluster.on('listening', () => {
    if (announced) return;
    announced = true;
    logger.info({ workers: config.KILN_WORKERS, fhir: config.baseUrl }, `Kiln is listening with ${config.KILN_WORKERS} workers: ${config.baseUrl}`);
  });
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down workers: finishing requests in flight');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
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
  process.stderr.write(`Kiln could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

// Entry point of a search-load child process: receives one QueryJob, runs it, sends back one
// PhaseResult and exits (the same messages as bench/support/load-child.ts). It exits too if the
// benchmark process goes away.
import type { ChildMessage, PhaseResult } from '../support/protocol.js';
import { runQueryLoad, type QueryJob } from './query-load.js';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

if (!process.send) {
  console.error('query-child runs only as a child process of the benchmark');
  process.exit(1);
}
process.on('disconnect', () => process.exit(1));
process.once('message', (job: QueryJob) => {
  const marks = { measuring: () => void send({ type: 'measuring' }), measured: () => void send({ type: 'measured' }) };
  runQueryLoad(job, marks).then(
    async (result: PhaseResult) => {
      await send({ type: 'result', result });
      process.exit(0);
    },
    async (error: unknown) => {
      await send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    },
  );
});

// Entry point of a load-generator child process: receives one Job, runs it, sends back one
// PhaseResult and exits. It exits too if the benchmark process goes away.
import { runHttp } from './http-load.js';
import type { ChildMessage, Job, PhaseResult } from './protocol.js';
import { runRaw } from './raw-load.js';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function runJob(job: Job): Promise<PhaseResult> {
  const marks = { measuring: () => void send({ type: 'measuring' }), measured: () => void send({ type: 'measured' }) };
  return job.kind === 'http-create' || job.kind === 'http-read' ? runHttp(job, marks) : runRaw(job, marks);
}

if (!process.send) {
  console.error('load-child runs only as a child process of the benchmark');
  process.exit(1);
}
process.on('disconnect', () => process.exit(1));
process.once('message', (job: Job) => {
  runJob(job).then(
    async (result) => {
      await send({ type: 'result', result });
      process.exit(0);
    },
    async (error: unknown) => {
      await send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    },
  );
});

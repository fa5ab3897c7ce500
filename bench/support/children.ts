// Runs one Job in a child Node process (load-child.js) and waits for its result, within a time limit.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, Job, Marks, PhaseResult } from './protocol.js';

const childScript = fileURLToPath(new URL('./load-child.js', import.meta.url));

export function runInChild(job: Job, limitMs: number, marks: Marks): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    // No inherited flags (such as --cpu-prof given to the benchmark): the child is only a client.
    const child = fork(childScript, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: PhaseResult | undefined;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `the ${job.kind} load did not finish within ${Math.round(limitMs / 1000)} s`;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'measuring') marks.measuring();
      else if (message.type === 'measured') marks.measured();
      else if (message.type === 'result') result = message.result;
      else failure = message.message;
    });
    child.on('error', (error) => {
      failure ??= error.message;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result && !failure) resolve(result);
      else reject(new Error(failure ?? `the ${job.kind} load process stopped (${signal ?? `exit code ${code}`}) without a result`));
    });
    child.send(job);
  });
}

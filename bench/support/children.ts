// Runs one Job in a child Node process (load-child.js) and waits for its result, within a time limit.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, Marks, PhaseResult } from './protocol.js';

const loadChild = fileURLToPath(new URL('./load-child.js', import.meta.url));

/** Runs `job` in a child running `childScript` (by default the CRUD load child). */
export function runInChild<J extends { kind: string }>(job: J, limitMs: number, marks: Marks, childScript = loadChild): Promise<PhaseResult> {
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

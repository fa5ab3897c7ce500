// Runs one QueryJob in a child Node process (query-child.js) and waits for its result, within a
// time limit: bench/support/children.ts for the search load (that one forks load-child.js).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, Marks, PhaseResult } from '../support/protocol.js';
import type { QueryJob } from './query-load.js';

const childScript = fileURLToPath(new URL('./query-child.js', import.meta.url));

export function runQueryInChild(job: QueryJob, limitMs: number, marks: Marks): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(childScript, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: PhaseResult | undefined;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `the search load did not finish within ${Math.round(limitMs / 1000)} s`;
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
      else reject(new Error(failure ?? `the search load process stopped (${signal ?? `exit code ${code}`}) without a result`));
    });
    child.send(job);
  });
}

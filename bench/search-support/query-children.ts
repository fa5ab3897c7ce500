// Runs one QueryJob in the search load child (query-child.js), through the same runner as the
// CRUD loads.
import { fileURLToPath } from 'node:url';
import { runInChild } from '../support/children.js';
import type { Marks, PhaseResult } from '../support/protocol.js';
import type { QueryJob } from './query-load.js';

const childScript = fileURLToPath(new URL('./query-child.js', import.meta.url));

export function runQueryInChild(job: QueryJob, limitMs: number, marks: Marks): Promise<PhaseResult> {
  return runInChild(job, limitMs, marks, childScript);
}

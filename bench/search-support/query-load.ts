// Search load against the running server: autocannon GETs, each request a path picked at random
// from a list (a different patient, say, on every request). Runs in a child process
// (query-child.ts), as bench:crud's loads do, so the load generator does not share an event loop
// with anything it measures.
import autocannon from 'autocannon';
import type { Marks, PhaseResult } from '../support/protocol.js';
import { cpuSecondsSince } from '../support/stats.js';

export interface QueryJob {
  kind: 'http-search';
  origin: string;
  /** Request paths (with the query string); each request takes one at random. */
  paths: string[];
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

function run(job: QueryJob, seconds: number): Promise<autocannon.Result> {
  const { paths } = job;
  return autocannon({
    url: job.origin,
    connections: job.connections,
    pipelining: 1,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'GET',
        path: paths[0],
        headers: { accept: 'application/fhir+json' },
        setupRequest: (request) => {
          request.path = paths[Math.floor(Math.random() * paths.length)];
          return request;
        },
      },
    ],
  });
}

export async function runQueryLoad(job: QueryJob, marks: Marks): Promise<PhaseResult> {
  if (job.warmupSeconds > 0) await run(job, job.warmupSeconds);
  marks.measuring();
  const cpu = process.cpuUsage();
  const result = await run(job, job.seconds);
  const childCpuSeconds = cpuSecondsSince(cpu);
  marks.measured();

  const byStatus = Object.entries(result.statusCodeStats ?? {}).map(([status, stat]) => [status, stat?.count ?? 0] as const);
  const ok = byStatus.filter(([status]) => status === '200').reduce((sum, [, count]) => sum + count, 0);
  const unexpectedByStatus = Object.fromEntries(byStatus.filter(([status]) => status !== '200'));
  const unexpected = Object.values(unexpectedByStatus).reduce((sum, count) => sum + count, 0);
  return {
    ok,
    unexpected,
    unexpectedByStatus,
    errors: result.errors,
    seconds: result.duration,
    perSecond: ok / result.duration,
    // autocannon records the latency of 2xx responses only, to the millisecond.
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.mean,
    childCpuSeconds,
  };
}

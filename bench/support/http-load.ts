// HTTP load against the running server with autocannon (run inside a child process, so that the
// load generator does not share the server's event loop).
import autocannon from 'autocannon';
import { identifierSequence, observationTemplate } from './observation.js';
import type { Job, Marks, PhaseResult } from './protocol.js';
import { cpuSecondsSince } from './stats.js';

type HttpJob = Extract<Job, { kind: 'http-create' | 'http-read' }>;

function requestFor(job: HttpJob): autocannon.Request {
  if (job.kind === 'http-create') {
    const { head, tail } = observationTemplate(job.patientId);
    const nextIdentifier = identifierSequence();
    return {
      method: 'POST',
      path: `${job.basePath}/Observation`,
      headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      setupRequest: (request) => {
        request.body = head + nextIdentifier() + tail;
        return request;
      },
    };
  }
  const { ids } = job;
  return {
    method: 'GET',
    path: `${job.basePath}/Observation/${ids[0]}`,
    headers: { accept: 'application/fhir+json', ...(job.bearer ? { authorization: `Bearer ${job.bearer}` } : {}) },
    setupRequest: (request) => {
      request.path = `${job.basePath}/Observation/${ids[Math.floor(Math.random() * ids.length)]}`;
      return request;
    },
  };
}

function run(job: HttpJob, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: job.origin,
    connections: job.connections,
    pipelining: 1,
    duration: seconds,
    timeout: 30,
    requests: [requestFor(job)],
  });
}

export async function runHttp(job: HttpJob, marks: Marks): Promise<PhaseResult> {
  if (job.warmupSeconds > 0) await run(job, job.warmupSeconds);
  marks.measuring();
  const cpu = process.cpuUsage();
  const result = await run(job, job.seconds);
  const childCpuSeconds = cpuSecondsSince(cpu);
  marks.measured();

  const expected = job.kind === 'http-create' ? '201' : '200';
  const byStatus = Object.entries(result.statusCodeStats ?? {}).map(([status, stat]) => [status, stat?.count ?? 0] as const);
  const ok = byStatus.filter(([status]) => status === expected).reduce((sum, [, count]) => sum + count, 0);
  const unexpectedByStatus = Object.fromEntries(byStatus.filter(([status]) => status !== expected));
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

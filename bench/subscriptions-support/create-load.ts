// The load generator of `npm run bench:subscriptions`, run as a child process so that it does not
// share an event loop with the notification receiver (or the server). Two kinds of load:
// - closed: `connections` loops, each posting the next Observation as soon as the last one is
//   answered (what the server can do at most);
// - open: Observations posted at a fixed arrival rate whatever the answers do, so that a slower
//   server shows as longer latency and a backlog rather than as a lower offered load.
import { Agent, request } from 'node:http';
import { summarize } from '../support/stats.js';
import { observationBody as body } from './observation.js';

export interface CreateJob {
  mode: 'closed' | 'open';
  origin: string;
  patients: string[];
  codes: string[];
  /** Closed: concurrent loops. Open: most requests in flight (more wait for a connection). */
  connections: number;
  seconds: number;
  /** Closed loop only: unmeasured seconds of the same load first. */
  warmupSeconds: number;
  /** Open loop only: creates per second. */
  rate: number;
  /** Index of the first Observation: each phase writes different ones. */
  firstIndex: number;
}

/** One create of the open loop. Times are milliseconds since the epoch (performance.timeOrigin + now). */
export interface CreateRecord {
  index: number;
  id: string;
  /** When the arrival schedule called for it. */
  scheduledAt: number;
  /** When its request was handed to the operating system: no later than the commit. */
  sentAt: number;
  /** When its 201 arrived: no earlier than the commit. */
  answeredAt: number;
  /** meta.lastUpdated of the created version, stamped inside the create's transaction. */
  lastUpdated: number;
}

export interface CreateResult {
  ok: number;
  /** Answers other than 201, by status. */
  unexpectedByStatus: Record<string, number>;
  errors: number;
  firstError?: string;
  /** Closed: the measured time. Open: from the first scheduled send to the last answer. */
  seconds: number;
  perSecond: number;
  /** Latency of 201s in ms: closed, from send; open, from the scheduled send (queueing in the client included). */
  p50: number;
  p99: number;
  max: number;
  /** Open loop only. */
  records: CreateRecord[];
  /** Open loop only: requests the schedule called for. */
  offered: number;
  childCpuSeconds: number;
}

export type CreateMessage = { type: 'result'; result: CreateResult } | { type: 'failed'; message: string };

const clock = () => performance.timeOrigin + performance.now();
const observationBody = (job: CreateJob, index: number, runTag: string) => body(job.patients, job.codes, index, runTag);

interface Answer {
  status: number;
  sentAt: number;
  answeredAt: number;
  id?: string;
  lastUpdated?: number;
}

function post(agent: Agent, url: URL, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let sentAt = NaN;
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', 'content-length': Buffer.byteLength(body) }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const answeredAt = clock();
          const status = res.statusCode ?? 0;
          if (status !== 201) return resolve({ status, sentAt, answeredAt });
          const created = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; meta?: { lastUpdated?: string } };
          resolve({ status, sentAt, answeredAt, id: created.id, lastUpdated: Date.parse(created.meta?.lastUpdated ?? '') });
        });
      },
    );
    // 'finish': the whole request has been handed to the socket.
    req.on('finish', () => (sentAt = clock()));
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

async function closedLoop(job: CreateJob, url: URL, agent: Agent, runTag: string): Promise<CreateResult> {
  let index = job.firstIndex;
  const run = async (seconds: number, measured: boolean) => {
    const latencies: number[] = [];
    const unexpectedByStatus: Record<string, number> = {};
    let errors = 0;
    let firstError: string | undefined;
    const started = clock();
    const until = started + seconds * 1000;
    const loop = async () => {
      while (clock() < until) {
        try {
          const answer = await post(agent, url, observationBody(job, index++, runTag));
          if (answer.status === 201) latencies.push(answer.answeredAt - answer.sentAt);
          else unexpectedByStatus[answer.status] = (unexpectedByStatus[answer.status] ?? 0) + 1;
        } catch (error) {
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: job.connections }, loop));
    const elapsed = (clock() - started) / 1000;
    return measured ? { latencies, unexpectedByStatus, errors, firstError, elapsed } : undefined;
  };
  if (job.warmupSeconds > 0) await run(job.warmupSeconds, false);
  const cpu = process.cpuUsage();
  const measured = (await run(job.seconds, true))!;
  const used = process.cpuUsage(cpu);
  const { p50, p99 } = summarize(measured.latencies);
  return {
    ok: measured.latencies.length,
    unexpectedByStatus: measured.unexpectedByStatus,
    errors: measured.errors,
    firstError: measured.firstError,
    seconds: measured.elapsed,
    perSecond: measured.latencies.length / measured.elapsed,
    p50,
    p99,
    max: measured.latencies.reduce((a, b) => Math.max(a, b), measured.latencies.length ? -Infinity : NaN),
    records: [],
    offered: 0,
    childCpuSeconds: (used.user + used.system) / 1e6,
  };
}

async function openLoop(job: CreateJob, url: URL, agent: Agent, runTag: string): Promise<CreateResult> {
  const total = Math.round(job.rate * job.seconds);
  const interval = 1000 / job.rate;
  const records: CreateRecord[] = [];
  const latencies: number[] = [];
  const unexpectedByStatus: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  let lastAnswer = 0;
  const pending: Promise<void>[] = [];
  const cpu = process.cpuUsage();
  const start = clock() + 20;

  const send = (n: number, scheduledAt: number) => {
    const index = job.firstIndex + n;
    pending.push(
      post(agent, url, observationBody(job, index, runTag)).then(
        (answer) => {
          lastAnswer = Math.max(lastAnswer, answer.answeredAt);
          if (answer.status !== 201 || !answer.id) {
            unexpectedByStatus[answer.status] = (unexpectedByStatus[answer.status] ?? 0) + 1;
            return;
          }
          latencies.push(answer.answeredAt - scheduledAt);
          records.push({ index, id: answer.id, scheduledAt, sentAt: answer.sentAt, answeredAt: answer.answeredAt, lastUpdated: answer.lastUpdated ?? NaN });
        },
        (error: unknown) => {
          lastAnswer = Math.max(lastAnswer, clock());
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        },
      ),
    );
  };

  // Every due arrival is sent on each tick; a late tick sends what fell due meanwhile, each
  // keeping its scheduled time, so a stalled client shows up as latency, not as a lower rate.
  await new Promise<void>((resolve) => {
    let next = 0;
    const pump = () => {
      const now = clock();
      while (next < total && start + next * interval <= now) {
        send(next, start + next * interval);
        next++;
      }
      if (next >= total) return resolve();
      setTimeout(pump, Math.max(0, Math.floor(start + next * interval - clock())));
    };
    setTimeout(pump, Math.max(0, start - clock()));
  });
  await Promise.all(pending);
  const used = process.cpuUsage(cpu);
  const seconds = (lastAnswer - start) / 1000;
  const { p50, p99 } = summarize(latencies);
  return {
    ok: records.length,
    unexpectedByStatus,
    errors,
    firstError,
    seconds,
    perSecond: records.length / seconds,
    p50,
    p99,
    max: latencies.reduce((a, b) => Math.max(a, b), latencies.length ? -Infinity : NaN),
    records,
    offered: total,
    childCpuSeconds: (used.user + used.system) / 1e6,
  };
}

async function runJob(job: CreateJob): Promise<CreateResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const url = new URL('/fhir/Observation', job.origin);
  const runTag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  try {
    return job.mode === 'closed' ? await closedLoop(job, url, agent, runTag) : await openLoop(job, url, agent, runTag);
  } finally {
    agent.destroy();
  }
}

function send(message: CreateMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

if (!process.send) {
  console.error('create-load runs only as a child process of bench:subscriptions');
  process.exit(1);
}
process.on('disconnect', () => process.exit(1));
process.once('message', (job: CreateJob) => {
  runJob(job).then(
    async (result) => {
      await send({ type: 'result', result });
      process.exit(0);
    },
    async (error: unknown) => {
      await send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      process.exit(1);
    },
  );
});

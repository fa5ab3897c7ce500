// The baseline: the same rows written and read with plain SQL through a `pg` pool, one statement
// per operation with autocommit, from as many concurrent loops as the HTTP load has connections.
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { heartRateObservation, identifierSequence } from './observation.js';
import type { Job, Marks, PhaseResult } from './protocol.js';
import { cpuSecondsSince, summarize } from './stats.js';

type RawJob = Extract<Job, { kind: 'raw-insert' | 'raw-select' }>;

function quoted(table: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`);
  return `"${table}"`;
}

/** One operation: resolves when the statement has completed. */
function operationFor(pool: pg.Pool, job: RawJob): () => Promise<unknown> {
  const table = quoted(job.table);
  if (job.kind === 'raw-insert') {
    const nextIdentifier = identifierSequence();
    const sql = `INSERT INTO ${table} (id, version_id, last_updated, deleted, content) VALUES ($1, 1, $2, false, $3)`;
    return () => {
      const id = randomUUID();
      const now = new Date();
      // The same JSON text Kiln stores: the resource with its id and meta.
      const content = JSON.stringify({
        resourceType: 'Observation',
        id,
        meta: { versionId: '1', lastUpdated: now.toISOString() },
        ...heartRateObservation(job.patientId, nextIdentifier()),
      });
      return pool.query(sql, [id, now, content]);
    };
  }
  const { ids } = job;
  const sql = `SELECT content FROM ${table} WHERE id = $1`;
  return () => pool.query(sql, [ids[Math.floor(Math.random() * ids.length)]]);
}

interface Tally {
  ok: number;
  errors: number;
  latencies: number[];
  firstError?: string;
}

async function loops(connections: number, seconds: number, operation: () => Promise<unknown>): Promise<Tally> {
  const tally: Tally = { ok: 0, errors: 0, latencies: [] };
  const end = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      try {
        await operation();
        tally.latencies.push(performance.now() - start);
        tally.ok++;
      } catch (error) {
        tally.errors++;
        tally.firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  return tally;
}

export async function runRaw(job: RawJob, marks: Marks): Promise<PhaseResult> {
  const pool = new pg.Pool({ connectionString: job.databaseUrl, max: job.connections, query_timeout: 30_000 });
  pool.on('error', () => undefined);
  try {
    const operation = operationFor(pool, job);
    // Open every connection before the clock starts, as autocannon does for its sockets.
    const clients = await Promise.all(Array.from({ length: job.connections }, () => pool.connect()));
    for (const client of clients) client.release();
    if (job.warmupSeconds > 0) await loops(job.connections, job.warmupSeconds, operation);

    marks.measuring();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const tally = await loops(job.connections, job.seconds, operation);
    const seconds = (performance.now() - started) / 1000;
    const childCpuSeconds = cpuSecondsSince(cpu);
    marks.measured();
    return {
      ok: tally.ok,
      unexpected: 0,
      unexpectedByStatus: {},
      errors: tally.errors,
      seconds,
      perSecond: tally.ok / seconds,
      ...summarize(tally.latencies),
      childCpuSeconds,
      firstError: tally.firstError,
    };
  } finally {
    await pool.end();
  }
}

// `npm run bench:crud`: throughput and latency of FHIR create and read against a real Postgres,
// next to the same rows written and read with plain SQL through `pg`. A benchmark, not a test:
// it prints figures and asserts nothing. See bench/README.md.
import os from 'node:os';
import pg from 'pg';
import { backendToken } from './support/backend-token.js';
import { runInChild } from './support/children.js';
import { DEFAULT_DATABASE_URL, redacted, resetDatabase } from './support/database.js';
import { runBenchmark } from './support/bench-main.js';
import { observationTemplate } from './support/observation.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import type { Job, PhaseResult } from './support/protocol.js';
import { parseSettings, type Settings } from './support/settings.js';
import { coresBetween, cpuSnapshot, type CpuSnapshot } from './support/stats.js';

const RAW_TABLE = 'bench_raw_observation';
const CREATE_GOAL = 0.4;
const READ_GOAL = 4000;
/** Reads with a bearer token may cost at most this share of read throughput. */
const AUTH_COST_GOAL = 0.1;
/** Turns each server takes in the comparison of reads with and without a token. */
const ALTERNATING_ROUNDS = 3;

interface Phase {
  label: string;
  unit: string;
  result: PhaseResult;
  /** Average cores used during the measured time by: this process (the server), the load generator, Postgres, the whole machine. */
  serverCores: number;
  loadCores: number;
  postgresCores: number;
  machineCores: number;
}

const cores = os.availableParallelism?.() ?? os.cpus().length;
const number = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
const mib = (bytes: number) => `${number(bytes / 1024 / 1024, 1)} MiB`;
const pad = (text: string, width: number) => text.padStart(width);

async function runPhase(index: string, label: string, unit: string, job: Job, settings: Settings, server: ServerProcess): Promise<Phase> {
  process.stdout.write(`${index} ${label}: ${settings.warmupSeconds} s warm-up + ${settings.seconds} s …\n`);
  // CPU use is measured between the child's two marks: warm-up and connection set-up excluded.
  const serverPids = server.pids();
  let started = 0;
  let wall = NaN;
  let first: Promise<CpuSnapshot | undefined> = Promise.resolve(undefined);
  let last: Promise<CpuSnapshot | undefined> = Promise.resolve(undefined);
  const limitMs = (settings.warmupSeconds + settings.seconds + 60) * 1000;
  const result = await runInChild(job, limitMs, {
    measuring: () => {
      started = performance.now();
      first = cpuSnapshot(serverPids);
    },
    measured: () => {
      wall = (performance.now() - started) / 1000;
      last = cpuSnapshot(serverPids);
    },
  });
  const machine = coresBetween(await first, await last, cores);
  const phase: Phase = {
    label,
    unit,
    result,
    serverCores: machine.server,
    loadCores: result.childCpuSeconds / wall,
    postgresCores: machine.postgres,
    machineCores: machine.machine,
  };
  printPhase(phase);
  return phase;
}

/** Slices of one kind of load as one phase: operations and seconds added up, CPU weighted by time, latency the mean of the slices'. */
function combined(slices: Phase[]): Phase {
  const seconds = slices.reduce((sum, p) => sum + p.result.seconds, 0);
  const sum = (pick: (p: Phase) => number) => slices.reduce((total, p) => total + pick(p), 0);
  const weighted = (pick: (p: Phase) => number) => sum((p) => pick(p) * p.result.seconds) / seconds;
  const ok = sum((p) => p.result.ok);
  const first = slices[0];
  return {
    ...first,
    label: `${first.label}, ${slices.length} slices`,
    result: {
      ...first.result,
      ok,
      unexpected: sum((p) => p.result.unexpected),
      errors: sum((p) => p.result.errors),
      seconds,
      perSecond: ok / seconds,
      p50: sum((p) => p.result.p50) / slices.length,
      p99: sum((p) => p.result.p99) / slices.length,
      mean: weighted((p) => p.result.mean),
    },
    serverCores: weighted((p) => p.serverCores),
    loadCores: weighted((p) => p.loadCores),
    postgresCores: weighted((p) => p.postgresCores),
    machineCores: weighted((p) => p.machineCores),
  };
}

function printPhase({ result, unit, serverCores, loadCores, postgresCores, machineCores }: Phase): void {
  const statuses = Object.entries(result.unexpectedByStatus).map(([status, count]) => `${status}×${count}`).join(', ');
  console.log(
    `      ${number(result.perSecond)} ${unit}/s over ${number(result.seconds, 1)} s (${number(result.ok)} ok)` +
      `   latency p50 ${number(result.p50, 1)} ms, p99 ${number(result.p99, 1)} ms, mean ${number(result.mean, 1)} ms`,
  );
  console.log(
    `      unexpected status: ${number(result.unexpected)}${statuses ? ` (${statuses})` : ''}   errors: ${number(result.errors)}` +
      (result.firstError ? ` (first: ${result.firstError})` : ''),
  );
  const other = machineCores - serverCores - loadCores - postgresCores;
  console.log(
    `      CPU, in cores: server ${number(serverCores, 2)}, load generator ${number(loadCores, 2)},` +
      ` Postgres ${number(postgresCores, 2)}, other ${number(other, 2)}; machine ${number(machineCores, 2)} of ${cores}`,
  );
  // Cores × 1e6 ÷ operations per second = CPU microseconds spent on one operation.
  const perOp = (used: number) => number((used * 1e6) / result.perSecond);
  console.log(
    `      CPU per ${unit.replace(/s$/, '')}: server ${perOp(serverCores)} µs, Postgres ${perOp(postgresCores)} µs, load generator ${perOp(loadCores)} µs`,
  );
}

async function createPatient(origin: string): Promise<string> {
  const response = await fetch(`${origin}/fhir/Patient`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Bench', given: ['Heart'] }], gender: 'unknown', birthDate: '1970-01-01' }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`creating the Patient answered ${response.status}: ${text.slice(0, 500)}`);
  return (JSON.parse(text) as { id: string }).id;
}

/** One create before the load, so that a rejected Observation is told plainly rather than as 10 s of 4xx. */
async function probeObservation(origin: string, patientId: string): Promise<void> {
  const { head, tail } = observationTemplate(patientId);
  const response = await fetch(`${origin}/fhir/Observation`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
    body: `${head}probe${tail}`,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`creating an Observation answered ${response.status}: ${text.slice(0, 500)}`);
}

function printSummary(phases: Phase[], alternated: { plain: Phase; authorised: Phase }): void {
  const [create, read, insert, select] = phases;
  const { authorised } = alternated;
  console.log('\nSummary');
  const header = `  ${'phase'.padEnd(52)}${pad('ops/s', 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('non-2xx', 9)}${pad('errors', 8)}`;
  console.log(header);
  console.log(`  ${'-'.repeat(header.length - 2)}`);
  for (const { label, result } of [create, insert, read, select, alternated.plain, authorised]) {
    console.log(
      `  ${label.padEnd(52)}${pad(number(result.perSecond), 10)}${pad(number(result.p50, 1), 9)}${pad(number(result.p99, 1), 9)}` +
        `${pad(number(result.unexpected), 9)}${pad(number(result.errors), 8)}`,
    );
  }
  const createRatio = create.result.perSecond / insert.result.perSecond;
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log('');
  console.log(
    `  creates/s ÷ raw inserts/s : ${number(createRatio * 100, 1)} %` +
      `   (${number(create.result.perSecond)} ÷ ${number(insert.result.perSecond)}; goal ≥ ${CREATE_GOAL * 100} %: ${met(createRatio >= CREATE_GOAL)})`,
  );
  console.log(`  reads/s                   : ${number(read.result.perSecond)}   (goal ≥ ${number(READ_GOAL)}/s: ${met(read.result.perSecond >= READ_GOAL)})`);
  console.log(
    `  reads/s ÷ raw selects/s   : ${number((read.result.perSecond / select.result.perSecond) * 100, 1)} %` +
      `   (${number(read.result.perSecond)} ÷ ${number(select.result.perSecond)})`,
  );
  const cost = 1 - authorised.result.perSecond / alternated.plain.result.perSecond;
  console.log(
    `  cost of authorisation     : ${number(cost * 100, 1)} % of read throughput` +
      `   (${number(authorised.result.perSecond)} with a token vs ${number(alternated.plain.result.perSecond)} without, in alternating slices;` +
      ` goal < ${AUTH_COST_GOAL * 100} %: ${met(cost < AUTH_COST_GOAL)})`,
  );
  const perRead = (phase: Phase, cores: number) => (cores * 1e6) / phase.result.perSecond;
  console.log(
    `  CPU per read, without → with a token: server ${number(perRead(alternated.plain, alternated.plain.serverCores))} → ${number(perRead(authorised, authorised.serverCores))} µs,` +
      ` Postgres ${number(perRead(alternated.plain, alternated.plain.postgresCores))} → ${number(perRead(authorised, authorised.postgresCores))} µs`,
  );
}

async function countRows(pool: pg.Pool): Promise<string> {
  const counts = await pool.query<{ observation: string; history: string; raw: string }>(
    `SELECT (SELECT count(*) FROM "Observation") AS observation, (SELECT count(*) FROM resource_history) AS history,
            (SELECT count(*) FROM ${RAW_TABLE}) AS raw`,
  );
  const row = counts.rows[0];
  return `Observation ${number(Number(row.observation))}, resource_history ${number(Number(row.history))}, ${RAW_TABLE} ${number(Number(row.raw))}`;
}

async function bench(settings: Settings, databaseUrl: string): Promise<void> {
  const database = await resetDatabase(databaseUrl);
  try {
    await benchServer(settings, databaseUrl, database.serverVersion);
  } finally {
    await database.release().catch(() => undefined);
  }
}

async function benchServer(settings: Settings, databaseUrl: string, serverVersion: string): Promise<void> {
  const serverEnv = { LOG_LEVEL: settings.logLevel, DATABASE_URL: databaseUrl, KILN_WORKERS: settings.workers, KILN_AUTH: 'off' };
  const server = await startServerProcess(serverEnv);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const origin = server.origin;
    await pool.query(`CREATE TABLE ${RAW_TABLE} (LIKE "Observation" INCLUDING ALL)`);
    const patientId = await createPatient(origin);
    await probeObservation(origin, patientId);
    // How busy the machine is with nothing of ours running: other work skews every figure.
    const idleStart = await cpuSnapshot();
    await new Promise((resolve) => setTimeout(resolve, 1000));

    console.log('Kiln CRUD benchmark');
    console.log(
      `  NOTE: the server (its own process tree, as npm start runs it), the load generator (a child process) and Postgres share this ${cores}-CPU machine;` +
        ' each takes CPU from the others, so the figures are below what separate machines would give.',
    );
    console.log(`  Node ${process.version}, ${cores} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.arch()}`);
    const before = coresBetween(idleStart, await cpuSnapshot(), cores);
    console.log(
      `  before the load: the machine was busy ${number(before.machine, 2)} of ${cores} cores over 1 s` +
        (before.machine > 0.25 ? ' — other processes are running: expect lower, noisier figures' : ''),
    );
    console.log(`  Postgres ${serverVersion} at ${redacted(databaseUrl)} (schema dropped and recreated)`);
    console.log(
      `  settings: concurrency ${settings.connections}, ${settings.seconds} s measured per phase after ${settings.warmupSeconds} s warm-up,` +
        ` server LOG_LEVEL ${settings.logLevel}, KILN_WORKERS ${settings.workers} (${server.pids().length - (server.pids().length > 1 ? 1 : 0)} serving),` +
        ` raw pool ${settings.connections}, server defaults otherwise (reference checks on, pool 20 per worker)`,
    );
    console.log('');

    const common = { connections: settings.connections, seconds: settings.seconds, warmupSeconds: settings.warmupSeconds };
    const http = { origin, basePath: '/fhir' };
    const create = await runPhase('[1/5]', 'Kiln create (HTTP POST Observation)', 'creates', { kind: 'http-create', ...http, patientId, ...common }, settings, server);

    const idRows = await pool.query<{ id: string }>('SELECT id FROM "Observation" ORDER BY random() LIMIT 100000');
    const ids = idRows.rows.map((row) => row.id);
    console.log(`      read phases pick among ${number(ids.length)} Observation ids`);
    const read = await runPhase('[2/5]', 'Kiln read (HTTP GET Observation/id)', 'reads', { kind: 'http-read', ...http, ids, ...common }, settings, server);

    const insert = await runPhase(
      '[3/5]',
      `Raw INSERT (pg, ${RAW_TABLE})`,
      'inserts',
      { kind: 'raw-insert', databaseUrl, table: RAW_TABLE, patientId, ...common },
      settings,
      server,
    );
    const select = await runPhase(
      '[4/5]',
      'Raw SELECT content by id (pg)',
      'selects',
      { kind: 'raw-select', databaseUrl, table: 'Observation', ids, ...common },
      settings,
      server,
    );

    const rows = await countRows(pool);
    const memory = `rss ${mib(server.rssBytes())} over ${server.pids().length} processes`;

    // The same reads on a second server with authorization on, each carrying a bearer token: the
    // token is verified, the scope checked, the rate limits counted, and the read recorded in an
    // AuditEvent. Both servers run side by side and take turns in short slices, so that a change
    // in how busy the machine is falls on both alike.
    const secured = await startServerProcess({ ...serverEnv, KILN_AUTH: 'on', KILN_RATE_LIMIT_PER_MINUTE: '10000000' });
    try {
      const bearer = await backendToken(pool, secured.origin, 'bench:crud', 'system/Observation.rs');
      const slice = { ...settings, seconds: Math.max(2, Math.round(settings.seconds / 2)), warmupSeconds: 1 };
      const sliceJob = { ...http, ids, connections: settings.connections, seconds: slice.seconds, warmupSeconds: slice.warmupSeconds };
      const plainSlices: Phase[] = [];
      const authorisedSlices: Phase[] = [];
      for (let round = 1; round <= ALTERNATING_ROUNDS; round++) {
        const at = `[5/5, ${round} of ${ALTERNATING_ROUNDS}]`;
        plainSlices.push(await runPhase(at, 'Kiln read without a token (auth off)', 'reads', { kind: 'http-read', ...sliceJob }, slice, server));
        authorisedSlices.push(
          await runPhase(at, 'Kiln read with a bearer token (auth on)', 'reads', { kind: 'http-read', ...sliceJob, origin: secured.origin, bearer }, slice, secured),
        );
      }
      printSummary([create, read, insert, select], { plain: combined(plainSlices), authorised: combined(authorisedSlices) });
      const audits = await pool.query<{ n: string }>('SELECT count(*) AS n FROM "AuditEvent"');
      console.log(`\n  rows at the end: ${rows}; AuditEvent ${number(Number(audits.rows[0].n))} (each caller's reads gathered per 100 ms)`);
      console.log(`  server memory: ${memory} at the end of phase 4; rss ${mib(secured.rssBytes())} with authorization on`);
    } finally {
      await secured.stop();
    }
  } finally {
    await pool.end();
    await server.stop();
  }
}

process.exit(
  await runBenchmark({
    name: 'bench:crud',
    settings: () => parseSettings(process.argv.slice(2), process.env),
    defaultDatabaseUrl: DEFAULT_DATABASE_URL,
    budgetMs: (settings) => (4 * (settings.warmupSeconds + settings.seconds + 60) + 2 * ALTERNATING_ROUNDS * (1 + Math.ceil(settings.seconds / 2) + 60) + 180) * 1000,
    run: bench,
  }),
);

// `npm run bench:crud`: throughput and latency of FHIR create and read against a real Postgres,
// next to the same rows written and read with plain SQL through `pg`. A benchmark, not a test:
// it prints figures and asserts nothing. See bench/README.md.
import os from 'node:os';
import pg from 'pg';
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

function printSummary(phases: Phase[]): void {
  const [create, read, insert, select] = phases;
  console.log('\nSummary');
  const header = `  ${'phase'.padEnd(40)}${pad('ops/s', 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('non-2xx', 9)}${pad('errors', 8)}`;
  console.log(header);
  console.log(`  ${'-'.repeat(header.length - 2)}`);
  for (const { label, result } of [create, insert, read, select]) {
    console.log(
      `  ${label.padEnd(40)}${pad(number(result.perSecond), 10)}${pad(number(result.p50, 1), 9)}${pad(number(result.p99, 1), 9)}` +
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
    const create = await runPhase('[1/4]', 'Kiln create (HTTP POST Observation)', 'creates', { kind: 'http-create', ...http, patientId, ...common }, settings, server);

    const idRows = await pool.query<{ id: string }>('SELECT id FROM "Observation" ORDER BY random() LIMIT 100000');
    const ids = idRows.rows.map((row) => row.id);
    console.log(`      read phases pick among ${number(ids.length)} Observation ids`);
    const read = await runPhase('[2/4]', 'Kiln read (HTTP GET Observation/id)', 'reads', { kind: 'http-read', ...http, ids, ...common }, settings, server);

    const insert = await runPhase(
      '[3/4]',
      `Raw INSERT (pg, ${RAW_TABLE})`,
      'inserts',
      { kind: 'raw-insert', databaseUrl, table: RAW_TABLE, patientId, ...common },
      settings,
      server,
    );
    const select = await runPhase(
      '[4/4]',
      'Raw SELECT content by id (pg)',
      'selects',
      { kind: 'raw-select', databaseUrl, table: 'Observation', ids, ...common },
      settings,
      server,
    );

    printSummary([create, read, insert, select]);
    console.log(`\n  rows at the end: ${await countRows(pool)}`);
    console.log(`  server memory at the end: rss ${mib(server.rssBytes())} over ${server.pids().length} processes`);
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
    budgetMs: (settings) => (4 * (settings.warmupSeconds + settings.seconds + 60) + 120) * 1000,
    run: bench,
  }),
);

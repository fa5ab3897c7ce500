// `npm run bench:import`: importing the Synthea patient records (FHIR transaction Bundles) into a
// real Postgres (a) as transactions posted over HTTP by concurrent clients, with authorization off
// and on, and (b) with
// `kiln import`, next to a baseline in the same run: the same resources written by raw INSERTs
// (content only, no indexes). A benchmark, not a test: it prints figures and asserts nothing.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULT_DATABASE_URL, redacted, resetDatabase } from './support/database.js';
import { backendToken } from './support/backend-token.js';
import { runBenchmark } from './support/bench-main.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import { coresBetween, cpuSnapshot, type CpuSnapshot } from './support/stats.js';
import { logLevelOf, readGiven, SettingsError, wholeNumber } from './support/settings.js';

const GOAL_PER_SECOND = 3000;
const GOAL_RATIO = 0.35;
/** With authorization on, as users run Kiln: at least this rate, and this share of the rate with it off. */
const AUTHORISED_GOAL_PER_SECOND = 2000;
const AUTHORISED_GOAL_RATIO = 0.8;
const cores = os.availableParallelism?.() ?? os.cpus().length;
const kilnCli = fileURLToPath(new URL('../server/cli/kiln.js', import.meta.url));
const say = (text = '') => process.stdout.write(`${text}\n`);
const number = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');

const USAGE = `usage: npm run bench:import -- [--clients N] [--data FOLDER] [--workers N|auto] [--log-level LEVEL]
  --clients     concurrent HTTP clients, importer Bundles in flight and baseline connections (default 4; BENCH_CLIENTS)
  --data        folder of FHIR transaction Bundles (default ../shared/data/synthea-r4; BENCH_IMPORT_DATA)
  --workers     KILN_WORKERS of the server under test (default auto; BENCH_WORKERS)
  --log-level   LOG_LEVEL of the server under test (default warn; BENCH_LOG_LEVEL)
  DATABASE_URL  the database to empty and use (default ${DEFAULT_DATABASE_URL.replace('kiln_bench', 'kiln_bench_import')})`;

interface Settings {
  clients: number;
  data: string;
  workers: string;
  logLevel: string;
}

function parseSettings(argv: string[], env: NodeJS.ProcessEnv): Settings {
  const given = readGiven(
    argv,
    env,
    { '--clients': 'clients', '--data': 'data', '--workers': 'workers', '--log-level': 'logLevel' },
    { clients: 'BENCH_CLIENTS', data: 'BENCH_IMPORT_DATA', workers: 'BENCH_WORKERS', logLevel: 'BENCH_LOG_LEVEL' },
    USAGE,
  );
  return {
    clients: wholeNumber('clients', given.clients ?? '4', 1, 64),
    data: resolve(given.data ?? '../shared/data/synthea-r4'),
    workers: given.workers === undefined || given.workers === 'auto' ? 'auto' : String(wholeNumber('workers', given.workers, 1, 64)),
    logLevel: logLevelOf(given.logLevel),
  };
}

interface Phase {
  name: string;
  resources: number;
  seconds: number;
  cores: { machine: number; postgres: number; server: number };
  note?: string;
}

/** Runs `work` over every Bundle with `clients` of them in flight; measures wall time and CPU. */
async function timed(name: string, serverPids: number[], resources: number, work: () => Promise<void>): Promise<Phase> {
  const before: CpuSnapshot | undefined = await cpuSnapshot(serverPids);
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  return { name, resources, seconds, cores: coresBetween(before, await cpuSnapshot(serverPids), cores) };
}

async function eachConcurrently<T>(items: T[], clients: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(clients, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

interface BundleFile {
  name: string;
  text: string;
  entries: { resourceType: string; resource: Record<string, unknown> }[];
}

function readBundles(folder: string): BundleFile[] {
  return readdirSync(folder)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const text = readFileSync(join(folder, name), 'utf8');
      const bundle = JSON.parse(text) as { type?: string; entry?: { resource: Record<string, unknown> }[] };
      if (bundle.type !== 'transaction') throw new SettingsError(`${name} is not a transaction Bundle`);
      return { name, text, entries: (bundle.entry ?? []).map((e) => ({ resourceType: String(e.resource.resourceType), resource: e.resource })) };
    });
}

async function httpPhase(server: ServerProcess, bundles: BundleFile[], settings: Settings, total: number, name: string, bearer?: string): Promise<Phase> {
  let failed: string | undefined;
  const authorization: Record<string, string> = bearer ? { authorization: `Bearer ${bearer}` } : {};
  const phase = await timed(name, server.pids(), total, () =>
    eachConcurrently(bundles, settings.clients, async (bundle) => {
      const response = await fetch(`${server.origin}/fhir`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal', ...authorization },
        body: bundle.text,
      });
      const body = (await response.json()) as { entry?: { response?: { status?: string } }[] };
      const created = body.entry?.filter((e) => e.response?.status === '201 Created').length ?? 0;
      if (response.status !== 200 || created !== bundle.entries.length) failed ??= `${bundle.name}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`;
    }),
  );
  if (failed) throw new Error(`a transaction failed: ${failed}`);
  return phase;
}

async function cliPhase(databaseUrl: string, settings: Settings, total: number): Promise<Phase> {
  const state = mkdtempSync(join(os.tmpdir(), 'kiln-bench-import-'));
  try {
    let output = '';
    let own = NaN;
    const phase = await timed('Kiln: kiln import (in-process interactions)', [], total, async () => {
      const code = await new Promise<number | null>((done) => {
        const child = spawn(process.execPath, [kilnCli, 'import', settings.data, '--concurrency', String(settings.clients), '--state', join(state, 'state.json')], {
          env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: settings.logLevel },
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('exit', done);
      });
      if (code !== 0) throw new Error(`kiln import exited with ${code}: ${output}`);
      const match = /Imported ([0-9,]+) resources in ([0-9.]+) s/.exec(output);
      if (!match || Number(match[1].replace(/,/g, '')) !== total) throw new Error(`kiln import did not write every resource: ${output}`);
      own = Number(match[1].replace(/,/g, '')) / Number(match[2]);
    });
    return { ...phase, note: `${number(own)}/s by the importer's own clock (after it has loaded the R4 definitions and opened the database)` };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

async function rawPhase(databaseUrl: string, bundles: BundleFile[], settings: Settings, total: number, multiRow: boolean): Promise<Phase> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: settings.clients });
  try {
    await pool.query('DROP TABLE IF EXISTS bench_raw_resource');
    // Content only, no indexes (not even a primary key): the floor of writing these rows.
    await pool.query('CREATE TABLE bench_raw_resource (resource_type text NOT NULL, id text NOT NULL, content text NOT NULL)');
    const name = multiRow ? 'raw: one multi-row INSERT per Bundle (information)' : 'raw: one INSERT per resource, one transaction per Bundle';
    return await timed(name, [], total, () =>
      eachConcurrently(bundles, settings.clients, async (bundle) => {
        const client = await pool.connect();
        try {
          const rows = bundle.entries.map((e) => {
            const id = randomUUID();
            return [e.resourceType, id, JSON.stringify({ ...e.resource, id })];
          });
          await client.query('BEGIN');
          if (multiRow) {
            await client.query('INSERT INTO bench_raw_resource SELECT * FROM unnest($1::text[], $2::text[], $3::text[])', [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])]);
          } else {
            for (const row of rows) await client.query('INSERT INTO bench_raw_resource (resource_type, id, content) VALUES ($1, $2, $3)', row);
          }
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }),
    );
  } finally {
    await pool.end();
  }
}

function printPhase(phase: Phase): void {
  const c = phase.cores;
  say(`  ${phase.name}`);
  say(`      ${number(phase.resources)} resources in ${number(phase.seconds, 1)} s = ${number(phase.resources / phase.seconds)} resources/s`);
  if (phase.note) say(`      ${phase.note}`);
  const server = Number.isFinite(c.server) && c.server > 0 ? `server ${number(c.server, 2)}, ` : '';
  say(`      CPU, in cores: ${server}Postgres ${number(c.postgres, 2)}; machine ${number(c.machine, 2)} of ${cores}`);
}

async function bench(settings: Settings, databaseUrl: string): Promise<void> {
  const bundles = readBundles(settings.data);
  const total = bundles.reduce((sum, b) => sum + b.entries.length, 0);
  const database = await resetDatabase(databaseUrl);
  try {
    say('Kiln import benchmark');
    say(`  NOTE: Kiln, the clients and Postgres share this ${cores}-CPU machine; each takes CPU from the others.`);
    say(`  Node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}; Postgres ${database.serverVersion} at ${redacted(databaseUrl)} (emptied before each phase)`);
    say(`  data: ${bundles.length} transaction Bundles, ${number(total)} resources (${settings.data}); ${settings.clients} clients; server KILN_WORKERS ${settings.workers}, LOG_LEVEL ${settings.logLevel}`);
    say();

    const serverEnv = { DATABASE_URL: databaseUrl, KILN_WORKERS: settings.workers, LOG_LEVEL: settings.logLevel };
    const server = await startServerProcess({ ...serverEnv, KILN_AUTH: 'off' });
    let http: Phase;
    let rssBytes: number;
    try {
      say(`[1/5] POST each Bundle to /fhir as a transaction, ${settings.clients} at a time (Prefer: return=minimal), authorization off`);
      http = await httpPhase(server, bundles, settings, total, 'Kiln: transactions over HTTP, authorization off');
      rssBytes = server.rssBytes();
      printPhase(http);
    } finally {
      await server.stop();
    }

    // As users run Kiln: authorization on, a backend service's bearer token on every Bundle, each
    // write checked against its scope and recorded in an AuditEvent in the write's transaction.
    await database.release();
    const secured = await resetDatabase(databaseUrl);
    let authorised: Phase;
    const securedServer = await startServerProcess({ ...serverEnv, KILN_AUTH: 'on', KILN_RATE_LIMIT_PER_MINUTE: '10000000' });
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const bearer = await backendToken(pool, securedServer.origin, 'bench:import', 'system/*.cruds');
      say(`\n[2/5] the same with authorization on, each Bundle carrying a backend service's bearer token`);
      authorised = await httpPhase(securedServer, bundles, settings, total, 'Kiln: transactions over HTTP, authorization on', bearer);
      printPhase(authorised);
    } finally {
      await pool.end();
      await securedServer.stop();
      await secured.release();
    }

    const second = await resetDatabase(databaseUrl);
    say(`\n[3/5] kiln import of the same folder into an empty database`);
    const cli = await cliPhase(databaseUrl, settings, total);
    printPhase(cli);
    await second.release();

    const third = await resetDatabase(databaseUrl);
    try {
      say(`\n[4/5] baseline: the same resources (new ids) written by raw INSERTs, ${settings.clients} connections, one transaction per Bundle`);
      const raw = await rawPhase(databaseUrl, bundles, settings, total, false);
      printPhase(raw);
      say(`\n[5/5] for information: the same with one multi-row INSERT per Bundle`);
      const rawMulti = await rawPhase(databaseUrl, bundles, settings, total, true);
      printPhase(rawMulti);

      const rate = (p: Phase) => p.resources / p.seconds;
      const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
      say('\nSummary');
      say(`  over HTTP: ${number(rate(http))} resources/s (goal ≥ ${number(GOAL_PER_SECOND)}: ${met(rate(http) >= GOAL_PER_SECOND)});` +
        ` ${number((100 * rate(http)) / rate(raw), 1)}% of the raw INSERT baseline's ${number(rate(raw))}/s (goal ≥ ${GOAL_RATIO * 100}%: ${met(rate(http) / rate(raw) >= GOAL_RATIO)})`);
      say(`  over HTTP with authorization on: ${number(rate(authorised))} resources/s (goal ≥ ${number(AUTHORISED_GOAL_PER_SECOND)}: ${met(rate(authorised) >= AUTHORISED_GOAL_PER_SECOND)});` +
        ` ${number((100 * rate(authorised)) / rate(http), 1)}% of the same with it off (goal ≥ ${AUTHORISED_GOAL_RATIO * 100}%: ${met(rate(authorised) / rate(http) >= AUTHORISED_GOAL_RATIO)})`);
      say(`  kiln import: ${number(rate(cli))} resources/s including its start-up; ${number((100 * rate(cli)) / rate(raw), 1)}% of the baseline`);
      say(`  raw multi-row INSERT: ${number(rate(rawMulti))}/s; server memory after the HTTP phase: ${number(rssBytes / 1024 / 1024, 1)} MiB rss`);
    } finally {
      await third.release();
    }
  } catch (error) {
    await database.release().catch(() => undefined);
    throw error;
  }
}

process.exit(
  await runBenchmark({
    name: 'bench:import',
    settings: () => parseSettings(process.argv.slice(2), process.env),
    defaultDatabaseUrl: DEFAULT_DATABASE_URL.replace('kiln_bench', 'kiln_bench_import'),
    budgetMs: () => 30 * 60 * 1000,
    run: bench,
  }),
);

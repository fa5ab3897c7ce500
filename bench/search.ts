// `npm run bench:search`: FHIR search latency and throughput over a realistic data set (10,000
// Patients, 1,000,000 Observations by default) in a real Postgres, with the plans Postgres uses.
// A benchmark, not a test: it prints figures and asserts nothing. See bench/README.md.
import os from 'node:os';
import pg from 'pg';
import type { Observation } from '@medplum/fhirtypes';
import { loadValidation } from '../resources/validate.js';
import { redacted, resetDatabase } from './support/database.js';
import { runBenchmark } from './support/bench-main.js';
import type { PhaseResult } from './support/protocol.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import { coresBetween, cpuSnapshot, summarize, type CpuSnapshot } from './support/stats.js';
import { createThroughApi } from './search-support/api-create.js';
import { load, RowSource } from './search-support/bulk-load.js';
import {
  capturedStatements,
  explain,
  isIndexNode,
  measureStatement,
  recordingDatabase,
  searchContext,
  searchInProcess,
  statementText,
  type Plan,
  type PlanLine,
} from './search-support/explain.js';
import { HEART_RATE, RARE_CODE, observations, patients, type PatientSeed } from './search-support/generate.js';
import { runQueryInChild } from './search-support/query-children.js';
import { parseSearchSettings, type SearchSettings } from './search-support/settings.js';
import { search } from '../server/fhir/interactions/search.js';

export const DEFAULT_SEARCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/kiln_bench_search';
const GOAL_P50_MS = 15;
const GOAL_P99_MS = 60;
const GOAL_FLATNESS = 2;
/** Tables this large or larger are "large": a sequential scan of one is worth pointing out. */
const LARGE_TABLE_ROWS = 5000;

const cores = os.availableParallelism?.() ?? os.cpus().length;
const number = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
const pad = (text: string, width: number) => text.padStart(width);
const say = (text = '') => process.stdout.write(`${text}\n`);
const q = encodeURIComponent;

interface QueryDef {
  key: string;
  /** The search as a person would write it ({patient} where each request takes another one). */
  shown: string;
  /** Request paths relative to the FHIR base (Type?query), one picked at random per request. */
  paths: string[];
  /** The path checked and explained. */
  sample: string;
  /** Also count every match once (with _summary=count). */
  countAll: boolean;
}

interface Check {
  ok: boolean;
  status: number;
  entries: number;
  matches: number;
  includes: number;
  next: boolean;
  problem?: string;
  total?: number;
}

interface Measured {
  def: QueryDef;
  observations: number;
  check: Check;
  result: PhaseResult;
  cores: { server: number; load: number; postgres: number; machine: number };
  plans: Plan[];
  inProcess?: { p50: number; mean: number; samples: number };
  sqlSample?: { p50: number; mean: number; planningMean: number; hit: number; read: number; samples: number };
}

function queries(patientIds: string[], sample: string): QueryDef[] {
  const heartRate = q(`http://loinc.org|${HEART_RATE}`);
  const selective = (id: string) => `Observation?subject=Patient/${id}&code=${heartRate}&date=ge2015-01-01&_sort=-date&_count=20`;
  const include = (id: string) => `Observation?subject=Patient/${id}&_include=Observation:subject`;
  return [
    {
      key: 'Q1',
      shown: `Observation?subject=Patient/{random}&code=http://loinc.org|${HEART_RATE}&date=ge2015-01-01&_sort=-date&_count=20`,
      paths: patientIds.map(selective),
      sample: selective(sample),
      countAll: false,
    },
    { key: 'Q2', shown: 'Patient?name=smi&birthdate=ge1970', paths: ['Patient?name=smi&birthdate=ge1970'], sample: 'Patient?name=smi&birthdate=ge1970', countAll: true },
    {
      key: 'Q3',
      shown: `Observation?code=http://loinc.org|${HEART_RATE}&value-quantity=gt100&_count=20`,
      paths: [`Observation?code=${heartRate}&value-quantity=gt100&_count=20`],
      sample: `Observation?code=${heartRate}&value-quantity=gt100&_count=20`,
      countAll: true,
    },
    {
      key: 'Q4',
      shown: `Patient?_has:Observation:subject:code=http://loinc.org|${RARE_CODE}`,
      paths: [`Patient?_has:Observation:subject:code=${q(`http://loinc.org|${RARE_CODE}`)}`],
      sample: `Patient?_has:Observation:subject:code=${q(`http://loinc.org|${RARE_CODE}`)}`,
      countAll: true,
    },
    {
      key: 'Q5',
      shown: 'Observation?subject=Patient/{random}&_include=Observation:subject',
      paths: patientIds.map(include),
      sample: include(sample),
      countAll: false,
    },
  ];
}

async function check(origin: string, path: string, countAll: boolean): Promise<Check> {
  const get = async (p: string) => {
    const response = await fetch(`${origin}/fhir/${p}`, { headers: { accept: 'application/fhir+json' }, signal: AbortSignal.timeout(60_000) });
    return { status: response.status, text: await response.text() };
  };
  const { status, text } = await get(path);
  const found: Check = { ok: false, status, entries: 0, matches: 0, includes: 0, next: false };
  let bundle: { resourceType?: string; type?: string; entry?: { search?: { mode?: string } }[]; link?: { relation?: string }[]; total?: number };
  try {
    bundle = JSON.parse(text) as typeof bundle;
  } catch {
    return { ...found, problem: `not JSON: ${text.slice(0, 200)}` };
  }
  found.entries = bundle.entry?.length ?? 0;
  found.matches = bundle.entry?.filter((e) => e.search?.mode === 'match').length ?? 0;
  found.includes = bundle.entry?.filter((e) => e.search?.mode === 'include').length ?? 0;
  found.next = Boolean(bundle.link?.some((l) => l.relation === 'next'));
  if (status !== 200) found.problem = `status ${status}: ${text.slice(0, 300)}`;
  else if (bundle.resourceType !== 'Bundle' || bundle.type !== 'searchset') found.problem = `not a searchset Bundle: ${text.slice(0, 200)}`;
  else if (found.matches === 0) found.problem = 'no matches';
  found.ok = !found.problem;
  if (countAll && found.ok) {
    const counted = await get(`${path}${path.includes('?') ? '&' : '?'}_summary=count`);
    if (counted.status === 200) found.total = (JSON.parse(counted.text) as { total?: number }).total;
  }
  return found;
}

function printCheck(c: Check): void {
  const parts = [
    c.ok ? 'searchset' : `BROKEN (${c.problem})`,
    `${number(c.entries)} entries (${number(c.matches)} match${c.includes ? `, ${number(c.includes)} include` : ''})`,
    `next page: ${c.next ? 'yes' : 'no'}`,
  ];
  if (c.total !== undefined) parts.push(`all matches (_summary=count): ${number(c.total)}`);
  say(`      check (once, not timed): ${parts.join(', ')}`);
}

async function runLoad(def: QueryDef, server: ServerProcess, settings: SearchSettings): Promise<Pick<Measured, 'result' | 'cores'>> {
  const serverPids = server.pids();
  let started = 0;
  let wall = NaN;
  let first: Promise<CpuSnapshot | undefined> = Promise.resolve(undefined);
  let last: Promise<CpuSnapshot | undefined> = Promise.resolve(undefined);
  const result = await runQueryInChild(
    {
      kind: 'http-search',
      origin: server.origin,
      paths: def.paths.map((p) => `/fhir/${p}`),
      connections: settings.connections,
      seconds: settings.seconds,
      warmupSeconds: settings.warmupSeconds,
    },
    (settings.warmupSeconds + settings.seconds + 90) * 1000,
    {
      measuring: () => {
        started = performance.now();
        first = cpuSnapshot(serverPids);
      },
      measured: () => {
        wall = (performance.now() - started) / 1000;
        last = cpuSnapshot(serverPids);
      },
    },
  );
  const machine = coresBetween(await first, await last, cores);
  return { result, cores: { server: machine.server, load: result.childCpuSeconds / wall, postgres: machine.postgres, machine: machine.machine } };
}

function printLoad(m: Pick<Measured, 'result' | 'cores'>): void {
  const { result } = m;
  const statuses = Object.entries(result.unexpectedByStatus).map(([status, count]) => `${status}×${count}`).join(', ');
  say(
    `      ${number(result.perSecond)} searches/s over ${number(result.seconds, 1)} s (${number(result.ok)} ok)` +
      `   latency p50 ${number(result.p50, 1)} ms, p99 ${number(result.p99, 1)} ms, mean ${number(result.mean, 2)} ms`,
  );
  say(`      non-2xx: ${number(result.unexpected)}${statuses ? ` (${statuses})` : ''}   errors: ${number(result.errors)}`);
  const other = m.cores.machine - m.cores.server - m.cores.load - m.cores.postgres;
  say(
    `      CPU, in cores: server ${number(m.cores.server, 2)}, load generator ${number(m.cores.load, 2)},` +
      ` Postgres ${number(m.cores.postgres, 2)}, other ${number(other, 2)}; machine ${number(m.cores.machine, 2)} of ${cores}`,
  );
  // Cores × 1e6 ÷ searches per second = CPU microseconds spent on one search.
  const perSearch = (used: number) => number((used * 1e6) / result.perSecond);
  say(`      CPU per search: server ${perSearch(m.cores.server)} µs, Postgres ${perSearch(m.cores.postgres)} µs, load generator ${perSearch(m.cores.load)} µs`);
}

async function plansOf(pool: pg.Pool, baseUrl: string, path: string): Promise<Plan[]> {
  const { statements } = await searchInProcess(pool, baseUrl, path);
  const plans: Plan[] = [];
  for (const statement of statements) plans.push(await explain(pool, statement));
  return plans;
}

function printPlans(plans: Plan[], large: Set<string>): void {
  say(`      SQL Kiln ran for the checked request (${plans.length} statement${plans.length === 1 ? '' : 's'}), each under EXPLAIN (ANALYZE, BUFFERS):`);
  say('      (» index scan   !! sequential scan of a large table   ~ estimate off by 10× or more)');
  plans.forEach((plan, i) => {
    const [sql, params] = statementText(plan.statement);
    say(`      [${i + 1}] ${sql}`);
    if (params) say(`          ${params}`);
    for (const line of plan.lines) {
      const seqLarge = line.node === 'Seq Scan' && line.relation !== undefined && large.has(line.relation);
      const mark = seqLarge ? '!!' : isIndexNode(line) ? '» ' : '  ';
      const text = line.text.length > 240 ? `${line.text.slice(0, 240)}…` : line.text;
      say(`       ${mark} ${estimateOff(line, plan) ? '~' : ' '}${text}`);
    }
  });
}

/**
 * The planner's row estimate is 10× or more away from what the node really returned (per loop). A
 * node below a LIMIT that stopped early returns fewer rows than it would have: not counted.
 */
function estimateOff(line: PlanLine, plan: Plan): boolean {
  if (!line.node || line.estimatedRows === undefined || line.actualRows === undefined) return false;
  const top = plan.lines[0];
  const limit = top?.node === 'Limit' ? top.actualRows : undefined;
  if (line !== top && limit !== undefined && line.actualRows <= limit && line.estimatedRows > line.actualRows) return false;
  const ratio = Math.max(line.estimatedRows, 1) / Math.max(line.actualRows, 1);
  return ratio >= 10 || ratio <= 0.1;
}

/** Facts from the plans for the summary: indexes used, sequential scans of large tables, bad estimates, sorts. */
function planFacts(
  plans: Plan[],
  large: Set<string>,
): { indexes: string[]; seqScans: string[]; estimates: string[]; executionMs: number; planningMs: number; removed: number; hit: number; read: number } {
  const indexes = new Set<string>();
  const seqScans = new Set<string>();
  const estimates: string[] = [];
  let executionMs = 0;
  let planningMs = 0;
  let removed = 0;
  let hit = 0;
  let read = 0;
  for (const plan of plans) {
    executionMs += plan.executionMs || 0;
    planningMs += plan.planningMs || 0;
    removed += plan.removed;
    hit += plan.hit;
    read += plan.read;
    for (const line of plan.lines) {
      if (line.index && isIndexNode(line)) indexes.add(line.index);
      if (line.node === 'Seq Scan' && line.relation && large.has(line.relation)) seqScans.add(`${line.relation} (${number(line.actualRows ?? NaN)} rows × ${line.loops ?? 1} loops)`);
      if (estimateOff(line, plan)) {
        estimates.push(`${line.node}${line.index ? ` ${line.index}` : line.relation ? ` ${line.relation}` : ''}: estimated ${number(line.estimatedRows ?? NaN)}, actual ${number(line.actualRows ?? NaN)}`);
      }
    }
  }
  return { indexes: [...indexes], seqScans: [...seqScans], estimates, executionMs, planningMs, removed, hit, read };
}

async function inProcessTiming(pool: pg.Pool, baseUrl: string, paths: string[], samples: number): Promise<{ p50: number; mean: number; samples: number }> {
  const ctx = searchContext(recordingDatabase(pool), baseUrl);
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const [type, query] = paths[Math.floor(Math.random() * paths.length)].split('?', 2);
    const started = performance.now();
    await search(ctx, type, [...new URLSearchParams(query)], { lenient: false });
    latencies.push(performance.now() - started);
  }
  const { p50, mean } = summarize(latencies);
  return { p50, mean, samples };
}

/** The main statement of random requests, each measured once under EXPLAIN ANALYZE (first time it runs). */
async function sqlOverRandomPaths(pool: pg.Pool, baseUrl: string, paths: string[], samples: number): Promise<NonNullable<Measured['sqlSample']>> {
  const figures: { executionMs: number; planningMs: number; hit: number; read: number }[] = [];
  for (let i = 0; i < samples; i++) {
    const [statement] = await capturedStatements(baseUrl, paths[Math.floor(Math.random() * paths.length)]);
    figures.push(await measureStatement(pool, statement));
  }
  const { p50, mean } = summarize(figures.map((f) => f.executionMs));
  const average = (pick: (f: (typeof figures)[number]) => number) => figures.reduce((sum, f) => sum + pick(f), 0) / figures.length;
  return { p50, mean, planningMean: average((f) => f.planningMs), hit: average((f) => f.hit), read: average((f) => f.read), samples };
}

async function measure(
  def: QueryDef,
  observationCount: number,
  server: ServerProcess,
  pool: pg.Pool,
  settings: SearchSettings,
  large: Set<string>,
  timeInProcess: boolean,
): Promise<Measured> {
  const baseUrl = `${server.origin}/fhir`;
  say(`\n[${def.key}] ${def.shown}   (${number(observationCount)} Observations)`);
  const c = await check(server.origin, def.sample, def.countAll);
  printCheck(c);
  say(
    `      load: ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s,` +
      ` ${def.paths.length > 1 ? `each request for a random one of ${number(def.paths.length)} patients` : 'the same request each time'}`,
  );
  const loaded = await runLoad(def, server, settings);
  printLoad(loaded);
  let inProcess: Measured['inProcess'];
  if (timeInProcess) {
    inProcess = await inProcessTiming(pool, baseUrl, def.paths, 300);
    say(
      `      in-process (Kiln's search() called directly, one at a time, ${inProcess.samples} random patients, no HTTP):` +
        ` p50 ${number(inProcess.p50, 2)} ms, mean ${number(inProcess.mean, 2)} ms`,
    );
  }
  let sqlSample: Measured['sqlSample'];
  if (timeInProcess) {
    sqlSample = await sqlOverRandomPaths(pool, baseUrl, def.paths, 50);
    say(
      `      SQL alone for ${sqlSample.samples} other random patients (EXPLAIN ANALYZE of the statement Kiln builds, not run before):` +
        ` execution p50 ${number(sqlSample.p50, 2)} ms, mean ${number(sqlSample.mean, 2)} ms (planning mean ${number(sqlSample.planningMean, 2)} ms);` +
        ` per query ${number(sqlSample.hit, 1)} buffers found in shared_buffers, ${number(sqlSample.read, 1)} read from outside (OS cache or disk)`,
    );
  }
  const plans = await plansOf(pool, baseUrl, def.sample);
  printPlans(plans, large);
  const facts = planFacts(plans, large);
  say(
    `      indexes used: ${facts.indexes.join(', ') || 'none'}; sequential scans of large tables: ${facts.seqScans.join(', ') || 'none'};` +
      ` execution ${number(facts.executionMs, 2)} ms in all`,
  );
  return { def, observations: observationCount, check: c, ...loaded, plans, inProcess, sqlSample };
}

function progress(label: string, every: number): (p: { done: number; total: number; seconds: number }) => void {
  let reported = 0;
  return ({ done, total, seconds }) => {
    if (done - reported < every && done < total) return;
    reported = done;
    const rate = done / seconds;
    say(`      … ${number(done)} / ${number(total)} ${label}  (${number(rate)}/s, ${number(seconds, 0)} s so far${done < total ? `, about ${number((total - done) / rate, 0)} s to go` : ''})`);
  };
}

/**
 * The patient checked and explained: among the patients with a middling share of Observations, the
 * first with at least two matches of the selective search already (so that it has some at every size).
 */
async function pickSample(pool: pg.Pool, seeds: PatientSeed[]): Promise<string> {
  const bySize = [...seeds].sort((a, b) => a.share - b.share);
  const middle = bySize.slice(Math.floor(bySize.length * 0.45), Math.ceil(bySize.length * 0.55)).map((s) => s.id);
  const result = await pool.query<{ id: string; n: string }>(
    `SELECT u.id, (SELECT count(*) FROM "Observation" o WHERE o.subject && ARRAY['Patient/' || u.id] AND o.code && $2::text[] AND o."date:hi" > $3::timestamptz) AS n
       FROM unnest($1::text[]) WITH ORDINALITY AS u(id, i) ORDER BY u.i`,
    [middle, [`http://loinc.org|${HEART_RATE}`], '2015-01-02T00:00:00Z'],
  );
  return (result.rows.find((row) => Number(row.n) >= 2) ?? result.rows[0]).id;
}

async function vacuumAnalyze(pool: pg.Pool): Promise<number> {
  const started = performance.now();
  await pool.query('VACUUM (ANALYZE) "Patient", "Observation", resource_history');
  return (performance.now() - started) / 1000;
}

async function tableSizes(pool: pg.Pool): Promise<string> {
  const result = await pool.query<{ relname: string; rows: string; heap: string; n: string; indexes: string; total: string }>(
    `SELECT c.relname, c.reltuples::bigint AS rows, pg_size_pretty(pg_relation_size(c.oid)) AS heap,
            (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) AS n,
            pg_size_pretty(pg_indexes_size(c.oid)) AS indexes, pg_size_pretty(pg_total_relation_size(c.oid)) AS total
       FROM pg_class c WHERE c.relname IN ('Patient', 'Observation', 'resource_history') AND c.relnamespace = 'public'::regnamespace ORDER BY c.relname`,
  );
  return result.rows
    .map((r) => `${r.relname} ${number(Number(r.rows))} rows, table ${r.heap}, ${r.n} indexes ${r.indexes}, total ${r.total}`)
    .join('; ');
}

async function postgresSettings(pool: pg.Pool): Promise<string> {
  const names = ['shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost', 'jit'];
  const result = await pool.query<{ name: string; setting: string; unit: string | null }>(
    'SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1::text[])',
    [names],
  );
  const byName = new Map(result.rows.map((r) => [r.name, r.setting]));
  return names.map((n) => `${n} ${byName.get(n) ?? '?'}`).join(', ');
}

async function largeTables(pool: pg.Pool): Promise<Set<string>> {
  const result = await pool.query<{ relname: string }>(
    `SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND reltuples >= $1`,
    [LARGE_TABLE_ROWS],
  );
  return new Set(result.rows.map((r) => r.relname));
}

interface LoadFigures {
  patients: { rows: number; seconds: number };
  observations: { rows: number; seconds: number };
  api?: { created: number; failed: number; seconds: number; firstFailure?: string };
  vacuumSeconds: number[];
  validated: number;
}

function printSummary(measured: Measured[], checkpoint: Measured | undefined, settings: SearchSettings, loaded: LoadFigures): void {
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  say(`\nSummary  (${number(settings.patients)} Patients, ${number(settings.observations + (loaded.api?.created ?? 0))} Observations, ${settings.connections} concurrent connections, ${cores} CPUs shared by server, load generator and Postgres)`);
  const header =
    `  ${'query'.padEnd(44)}${pad('Obs.', 10)}${pad('searches/s', 12)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('non-2xx', 9)}${pad('entries', 9)}` +
    `${pad(`p50<${GOAL_P50_MS}`, 10)}${pad(`p99<${GOAL_P99_MS}`, 10)}`;
  say(header);
  say(`  ${'-'.repeat(header.length - 2)}`);
  const titles: Record<string, string> = {
    Q1: 'Q1 subject+code+date, _sort=-date',
    Q2: 'Q2 Patient name=smi & birthdate=ge1970',
    Q3: 'Q3 code=8867-4 & value-quantity=gt100',
    Q4: `Q4 Patient _has:Observation:subject:code`,
    Q5: 'Q5 subject & _include=Observation:subject',
  };
  const rows = checkpoint ? [checkpoint, ...measured] : measured;
  for (const m of rows) {
    const r = m.result;
    const broken = !m.check.ok || r.unexpected > 0 || r.errors > 0;
    const goal = (value: number, limit: number) => (broken ? 'BROKEN' : met(value < limit));
    say(
      `  ${titles[m.def.key].padEnd(44)}${pad(number(m.observations), 10)}${pad(number(r.perSecond), 12)}${pad(number(r.p50, 0), 8)}${pad(number(r.p99, 0), 8)}` +
        `${pad(number(r.unexpected + r.errors), 9)}${pad(`${m.check.matches}${m.check.includes ? `+${m.check.includes}` : ''}`, 9)}${pad(goal(r.p50, GOAL_P50_MS), 10)}${pad(goal(r.p99, GOAL_P99_MS), 10)}`,
    );
  }
  const q1 = measured.find((m) => m.def.key === 'Q1');
  if (checkpoint && q1 && checkpoint !== q1) {
    const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
    const meanRatio = ratio(q1.result.mean, checkpoint.result.mean);
    const p50Ratio = ratio(q1.result.p50, checkpoint.result.p50);
    const inProcessRatio = q1.inProcess && checkpoint.inProcess ? ratio(q1.inProcess.p50, checkpoint.inProcess.p50) : NaN;
    say('');
    say(
      `  flatness of Q1, ${number(q1.observations)} ÷ ${number(checkpoint.observations)} Observations:` +
        ` mean latency ${number(checkpoint.result.mean, 2)} → ${number(q1.result.mean, 2)} ms = ${number(meanRatio, 2)}×` +
        ` (goal ≤ ${GOAL_FLATNESS}×: ${checkpoint.check.ok && q1.check.ok ? met(meanRatio <= GOAL_FLATNESS) : 'BROKEN'});`,
    );
    say(
      `      p50 ${number(checkpoint.result.p50)} → ${number(q1.result.p50)} ms = ${number(p50Ratio, 2)}×;` +
        ` in-process p50 ${number(checkpoint.inProcess?.p50 ?? NaN, 2)} → ${number(q1.inProcess?.p50 ?? NaN, 2)} ms = ${number(inProcessRatio, 2)}×` +
        ` (autocannon measures whole milliseconds, so the mean is the finer HTTP figure);`,
    );
    const sqlBefore = planFacts(checkpoint.plans, new Set()).executionMs;
    const sqlAfter = planFacts(q1.plans, new Set()).executionMs;
    say(`      SQL execution for the checked patient (EXPLAIN ANALYZE) ${number(sqlBefore, 2)} → ${number(sqlAfter, 2)} ms = ${number(ratio(sqlAfter, sqlBefore), 2)}×`);
    if (checkpoint.sqlSample && q1.sqlSample) {
      const [a, b] = [checkpoint.sqlSample, q1.sqlSample];
      say(
        `      SQL alone over random patients: p50 ${number(a.p50, 2)} → ${number(b.p50, 2)} ms = ${number(ratio(b.p50, a.p50), 2)}×,` +
          ` buffers per query ${number(a.hit + a.read, 0)} → ${number(b.hit + b.read, 0)}, of them read from outside shared_buffers ${number(a.read, 1)} → ${number(b.read, 1)}`,
      );
    }
    say(
      `      (the Patients stay the same: each has on average ${number(checkpoint.observations / settings.patients)} → ${number(q1.observations / settings.patients)} Observations,` +
        ' and the search finds the Patient\'s Observations with that code through the paired subject+code index, then filters them by date)',
    );
  }
  const bulkRate = loaded.observations.rows / loaded.observations.seconds;
  say('');
  say(
    `  bulk load: ${number(loaded.observations.rows)} Observations in ${number(loaded.observations.seconds, 1)} s = ${number(bulkRate)}/s;` +
      ` ${number(loaded.patients.rows)} Patients in ${number(loaded.patients.seconds, 1)} s = ${number(loaded.patients.rows / loaded.patients.seconds)}/s` +
      ` (VACUUM ANALYZE afterwards: ${loaded.vacuumSeconds.map((s) => `${number(s, 1)} s`).join(' + ')}; ${number(loaded.validated)} resources validated by sample)`,
  );
  if (loaded.api) {
    const apiRate = loaded.api.created / loaded.api.seconds;
    say(
      `  HTTP API create: ${number(loaded.api.created)} Observations in ${number(loaded.api.seconds, 1)} s = ${number(apiRate)}/s` +
        `${loaded.api.failed ? ` (${number(loaded.api.failed)} failed: ${loaded.api.firstFailure})` : ''}; the bulk load wrote ${number(bulkRate / apiRate, 1)}× as fast`,
    );
  }
  const slow = measured.filter((m) => !(m.check.ok && m.result.p50 < GOAL_P50_MS && m.result.p99 < GOAL_P99_MS));
  say('');
  if (!slow.length) say('  every query met both latency goals.');
  for (const m of slow) {
    const facts = planFacts(m.plans, new Set(['Patient', 'Observation', 'resource_history']));
    const perSearch = (used: number) => number((used * 1e6) / m.result.perSecond);
    say(`  ${m.def.key} did not meet its goals (p50 ${number(m.result.p50)} ms, p99 ${number(m.result.p99)} ms):`);
    say(
      `      CPU per search: server ${perSearch(m.cores.server)} µs, Postgres ${perSearch(m.cores.postgres)} µs; the machine was busy` +
        ` ${number(m.cores.machine, 2)} of ${cores} cores, so requests waited for a CPU (${settings.connections} connections ÷` +
        ` ${number(m.result.perSecond)} searches/s ≈ ${number((settings.connections / m.result.perSecond) * 1000, 1)} ms each)`,
    );
    say(
      `      its SQL (checked request): execution ${number(facts.executionMs, 2)} ms, planning ${number(facts.planningMs, 2)} ms;` +
        ` indexes used: ${facts.indexes.join(', ') || 'none'}`,
    );
    say(
      `      rows read and thrown away by filters: ${number(facts.removed)} (to return ${number(m.check.matches)});` +
        ` buffers: ${number(facts.hit + facts.read)} (${number(facts.read)} read from outside shared_buffers)`,
    );
    if (facts.seqScans.length) say(`      sequential scans: ${facts.seqScans.join(', ')}`);
    for (const e of facts.estimates.slice(0, 6)) say(`      row estimate 10× or more off: ${e}`);
  }
}

async function bench(settings: SearchSettings, databaseUrl: string): Promise<void> {
  const database = await resetDatabase(databaseUrl);
  try {
    await benchServer(settings, databaseUrl, database.serverVersion);
  } finally {
    await database.release().catch(() => undefined);
  }
}

async function benchServer(settings: SearchSettings, databaseUrl: string, serverVersion: string): Promise<void> {
  const runStarted = performance.now();
  // Kiln migrates the empty schema as it starts; it then runs, idle, while the data is loaded.
  // Authorization is measured by bench:crud; here the cost of searching is.
  const server = await startServerProcess({ LOG_LEVEL: settings.logLevel, DATABASE_URL: databaseUrl, KILN_WORKERS: settings.workers, KILN_AUTH: 'off' });
  // The loader's connections: asynchronous commit (a bulk load need not wait for each WAL flush).
  const loaderPool = new pg.Pool({ connectionString: databaseUrl, max: 2, options: '-c synchronous_commit=off' });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  loaderPool.on('error', () => undefined);
  pool.on('error', () => undefined);
  const threads = Math.max(1, cores - 1);
  const validateEvery = 200;
  const source = new RowSource({ seed: settings.seed, patientCount: settings.patients, validateEvery, baseUrl: `${server.origin}/fhir` }, threads);
  try {
    loadValidation();
    const idleStart = await cpuSnapshot();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = coresBetween(idleStart, await cpuSnapshot(), cores);

    say('Kiln search benchmark');
    say(
      `  NOTE: the server (its own process tree, as npm start runs it), the load generator (a child process) and Postgres share this ${cores}-CPU machine;` +
        ' each takes CPU from the others, so the figures are below what separate machines would give.',
    );
    say(`  Node ${process.version}, ${cores} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.arch()}`);
    say(
      `  before the load: the machine was busy ${number(idle.machine, 2)} of ${cores} cores over 1 s` +
        (idle.machine > 0.25 ? ' — other processes are running: expect lower, noisier figures' : ''),
    );
    say(`  Postgres ${serverVersion} at ${redacted(databaseUrl)} (schema dropped and recreated; Kiln migrated it at start); ${await postgresSettings(pool)}`);
    say(
      `  settings: ${number(settings.patients)} Patients, ${number(settings.observations)} Observations (first measurement at ${number(settings.checkpoint)}),` +
        ` seed ${settings.seed}; searches: ${settings.connections} connections, ${settings.seconds} s measured after ${settings.warmupSeconds} s warm-up;` +
        ` server LOG_LEVEL ${settings.logLevel}, KILN_WORKERS ${settings.workers}, defaults otherwise (pool 20 per worker, page size 20)`,
    );

    // ---- Load --------------------------------------------------------------------------------
    say('\nLoading (rows exactly as Kiln\'s create stores them: content with id and meta from splitContent/joinContent,');
    say('search columns from indexValues, the current row and its history row; a few thousand rows per INSERT … SELECT FROM unnest)');
    say(
      `  NOTE: per-row validation is skipped in the bulk load (known-good generated data); instead every Patient and every ${validateEvery}th` +
        ' Observation (and every one with the rare code) is checked with Kiln\'s validator, and the load stops at the first invalid one.',
    );
    say(`  ${threads} generator thread${threads === 1 ? '' : 's'} build the rows while Postgres writes the previous batch (2 connections, synchronous_commit off).`);
    const patientList = patients(settings.seed, settings.patients);
    const seeds: PatientSeed[] = patientList.map((p) => p.seed);
    const patientIds = seeds.map((s) => s.id);
    const loadedPatients = await load(loaderPool, source, 'Patient', 0, settings.patients, { batchSize: Math.min(settings.batchSize, 1000), connections: 2 });
    say(`  Patients: ${number(loadedPatients.rows)} in ${number(loadedPatients.seconds, 1)} s = ${number(loadedPatients.rows / loadedPatients.seconds)}/s`);
    const every = Math.max(settings.batchSize, Math.round(settings.observations / 10 / settings.batchSize) * settings.batchSize);
    const first = await load(loaderPool, source, 'Observation', 0, settings.checkpoint, {
      batchSize: settings.batchSize,
      connections: 2,
      progress: progress('Observations', every),
    });
    const vacuumSeconds = [await vacuumAnalyze(pool)];
    say(`  Observations: ${number(first.rows)} in ${number(first.seconds, 1)} s = ${number(first.rows / first.seconds)}/s; VACUUM (ANALYZE) ${number(vacuumSeconds[0], 1)} s`);
    say(`  ${await tableSizes(pool)}`);

    const sample = await pickSample(pool, seeds);
    const defs = queries(patientIds, sample);
    const countFor = async () =>
      Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM "Observation" WHERE subject && $1::text[]', [[`Patient/${sample}`]])).rows[0].n);

    // ---- First measurement: the selective search at the checkpoint ---------------------------
    let large = await largeTables(pool);
    let checkpoint: Measured | undefined;
    if (settings.checkpoint < settings.observations) {
      say(`\nMeasurement at ${number(settings.checkpoint)} Observations: the selective search (checked patient ${sample}, ${number(await countFor())} Observations)`);
      checkpoint = await measure(defs[0], settings.checkpoint, server, pool, settings, large, true);
    }

    // ---- The rest of the load -----------------------------------------------------------------
    let rest = { rows: 0, seconds: 0 };
    if (settings.checkpoint < settings.observations) {
      say(`\nLoading Observations ${number(settings.checkpoint)} … ${number(settings.observations)}`);
      rest = await load(loaderPool, source, 'Observation', settings.checkpoint, settings.observations, {
        batchSize: settings.batchSize,
        connections: 2,
        progress: progress('Observations', every),
      });
      say(`  Observations: ${number(rest.rows)} more in ${number(rest.seconds, 1)} s = ${number(rest.rows / rest.seconds)}/s`);
    }
    const observationsLoaded = { rows: first.rows + rest.rows, seconds: first.seconds + rest.seconds };
    say(
      `  bulk load in all: ${number(observationsLoaded.rows)} Observations in ${number(observationsLoaded.seconds, 1)} s = ${number(observationsLoaded.rows / observationsLoaded.seconds)}/s;` +
        ` ${number(source.validated)} resources validated by sample, none invalid`,
    );
    await source.close();

    let api: LoadFigures['api'];
    if (settings.apiCreates > 0) {
      const bodies: Observation[] = observations(settings.seed + 1, seeds, 0, settings.apiCreates);
      say(`\nHTTP API comparison: ${number(settings.apiCreates)} Observations POSTed to /fhir/Observation by ${settings.connections} concurrent fetch loops (validated, reference-checked, batched by Kiln)`);
      api = await createThroughApi(`${server.origin}/fhir`, bodies, settings.connections);
      say(
        `  created ${number(api.created)} in ${number(api.seconds, 1)} s = ${number(api.created / api.seconds)}/s` +
          `${api.failed ? `; ${number(api.failed)} failed (first: ${api.firstFailure})` : ''}`,
      );
    }
    vacuumSeconds.push(await vacuumAnalyze(pool));
    say(`  VACUUM (ANALYZE) ${number(vacuumSeconds[1], 1)} s; ${await tableSizes(pool)}`);
    say(`  loading took ${number((performance.now() - runStarted) / 1000, 0)} s since the start`);

    // ---- Full measurement ---------------------------------------------------------------------
    large = await largeTables(pool);
    const total = settings.observations + (api?.created ?? 0);
    say(`\nMeasurement at ${number(total)} Observations (checked patient ${sample}, ${number(await countFor())} Observations)`);
    const measured: Measured[] = [];
    for (const def of defs) measured.push(await measure(def, total, server, pool, settings, large, def.key === 'Q1'));

    printSummary(measured, checkpoint, settings, {
      patients: loadedPatients,
      observations: observationsLoaded,
      api,
      vacuumSeconds,
      validated: source.validated,
    });
    say(`\n  run time ${number((performance.now() - runStarted) / 1000, 0)} s; server memory at the end: ${number(server.rssBytes() / 1024 / 1024, 1)} MiB rss over ${server.pids().length} processes`);
  } finally {
    await source.close().catch(() => undefined);
    await loaderPool.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await server.stop();
  }
}

process.exit(
  await runBenchmark({
    name: 'bench:search',
    settings: () => parseSearchSettings(process.argv.slice(2), process.env),
    defaultDatabaseUrl: DEFAULT_SEARCH_DATABASE_URL,
    budgetMs: (settings) => (settings.observations / 1000 + 6 * (settings.warmupSeconds + settings.seconds + 90) + 600) * 1000,
    run: bench,
  }),
);

// `npm run bench:subscriptions`: what 100 active rest-hook subscriptions cost Observation creates,
// and how soon their notifications arrive. Kiln's maximum create rate is measured first; creates
// then run at half that rate without subscriptions (the baseline) and again with them, in the same
// run. A benchmark, not a test: it prints figures and asserts nothing. See bench/README.md.
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseName, PostgresUnreachable, redacted, resetDatabase, START_POSTGRES, BenchAlreadyRunning } from './support/database.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import { logLevelOf, readGiven, SettingsError, wholeNumber } from './support/settings.js';
import { coresBetween, cpuSnapshot, summarize } from './support/stats.js';
import type { CreateJob, CreateMessage, CreateRecord, CreateResult } from './subscriptions-support/create-load.js';
import { observationBody } from './subscriptions-support/observation.js';
import { startBenchReceiver, type Arrival, type BenchReceiver } from './subscriptions-support/receiver.js';

const TOPIC = 'http://kiln.dev/fhir/SubscriptionTopic/observation-changed';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/';
/** Goal: the 99th percentile of commit → receipt, in ms. */
const LATENCY_GOAL_MS = 500;
/** Goal: creates per second with the subscriptions, as a share of without. */
const THROUGHPUT_GOAL = 0.85;
/** Where DATABASE_URL names a database that is not a benchmark's own, the run uses this one on the same server instead. */
const SCRATCH_DATABASE = 'kiln_bench_subscriptions';
/**
 * 25 Patients and 25 LOINC codes; the 100 subscriptions are four groups of 25 (topic filtered by
 * patient, topic filtered by code, R4 criteria by code, R4 criteria by subject), one per Patient
 * or code. Every Observation therefore matches exactly four subscriptions, one of each group, and
 * every subscription gets the same share (1/25) of the creates.
 */
const GROUP = 25;
const CODES = [
  '8867-4', '9279-1', '8310-5', '59408-5', '29463-7', '8302-2', '39156-5', '8480-6', '8462-4', '2339-0', '718-7', '2160-0', '2823-3',
  '2951-2', '2093-3', '4548-4', '6690-2', '777-3', '2085-9', '13457-7', '2571-8', '1742-6', '1920-8', '3016-3', '33914-3',
];
const MATCHES_PER_OBSERVATION = 4;

interface Settings {
  /** Concurrent clients of the closed loop that finds the maximum rate. */
  connections: number;
  /** Measured seconds of the closed loop. */
  maxSeconds: number;
  warmupSeconds: number;
  /** Seconds of each open-loop phase. */
  seconds: number;
  /** Most creates in flight in the open loop. */
  inFlight: number;
  logLevel: string;
  workers: string;
}

const USAGE = `usage: npm run bench:subscriptions -- [--connections N] [--max-seconds N] [--seconds N] [--warmup N] [--in-flight N] [--log-level LEVEL] [--workers N|auto]
  --connections, -c  clients of the closed loop that finds the maximum create rate (env BENCH_CONNECTIONS, default 16)
  --max-seconds      measured seconds of that closed loop                         (env BENCH_MAX_SECONDS, default 10)
  --warmup, -w       unmeasured seconds before it                                 (env BENCH_WARMUP, default 2)
  --seconds, -d      seconds of each fixed-rate phase, without and with subscriptions (env BENCH_SECONDS, default 30)
  --in-flight        most creates in flight in the fixed-rate phases              (env BENCH_IN_FLIGHT, default 64)
  --log-level        LOG_LEVEL of the server under test                           (env BENCH_LOG_LEVEL, default warn)
  --workers          KILN_WORKERS of the server under test                        (env BENCH_WORKERS, default auto)
  DATABASE_URL       Postgres server to use (a scratch database on it); unset: the embedded database in a temporary folder`;

function parseSettings(argv: string[], env: NodeJS.ProcessEnv): Settings {
  type Key = keyof Settings;
  const flags: Record<string, Key> = {
    '--connections': 'connections',
    '-c': 'connections',
    '--max-seconds': 'maxSeconds',
    '--warmup': 'warmupSeconds',
    '-w': 'warmupSeconds',
    '--seconds': 'seconds',
    '-d': 'seconds',
    '--in-flight': 'inFlight',
    '--log-level': 'logLevel',
    '--workers': 'workers',
  };
  const given = readGiven<Key>(argv, env, flags, {
    connections: 'BENCH_CONNECTIONS',
    maxSeconds: 'BENCH_MAX_SECONDS',
    warmupSeconds: 'BENCH_WARMUP',
    seconds: 'BENCH_SECONDS',
    inFlight: 'BENCH_IN_FLIGHT',
    logLevel: 'BENCH_LOG_LEVEL',
    workers: 'BENCH_WORKERS',
  }, USAGE);
  return {
    connections: wholeNumber('connections', given.connections ?? '16', 1, 1000),
    maxSeconds: wholeNumber('max-seconds', given.maxSeconds ?? '10', 1, 3600),
    warmupSeconds: wholeNumber('warmup', given.warmupSeconds ?? '2', 0, 600),
    seconds: wholeNumber('seconds', given.seconds ?? '30', 1, 3600),
    inFlight: wholeNumber('in-flight', given.inFlight ?? '64', 1, 10000),
    logLevel: logLevelOf(given.logLevel),
    workers: given.workers === undefined || given.workers === 'auto' ? 'auto' : String(wholeNumber('workers', given.workers, 1, 64)),
  };
}

const cores = os.availableParallelism?.() ?? os.cpus().length;
const clock = () => performance.timeOrigin + performance.now();
const number = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
const ms = (value: number) => `${number(value, 1)} ms`;
const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

// ---------------------------------------------------------------------------------------------
// The load child

const createChild = fileURLToPath(new URL('./subscriptions-support/create-load.js', import.meta.url));

function runCreates(job: CreateJob, limitMs: number): Promise<CreateResult> {
  return new Promise((resolve, reject) => {
    // No inherited flags (such as --cpu-prof given to the benchmark): the child is only a client.
    const child = fork(createChild, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: CreateResult | undefined;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `the ${job.mode} create load did not finish within ${Math.round(limitMs / 1000)} s`;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('message', (message: CreateMessage) => {
      if (message.type === 'result') result = message.result;
      else failure = message.message;
    });
    child.on('error', (error) => (failure ??= error.message));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result && !failure) resolve(result);
      else reject(new Error(failure ?? `the create load process stopped (${signal ?? `exit code ${code}`}) without a result`));
    });
    child.send(job);
  });
}

interface Cpu {
  server: number;
  postgres: number;
  load: number;
  machine: number;
}

/** Runs `job` and reads the CPU the server, Postgres and the machine used meanwhile, in cores. */
async function measuredCreates(job: CreateJob, server: ServerProcess): Promise<{ result: CreateResult; cpu: Cpu }> {
  const before = await cpuSnapshot(server.pids());
  const result = await runCreates(job, (job.warmupSeconds + job.seconds + 120) * 1000);
  const used = coresBetween(before, await cpuSnapshot(server.pids()), cores);
  return { result, cpu: { server: used.server, postgres: used.postgres, load: result.childCpuSeconds / result.seconds, machine: used.machine } };
}

function printCreates({ result, cpu }: { result: CreateResult; cpu: Cpu }, latencyFrom: string): void {
  const statuses = Object.entries(result.unexpectedByStatus).map(([status, count]) => `${status}×${count}`).join(', ');
  console.log(
    `      ${number(result.perSecond)} creates/s over ${number(result.seconds, 1)} s (${number(result.ok)} created` +
      `${result.offered ? ` of ${number(result.offered)} sent` : ''})   latency ${latencyFrom} p50 ${ms(result.p50)}, p99 ${ms(result.p99)}, max ${ms(result.max)}`,
  );
  if (statuses || result.errors) {
    console.log(`      unexpected status: ${statuses || 'none'}   errors: ${number(result.errors)}${result.firstError ? ` (first: ${result.firstError})` : ''}`);
  }
  const other = cpu.machine - cpu.server - cpu.postgres - cpu.load;
  const perCreate = (used: number) => number((used * 1e6) / result.perSecond);
  console.log(
    `      CPU, in cores: server ${number(cpu.server, 2)}, Postgres ${number(cpu.postgres, 2)}, load generator ${number(cpu.load, 2)}, other ${number(other, 2)};` +
      ` machine ${number(cpu.machine, 2)} of ${cores}   (per create: server ${perCreate(cpu.server)} µs, Postgres ${perCreate(cpu.postgres)} µs)`,
  );
}

// ---------------------------------------------------------------------------------------------
// FHIR set-up

async function fhir<T>(origin: string, method: string, resourcePath: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${origin}/fhir/${resourcePath}`, {
    method,
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function created(origin: string, resourcePath: string, body: unknown): Promise<string> {
  const answer = await fhir<{ id: string }>(origin, 'POST', resourcePath, body);
  if (answer.status !== 201) throw new Error(`POST ${resourcePath} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 500)}`);
  return answer.body.id;
}

interface BenchSubscription {
  n: number;
  kind: 'topic, patient filter' | 'topic, code filter' | 'R4, code criteria' | 'R4, subject criteria';
  backport: boolean;
  resource: Record<string, unknown>;
}

/** The four groups of 25 subscriptions; subscription n is told at /hook/{n}. */
function subscriptions(patients: string[], receiver: BenchReceiver): BenchSubscription[] {
  const list: BenchSubscription[] = [];
  const topic = (n: number, kind: BenchSubscription['kind'], filter: string) =>
    list.push({
      n,
      kind,
      backport: true,
      resource: {
        resourceType: 'Subscription',
        meta: { profile: [`${BACKPORT}backport-subscription`] },
        status: 'requested',
        reason: `bench:subscriptions ${n}`,
        criteria: TOPIC,
        _criteria: { extension: [{ url: `${BACKPORT}backport-filter-criteria`, valueString: filter }] },
        channel: {
          type: 'rest-hook',
          endpoint: receiver.endpoint(n),
          payload: 'application/fhir+json',
          _payload: { extension: [{ url: `${BACKPORT}backport-payload-content`, valueCode: 'id-only' }] },
        },
      },
    });
  const r4 = (n: number, kind: BenchSubscription['kind'], criteria: string) =>
    list.push({
      n,
      kind,
      backport: false,
      resource: {
        resourceType: 'Subscription',
        status: 'requested',
        reason: `bench:subscriptions ${n}`,
        criteria,
        channel: { type: 'rest-hook', endpoint: receiver.endpoint(n), payload: 'application/fhir+json' },
      },
    });
  for (let i = 0; i < GROUP; i++) topic(i, 'topic, patient filter', `Observation?patient=Patient/${patients[i]}`);
  for (let i = 0; i < GROUP; i++) topic(GROUP + i, 'topic, code filter', `Observation?code=http://loinc.org|${CODES[i]}`);
  for (let i = 0; i < GROUP; i++) r4(2 * GROUP + i, 'R4, code criteria', `Observation?code=http://loinc.org|${CODES[i]}`);
  for (let i = 0; i < GROUP; i++) r4(3 * GROUP + i, 'R4, subject criteria', `Observation?subject=Patient/${patients[i]}`);
  return list;
}

/** The subscriptions Observation `index` matches (create-load.ts: Patient index % 25, code ⌊index / 25⌋ % 25). */
function expectedSubscriptions(index: number): number[] {
  const patient = index % GROUP;
  const code = Math.floor(index / GROUP) % GROUP;
  return [patient, GROUP + code, 2 * GROUP + code, 3 * GROUP + patient];
}

async function waitUntilActive(origin: string, ids: string[], timeoutMs: number): Promise<number> {
  const started = clock();
  for (;;) {
    const statuses = await Promise.all(ids.map(async (id) => (await fhir<{ status?: string }>(origin, 'GET', `Subscription/${id}`)).body?.status));
    const active = statuses.filter((s) => s === 'active').length;
    if (active === ids.length) return (clock() - started) / 1000;
    const failed = statuses.filter((s) => s === 'error' || s === 'off').length;
    if (failed) throw new Error(`${failed} subscriptions went to error or off instead of active`);
    if (clock() - started > timeoutMs) throw new Error(`only ${active} of ${ids.length} subscriptions were active after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// Notifications

interface Tally {
  /** `${subscription}/${resource id}` → arrival time of each notification of that event. */
  events: Map<string, number[]>;
  /** Backport only: `${subscription}/${resource id}` → the event number of each notification of it. */
  eventNumbers: Map<string, string[]>;
  handshakes: number;
  heartbeats: number;
  /** HTTP requests that carried events, by kind. */
  backportBundles: number;
  backportEvents: number;
  r4Posts: number;
  unreadable: number;
  parsed: number;
}

const emptyTally = (): Tally => ({ events: new Map(), eventNumbers: new Map(), handshakes: 0, heartbeats: 0, backportBundles: 0, backportEvents: 0, r4Posts: 0, unreadable: 0, parsed: 0 });

type Part = { name: string; valueCode?: string; valueString?: string; valueReference?: { reference?: string }; part?: Part[] };

function tallyOne(tally: Tally, arrival: Arrival, backport: boolean): void {
  const add = (resourceId: string, eventNumber?: string) => {
    const key = `${arrival.subscription}/${resourceId}`;
    const times = tally.events.get(key);
    if (times) times.push(arrival.at);
    else tally.events.set(key, [arrival.at]);
    if (eventNumber !== undefined) tally.eventNumbers.set(key, [...(tally.eventNumbers.get(key) ?? []), eventNumber]);
  };
  try {
    if (!backport) {
      // R4 with a payload: the body is the resource; the handshake is an empty POST.
      if (arrival.body === '') return void tally.handshakes++;
      tally.r4Posts++;
      add((JSON.parse(arrival.body) as { id: string }).id);
      return;
    }
    // Backport: a history Bundle whose first entry is the SubscriptionStatus (Parameters); with
    // id-only content each notification-event names its focus.
    const bundle = JSON.parse(arrival.body) as { entry?: { resource?: { parameter?: Part[] } }[] };
    const parameters = bundle.entry?.[0]?.resource?.parameter ?? [];
    const type = parameters.find((p) => p.name === 'type')?.valueCode;
    if (type === 'handshake') return void tally.handshakes++;
    if (type === 'heartbeat') return void tally.heartbeats++;
    tally.backportBundles++;
    for (const event of parameters.filter((p) => p.name === 'notification-event')) {
      const focus = event.part?.find((p) => p.name === 'focus')?.valueReference?.reference ?? '';
      tally.backportEvents++;
      add(focus.slice(focus.lastIndexOf('/') + 1), event.part?.find((p) => p.name === 'event-number')?.valueString ?? '');
    }
  } catch {
    tally.unreadable++;
  }
}

/** Parses the arrivals not yet parsed, a slice at a time so that the receiver keeps answering. */
async function tallyNew(tally: Tally, receiver: BenchReceiver, backport: (n: number) => boolean): Promise<void> {
  while (tally.parsed < receiver.arrivals.length) {
    const end = Math.min(receiver.arrivals.length, tally.parsed + 500);
    for (let i = tally.parsed; i < end; i++) tallyOne(tally, receiver.arrivals[i], backport(receiver.arrivals[i].subscription));
    tally.parsed = end;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

interface Latencies {
  fromSent: number[];
  fromLastUpdated: number[];
  fromAnswer: number[];
}

const latencySummary = (samples: number[]) => {
  const { p50, p99, mean } = summarize(samples);
  let max = -Infinity;
  for (const value of samples) if (value > max) max = value;
  return { p50, p99, mean, max: samples.length ? max : NaN };
};

// ---------------------------------------------------------------------------------------------
// The run

interface Target {
  label: string;
  databaseUrl?: string;
  /** What the header says about the database. */
  description: string;
  release(): Promise<void>;
}

async function chooseDatabase(): Promise<Target> {
  const given = process.env.DATABASE_URL;
  if (!given) {
    delete process.env.DATABASE_URL;
    const folder = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-subscriptions-'));
    return {
      label: 'embedded',
      description: `embedded database (PGlite) in ${folder}, removed afterwards`,
      release: () => rm(folder, { recursive: true, force: true }),
    };
  }
  // The run empties its database. A database that is not a benchmark's own (CI's `test`, say) is
  // left alone: the run uses a scratch database on the same server instead.
  let url = given;
  let note = '';
  if (!/bench/i.test(databaseName(given)) && process.env.BENCH_ALLOW_RESET !== '1') {
    const scratch = new URL(given);
    scratch.pathname = `/${SCRATCH_DATABASE}`;
    url = scratch.toString();
    note = `; DATABASE_URL names "${databaseName(given)}", which a benchmark does not empty (BENCH_ALLOW_RESET=1 would), so this scratch database on the same server is used`;
  }
  const database = await resetDatabase(url);
  return {
    label: 'Postgres',
    databaseUrl: url,
    description: `Postgres ${database.serverVersion} at ${redacted(url)} (schema dropped and recreated${note})`,
    release: () => database.release(),
  };
}

async function bench(settings: Settings): Promise<void> {
  const target = await chooseDatabase();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-subscriptions-files-'));
  const receiver = await startBenchReceiver();
  let server: ServerProcess | undefined;
  try {
    server = await startServerProcess({
      LOG_LEVEL: settings.logLevel,
      KILN_WORKERS: settings.workers,
      KILN_AUTH: 'off',
      KILN_NOTIFICATIONS: 'on',
      KILN_SUBSCRIPTION_ALLOW_HTTP: '127.0.0.1,localhost',
      KILN_DATA_DIR: path.join(scratch, 'data'),
      KILN_AUDIT_JOURNAL_DIR: path.join(scratch, 'audit-journal'),
      ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    });
    await benchServer(settings, target, server, receiver);
  } finally {
    await server?.stop();
    await receiver.close();
    await target.release().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

async function benchServer(settings: Settings, target: Target, server: ServerProcess, receiver: BenchReceiver): Promise<void> {
  const origin = server.origin;
  const patients: string[] = [];
  for (let i = 0; i < GROUP; i++) {
    patients.push(await created(origin, 'Patient', { resourceType: 'Patient', name: [{ family: 'Bench', given: [`Subscriber${i}`] }], gender: 'unknown', birthDate: '1970-01-01' }));
  }
  const job = { origin, patients, codes: CODES, warmupSeconds: 0, rate: 0 };
  // One create before the load, so that a rejected Observation is told plainly.
  const probe = await runCreates({ ...job, mode: 'closed', connections: 1, seconds: 1, firstIndex: 0 }, 60_000);
  if (!probe.ok) throw new Error(`creating an Observation failed: ${JSON.stringify(probe.unexpectedByStatus)} ${probe.firstError ?? ''}`);

  const idleStart = await cpuSnapshot();
  await sleep(1000);
  const idle = coresBetween(idleStart, await cpuSnapshot(), cores);
  const serving = server.pids().length - (server.pids().length > 1 ? 1 : 0);

  console.log(`Kiln subscriptions benchmark (${target.label})`);
  console.log(
    `  NOTE: the server (its own process tree, as npm start runs it), the load generator (a child process), the notification receiver (this process)` +
      ` and Postgres share this ${cores}-CPU machine; each takes CPU from the others.`,
  );
  console.log(`  Node ${process.version}, ${cores} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.arch()}`);
  console.log(
    `  before the load: the machine was busy ${number(idle.machine, 2)} of ${cores} cores over 1 s` +
      (idle.machine > 0.25 ? ' — other processes are running: expect lower, noisier figures' : ''),
  );
  console.log(`  database: ${target.description}`);
  if (!target.databaseUrl) console.log('  (the database runs inside the server process: "Postgres" CPU below is other Postgres processes on this machine, not Kiln\'s)');
  console.log(
    `  server: KILN_WORKERS ${settings.workers} (${serving} serving), LOG_LEVEL ${settings.logLevel}, KILN_AUTH off, KILN_NOTIFICATIONS on,` +
      ' KILN_SUBSCRIPTION_ALLOW_HTTP 127.0.0.1,localhost, defaults otherwise',
  );
  console.log(
    `  subscriptions: 100 rest-hook, all to a receiver in this process: ${GROUP} topic-based (backport, id-only) on observation-changed filtered by patient,` +
      ` ${GROUP} filtered by code; ${GROUP} R4 Observation?code=http://loinc.org|…, ${GROUP} R4 Observation?subject=Patient/… (payload application/fhir+json).` +
      ` Observations cycle through ${GROUP} Patients × ${GROUP} codes, so each matches exactly ${MATCHES_PER_OBSERVATION} of them.`,
  );
  console.log('');

  // 1. The most Kiln can do: a closed loop.
  console.log(`[1/4] maximum create rate: closed loop, ${settings.connections} clients, ${settings.warmupSeconds} s warm-up + ${settings.maxSeconds} s, no subscriptions …`);
  let nextIndex = 1_000_000;
  const max = await measuredCreates({ ...job, mode: 'closed', connections: settings.connections, seconds: settings.maxSeconds, warmupSeconds: settings.warmupSeconds, firstIndex: nextIndex }, server);
  printCreates(max, 'from send to 201:');
  if (!max.result.ok) throw new Error('no Observation was created in the closed loop');
  const rate = Math.max(1, Math.round(max.result.perSecond / 2));
  nextIndex = 2_000_000;

  // 2. Half that rate, open loop, no subscriptions: the baseline.
  const openJob = { ...job, mode: 'open' as const, connections: settings.inFlight, seconds: settings.seconds, rate };
  console.log(`[2/4] ${number(rate)} creates/s (half the maximum), open loop, ${settings.seconds} s, no subscriptions …`);
  const without = await measuredCreates({ ...openJob, firstIndex: nextIndex }, server);
  printCreates(without, 'from scheduled send to 201:');
  nextIndex = 3_000_000;

  // 3. The subscriptions, each active (its handshake answered) before the load starts.
  const planned = subscriptions(patients, receiver);
  const backportByNumber = new Map(planned.map((s) => [s.n, s.backport]));
  const isBackport = (n: number) => backportByNumber.get(n) ?? false;
  const madeAt = clock();
  const ids = await Promise.all(planned.map((s) => created(origin, 'Subscription', s.resource)));
  const activeAfter = await waitUntilActive(origin, ids, 60_000);
  const tally = emptyTally();
  await tallyNew(tally, receiver, isBackport);
  console.log(
    `[3/4] ${ids.length} subscriptions created in ${number((clock() - madeAt) / 1000 - activeAfter, 1)} s, all active ${number(activeAfter, 1)} s later` +
      ` (handshakes received: ${tally.handshakes})`,
  );
  // A subscription is `active` once its handshake went through, which can be before Kiln has read
  // the Subscription's own changes from the feed. One Observation, and its notifications awaited,
  // makes sure Kiln has caught up before the load starts; its latency is that of an idle pipeline.
  const probeIndex = nextIndex - 1;
  const probeSent = clock();
  const probeId = await created(origin, 'Observation', JSON.parse(observationBody(patients, CODES, probeIndex, `probe${process.pid}`)));
  const probeKeys = expectedSubscriptions(probeIndex).map((n) => `${n}/${probeId}`);
  const probeDeadline = clock() + 60_000;
  for (;;) {
    await tallyNew(tally, receiver, isBackport);
    if (probeKeys.every((key) => tally.events.has(key))) break;
    if (clock() > probeDeadline) throw new Error(`the notifications of a first Observation did not all arrive within 60 s (${probeKeys.filter((k) => tally.events.has(k)).length} of 4)`);
    await sleep(20);
  }
  const probeLatencies = probeKeys.map((key) => (tally.events.get(key)?.[0] ?? NaN) - probeSent);
  console.log(
    `      a first Observation's ${probeKeys.length} notifications arrived ${probeLatencies.map((l) => number(l)).join(', ')} ms after it was sent` +
      ' (one create, nothing else running: the pipeline idle)',
  );

  // 4. The same load with the subscriptions.
  console.log(`[4/4] ${number(rate)} creates/s, open loop, ${settings.seconds} s, ${ids.length} active subscriptions …`);
  const loadStart = clock();
  const withSubs = await measuredCreates({ ...openJob, firstIndex: nextIndex }, server);
  const loadEnd = clock();
  printCreates(withSubs, 'from scheduled send to 201:');

  // Every notification the creates call for, and how long to wait for the last ones: until all
  // have arrived, or nothing more arrives for 5 s, or 60 s have passed.
  const expected = new Map<string, CreateRecord>();
  for (const record of withSubs.result.records) for (const n of expectedSubscriptions(record.index)) expected.set(`${n}/${record.id}`, record);
  const countExpected = () => {
    let arrived = 0;
    for (const key of tally.events.keys()) if (expected.has(key)) arrived++;
    return arrived;
  };
  const drainUntil = clock() + 60_000;
  let lastCount = -1;
  let quietSince = clock();
  for (;;) {
    await tallyNew(tally, receiver, isBackport);
    if (receiver.arrivals.length !== lastCount) {
      lastCount = receiver.arrivals.length;
      quietSince = clock();
    }
    if (countExpected() >= expected.size || clock() - quietSince > 5000 || clock() > drainUntil) break;
    await sleep(100);
  }
  const lastArrival = receiver.arrivals.reduce((latest, a) => Math.max(latest, a.at), 0);

  // Join each notification to its create.
  const all: Latencies = { fromSent: [], fromLastUpdated: [], fromAnswer: [] };
  const byKind = new Map<string, number[]>();
  let missing = 0;
  let duplicates = 0;
  const duplicateKinds = new Map<string, number>();
  let duringLoad = 0;
  for (const [key, record] of expected) {
    const times = tally.events.get(key);
    if (!times) {
      missing++;
      continue;
    }
    duplicates += times.length - 1;
    if (times.length > 1) {
      const kind = planned[Number(key.slice(0, key.indexOf('/')))].kind;
      const numbers = tally.eventNumbers.get(key);
      // The same event number again is a notification sent again; a new number, the change recorded twice.
      const how = numbers ? (new Set(numbers).size === numbers.length ? 'recorded again under a new event number' : 'sent again with the same event number') : 'R4, no event number';
      const label = `${kind}, ${how}`;
      duplicateKinds.set(label, (duplicateKinds.get(label) ?? 0) + times.length - 1);
    }
    const at = times[0];
    if (at <= loadEnd) duringLoad++;
    all.fromSent.push(at - record.sentAt);
    all.fromLastUpdated.push(at - record.lastUpdated);
    all.fromAnswer.push(at - record.answeredAt);
    const kind = planned[Number(key.slice(0, key.indexOf('/')))].kind;
    const list = byKind.get(kind) ?? [];
    list.push(at - record.sentAt);
    byKind.set(kind, list);
  }
  let unexpected = 0;
  const probed = new Set(probeKeys);
  for (const [key, times] of tally.events) if (!expected.has(key) && !probed.has(key)) unexpected += times.length;
  const windowSeconds = Math.max(1, Math.round(settings.seconds / 6));
  const windowed: number[][] = Array.from({ length: Math.ceil(settings.seconds / windowSeconds) }, () => []);
  for (const [key, record] of expected) {
    const times = tally.events.get(key);
    if (!times) continue;
    const at = Math.min(windowed.length - 1, Math.max(0, Math.floor((record.scheduledAt - loadStart) / 1000 / windowSeconds)));
    windowed[at].push(times[0] - record.sentAt);
  }

  // Summary
  const ratio = withSubs.result.perSecond / without.result.perSecond;
  const sent = latencySummary(all.fromSent);
  const stamped = latencySummary(all.fromLastUpdated);
  const answered = latencySummary(all.fromAnswer);
  const received = all.fromSent.length;
  const span = (lastArrival - loadStart) / 1000;
  const line = (label: string, text: string) => console.log(`  ${label.padEnd(58)}: ${text}`);
  console.log('\nSummary');
  line(`maximum create rate (closed loop, ${settings.connections} clients)`, `${number(max.result.perSecond)} creates/s`);
  line(
    `creates/s at ${number(rate)}/s offered, without subscriptions`,
    `${number(without.result.perSecond, 1)}   (latency p50 ${ms(without.result.p50)}, p99 ${ms(without.result.p99)})`,
  );
  line(
    `creates/s at ${number(rate)}/s offered, with ${ids.length} subscriptions`,
    `${number(withSubs.result.perSecond, 1)}   (latency p50 ${ms(withSubs.result.p50)}, p99 ${ms(withSubs.result.p99)})`,
  );
  line('with ÷ without', `${number(ratio * 100, 1)} %`);
  line('notifications expected', `${number(expected.size)} (${MATCHES_PER_OBSERVATION} per create × ${number(withSubs.result.ok)} creates)`);
  line(
    'notifications received',
    `${number(received)}; missing ${number(missing)}, duplicates ${number(duplicates)}, unexpected ${number(unexpected)}` +
      `${tally.unreadable ? `, unreadable bodies ${number(tally.unreadable)}` : ''}${receiver.strays ? `, stray requests ${number(receiver.strays)}` : ''}`,
  );
  if (duplicateKinds.size) line('  duplicates', [...duplicateKinds].map(([kind, count]) => `${number(count)} ${kind}`).join('; '));
  line(
    'notifications/s',
    `${number(duringLoad / ((loadEnd - loadStart) / 1000))} during the load; ${number(received / span)} from its start to the last arrival,` +
      ` which came ${number((lastArrival - loadEnd) / 1000, 1)} s after the load ended`,
  );
  line(
    'HTTP requests that carried them',
    `${number(tally.r4Posts)} R4 POSTs, ${number(tally.backportBundles)} backport Bundles` +
      ` (${number(tally.backportEvents / Math.max(1, tally.backportBundles), 1)} events each on average)${tally.heartbeats ? `, ${number(tally.heartbeats)} heartbeats` : ''}`,
  );
  console.log('  notification latency, commit → receipt:');
  const latencyLine = (label: string, s: ReturnType<typeof latencySummary>) => line(`  ${label}`, `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)}`);
  latencyLine('upper bound: from the create request being sent', sent);
  latencyLine('from meta.lastUpdated (stamped before the commit)', stamped);
  latencyLine('lower bound: from the 201 arriving', answered);
  for (const [kind, samples] of byKind) latencyLine(`${kind}, upper bound`, latencySummary(samples));
  // A steady delay and a growing backlog have the same p99; the windows tell them apart.
  const windows = windowed.map((samples, i) => {
    const s = latencySummary(samples);
    return `${i * windowSeconds}–${(i + 1) * windowSeconds} s ${number(s.p50)}/${number(s.p99)}`;
  });
  line('  upper bound p50/p99 ms, by when the create was sent', windows.join(', '));
  console.log('  goals:');
  line(`  notification latency p99 < ${LATENCY_GOAL_MS} ms (upper bound)`, `${pass(received > 0 && sent.p99 < LATENCY_GOAL_MS)} (${ms(sent.p99)})`);
  line(`  creates with subscriptions ≥ ${THROUGHPUT_GOAL * 100} % of without`, `${pass(ratio >= THROUGHPUT_GOAL)} (${number(ratio * 100, 1)} %)`);
  line('  every expected notification arrived, exactly once', pass(missing === 0 && duplicates === 0 && unexpected === 0));
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let settings: Settings;
  try {
    settings = parseSettings(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(error.message);
    return 1;
  }
  const budgetMs = (settings.warmupSeconds + settings.maxSeconds + 2 * settings.seconds + 300) * 1000;
  setTimeout(() => {
    console.error(`bench:subscriptions did not finish within ${Math.round(budgetMs / 1000)} s; stopping.`);
    process.exit(1);
  }, budgetMs).unref();
  try {
    await bench(settings);
    return 0;
  } catch (error) {
    if (error instanceof PostgresUnreachable) console.error(`Postgres is not reachable (${error.message}); start it with: ${START_POSTGRES}`);
    else if (error instanceof BenchAlreadyRunning) console.error(error.message);
    else console.error(`bench:subscriptions failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

process.exit(await main());

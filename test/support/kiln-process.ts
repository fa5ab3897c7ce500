// Kiln as its own process, `node dist/server/main.js`, the way `npm start` runs it (`npm test`
// builds dist first): for tests that kill it and start it again on the same data.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '../../dist/server/main.js');

/**
 * Sign-in attempts per minute for tests that are not about them: tests sign in far more often than
 * people do, all from one address (and, on Postgres, into one shared count).
 */
export const TEST_LOGIN_LIMITS = { KILN_LOGIN_ATTEMPTS_PER_MINUTE: '100000', KILN_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE: '1000000' };

/**
 * What every Kiln of the suite shares about notifications. On the real Postgres any of them may
 * deliver any test's notification, so they agree on where notifications may go (the test
 * receivers on this machine) and how soon failures are retried; the embedded MQTT broker takes a
 * free port, since 1883 may be the real broker's.
 */
export const TEST_NOTIFICATIONS = {
  KILN_SUBSCRIPTION_ALLOW_HTTP: 'localhost,127.0.0.1',
  KILN_SUBSCRIPTION_RETRY_BASE_MS: '200',
  KILN_SUBSCRIPTION_MAX_ATTEMPTS: '4',
  KILN_SUBSCRIPTION_MIN_HEARTBEAT_SECONDS: '1',
  KILN_SUBSCRIPTION_POLL_MS: '50',
  KILN_SUBSCRIPTION_TIMEOUT_MS: '2000',
  KILN_SUBSCRIPTION_LEASE_SECONDS: '3',
  KILN_MQTT_PORT: '0',
};

export interface KilnProcess {
  process: ChildProcess;
  origin: string;
  fhirUrl: string;
}

/** Below Linux's ephemeral range (32768 and up), so no outgoing connection holds or takes the port. */
const PORTS = { from: 20_000, to: 32_000 };

/**
 * A port nothing listens on. It is taken from below the ephemeral range: a client that polls a
 * not yet listening port of that range can be given the same port as its own and connect to
 * itself, and such a request never reaches Kiln.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = PORTS.from + Math.floor(Math.random() * (PORTS.to - PORTS.from));
    const free = await new Promise<boolean>((done) => {
      const probe = createServer()
        .once('error', () => done(false))
        .listen(port, '127.0.0.1', () => probe.close(() => done(true)));
    });
    if (free) return port;
  }
}

/** Every Kiln started here and still running: none outlives the test run, even one a timed-out test started late. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-(child.pid as number), signal);
  } catch {
    // Gone already.
  }
}

export interface SpawnedKiln extends KilnProcess {
  /** What it wrote so far, standard output (the JSON log) and standard error together, in order. */
  output(): string;
}

const KEPT_OUTPUT = 1_000_000;

export interface SpawnOptions {
  /** Its port (a test may send requests there before it opens); a free one by default. */
  port?: number;
  /** Its working directory, which relative settings (./data, ./audit-journal) start from. */
  cwd?: string;
}

/**
 * Starts Kiln (one process, authorization off unless `env` says otherwise) without waiting for it,
 * for tests of what happens while it starts.
 */
export async function spawnKiln(env: Record<string, string>, options: SpawnOptions = {}): Promise<SpawnedKiln> {
  const listenOn = options.port ?? (await freePort());
  const origin = `http://127.0.0.1:${listenOn}`;
  const child = spawn(process.execPath, [MAIN], {
    cwd: options.cwd,
    // Notifications only where a test asks for them: each process that reads the feed polls it.
    env: { ...process.env, KILN_AUTH: 'off', LOG_LEVEL: 'warn', ...TEST_LOGIN_LIMITS, ...TEST_NOTIFICATIONS, KILN_NOTIFICATIONS: 'off', KILN_WORKERS: '1', ...env, PORT: String(listenOn), HOST: '127.0.0.1', KILN_BASE_URL: `${origin}/fhir` },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that a signal reaches the whole of it.
    detached: true,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // A Kiln left running never keeps the test run from ending (the exit handler above stops it).
  child.unref();
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    (stream as Socket | null)?.unref();
    stream?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-KEPT_OUTPUT)));
  }
  return { process: child, origin, fhirUrl: `${origin}/fhir`, output: () => output };
}

/** Waits until one of its processes answers /readyz with 200; fails if it exits first. */
export async function waitUntilReady(kiln: SpawnedKiln): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (kiln.process.exitCode !== null) throw new Error(`Kiln exited with ${kiln.process.exitCode}: ${kiln.output()}`);
    const ready = await fetch(`${kiln.origin}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  killGroup(kiln.process, 'SIGKILL');
  throw new Error(`Kiln did not start: ${kiln.output()}`);
}

/** Starts Kiln (one process, authorization off unless `env` says otherwise) and waits until one of its processes answers. */
export async function startKiln(env: Record<string, string>, options: SpawnOptions = {}): Promise<SpawnedKiln> {
  const kiln = await spawnKiln(env, options);
  await waitUntilReady(kiln);
  return kiln;
}

export async function stopKiln(kiln: KilnProcess, signal: NodeJS.Signals): Promise<void> {
  if (kiln.process.exitCode !== null || kiln.process.signalCode !== null) return;
  const exited = new Promise((done) => kiln.process.once('exit', done));
  killGroup(kiln.process, signal);
  await exited;
}

// Kiln as its own process, `node dist/server/main.js`, the way `npm start` runs it (`npm test`
// builds dist first): for tests that kill it and start it again on the same data.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '../../dist/server/main.js');

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

/** Starts Kiln (one process, authorization off unless `env` says otherwise) and waits until it is ready. */
export async function startKiln(env: Record<string, string>): Promise<KilnProcess> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, KILN_AUTH: 'off', LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1', KILN_WORKERS: '1', KILN_BASE_URL: `${origin}/fhir` },
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group, so that a signal reaches the whole of it.
    detached: true,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // A Kiln left running never keeps the test run from ending (the exit handler above stops it).
  child.unref();
  (child.stderr as Socket | null)?.unref();
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`Kiln exited with ${child.exitCode}: ${errors}`);
    const ready = await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { process: child, origin, fhirUrl: `${origin}/fhir` };
    await new Promise((r) => setTimeout(r, 100));
  }
  killGroup(child, 'SIGKILL');
  throw new Error(`Kiln did not start: ${errors}`);
}

export async function stopKiln(kiln: KilnProcess, signal: NodeJS.Signals): Promise<void> {
  if (kiln.process.exitCode !== null || kiln.process.signalCode !== null) return;
  const exited = new Promise((done) => kiln.process.once('exit', done));
  killGroup(kiln.process, signal);
  await exited;
}

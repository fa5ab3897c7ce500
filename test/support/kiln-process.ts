// Kiln as its own process, `node dist/server/main.js`, the way `npm start` runs it (`npm test`
// builds dist first): for tests that kill it and start it again on the same data.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '../../dist/server/main.js');

export interface KilnProcess {
  process: ChildProcess;
  origin: string;
  fhirUrl: string;
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
    probe.on('error', fail);
  });
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
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`Kiln exited with ${child.exitCode}: ${errors}`);
    const ready = await fetch(`${origin}/readyz`).then((r) => r.ok, () => false);
    if (ready) return { process: child, origin, fhirUrl: `${origin}/fhir` };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Kiln did not start: ${errors}`);
}

export async function stopKiln(kiln: KilnProcess, signal: NodeJS.Signals): Promise<void> {
  if (kiln.process.exitCode !== null || kiln.process.signalCode !== null) return;
  const exited = new Promise((done) => kiln.process.once('exit', done));
  process.kill(-(kiln.process.pid as number), signal);
  await exited;
}

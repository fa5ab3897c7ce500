// `npx kiln import`: Bundles and NDJSON through Kiln's interactions, a summary of what failed and
// why, and an import that resumes where it was interrupted without writing anything twice.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';

const KILN = resolve(import.meta.dirname, '../../dist/server/cli/kiln.js');

let work: string;
beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'kiln-import-'));
  if (!process.env.DATABASE_URL) await embeddedDataFolder(join(work, 'db'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** Where the importer and the checking server meet: the suite's Postgres, or an embedded database on disk. */
const databaseEnv = (): Record<string, string> => (process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATABASE_URL: '', KILN_DATA_DIR: join(work, 'db') });

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kiln(args: string[], onSpawn?: (pid: number) => void): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [KILN, ...args], { cwd: work, env: { ...process.env, ...databaseEnv(), LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
    if (onSpawn) onSpawn(child.pid as number);
  });
}

async function withServer<T>(check: (kiln: TestServer) => Promise<T>): Promise<T> {
  const server = await startTestServer(databaseEnv());
  try {
    return await check(server);
  } finally {
    await server.stop();
  }
}

const countBy = async (server: TestServer, type: string, query: string) => (await request(server.server).get(`/fhir/${type}?${query}&_summary=count`)).body.total as number;

function ndjson(marker: string, lines: number, broken: Record<number, string> = {}): string {
  return Array.from({ length: lines }, (_, i) => broken[i + 1] ?? JSON.stringify({ resourceType: 'Patient', identifier: [{ system: marker, value: String(i + 1) }] })).join('\n');
}

it('imports Bundles and NDJSON, and lists each resource that failed with its line and the reason', async () => {
  const marker = `urn:kiln:import:${crypto.randomUUID()}`;
  const p = `urn:uuid:${crypto.randomUUID()}`;
  writeFileSync(
    join(work, 'record.json'),
    JSON.stringify({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: p, resource: { resourceType: 'Patient', identifier: [{ system: marker, value: 'bundle' }] }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource: { resourceType: 'Observation', status: 'final', code: { text: marker }, subject: { reference: p } }, request: { method: 'POST', url: 'Observation' } },
      ],
    }),
  );
  writeFileSync(
    join(work, 'patients.ndjson'),
    ndjson(marker, 450, { 7: JSON.stringify({ resourceType: 'Patient', gender: 'bogus', identifier: [{ system: marker, value: '7' }] }), 9: '{"resourceType": "Patient",' }),
  );
  const run = await kiln(['import', work]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('resources/s');
  expect(run.stdout).toContain('Imported 450 resources');
  expect(run.stdout).toContain('2 failed:');
  expect(run.stdout).toMatch(/patients\.ndjson line 7: 400 .*gender/);
  expect(run.stdout).toMatch(/patients\.ndjson line 9: 400 not valid JSON/);

  await withServer(async (server) => {
    expect(await countBy(server, 'Patient', `identifier=${encodeURIComponent(`${marker}|`)}`)).toBe(449);
    const observations = (await request(server.server).get(`/fhir/Observation?code:text=${encodeURIComponent(marker)}`)).body.entry;
    expect(observations).toHaveLength(1);
    const patient = (await request(server.server).get(`/fhir/Patient?identifier=${encodeURIComponent(`${marker}|bundle`)}`)).body.entry[0].resource;
    expect(observations[0].resource.subject.reference).toBe(`Patient/${patient.id}`);
  });
}, 180_000);

it('resumes an interrupted import and writes every resource exactly once', async () => {
  const marker = `urn:kiln:import:${crypto.randomUUID()}`;
  const lines = 2000;
  writeFileSync(join(work, 'many.ndjson'), ndjson(marker, lines));
  const statePath = join(work, '.kiln-import-state.json');
  // Stop the first run (SIGKILL) as soon as it has recorded some of the file as written.
  const first = await kiln(['import', 'many.ndjson', '--concurrency', '1'], (pid) => {
    const poll = setInterval(() => {
      if (!existsSync(statePath)) return;
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as { files: Record<string, { units: number[] }> };
      if ((Object.values(state.files)[0]?.units.length ?? 0) >= 2) {
        clearInterval(poll);
        process.kill(pid, 'SIGKILL');
      }
    }, 5);
  });
  expect(first.code).toBeNull();
  const written = JSON.parse(readFileSync(statePath, 'utf8')).written as number;
  expect(written).toBeGreaterThanOrEqual(400);
  expect(written).toBeLessThan(lines);

  const second = await kiln(['import', 'many.ndjson']);
  expect(second.code).toBe(0);
  expect(second.stdout).toContain(`${lines.toLocaleString('en-US')} in all with the earlier runs`);
  expect(second.stdout).toContain('Nothing failed.');
  await withServer(async (server) => expect(await countBy(server, 'Patient', `identifier=${encodeURIComponent(`${marker}|`)}`)).toBe(lines));

  // A third run finds nothing left to do.
  const third = await kiln(['import', 'many.ndjson']);
  expect(third.stdout).toContain('Imported 0 resources');
}, 180_000);

it('refuses a file it cannot read as FHIR with a usage error', async () => {
  writeFileSync(join(work, 'notes.txt'), 'hello');
  const run = await kiln(['import', join(work, 'notes.txt')]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('reads .json');
});

// Every write Kiln acknowledged survives the process being killed (SIGKILL, no chance to flush or
// clean up) in the middle of concurrent writes: creates (which share statements and commits
// between requests) and updates, read back after a restart on the same database. A transaction
// killed before it was answered leaving nothing is test/fhir/transaction-crash.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKiln, stopKiln, type SpawnedKiln } from '../support/kiln-process.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';

const WRITERS = 8;

interface Acknowledged {
  /** Created resources, by id. */
  created: Set<string>;
  /** The highest version acknowledged for each updated id. */
  updated: Map<string, number>;
  /** Requests that died with the process (sent, never answered). */
  cut: number;
}

/** A write on a connection of its own; resolves to its status and body, or undefined when the connection died. */
function write(origin: string, method: string, path: string, body: unknown): Promise<{ status: number; json: { id?: string; meta?: { versionId?: string } } } | undefined> {
  return new Promise((done) => {
    const text = JSON.stringify(body);
    const req = request(`${origin}${path}`, { method, agent: false, headers: { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      let answer = '';
      res.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      res.on('end', () => {
        try {
          done({ status: res.statusCode ?? 0, json: JSON.parse(answer) as { id?: string } });
        } catch {
          done(undefined);
        }
      });
      res.on('error', () => done(undefined));
    });
    req.on('error', () => done(undefined));
    req.end(text);
  });
}

/** Writers that create Patients and update the ones they created, until the process dies. */
async function writeUntilKilled(kiln: SpawnedKiln, marker: string, killAfter: number): Promise<Acknowledged> {
  const acknowledged: Acknowledged = { created: new Set(), updated: new Map(), cut: 0 };
  let killing: Promise<void> | undefined;
  const patient = (writer: number, i: number, id?: string) => ({ resourceType: 'Patient', ...(id ? { id } : {}), identifier: [{ system: marker, value: `${writer}-${i}` }], name: [{ family: `Killed${i}` }] });
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const mine: string[] = [];
      for (let i = 0; ; i++) {
        const update = mine.length > 0 && i % 3 === 2 ? mine[i % mine.length] : undefined;
        const answer = update ? await write(kiln.origin, 'PUT', `/fhir/Patient/${update}`, patient(writer, i, update)) : await write(kiln.origin, 'POST', '/fhir/Patient', patient(writer, i));
        if (!answer) {
          acknowledged.cut++;
          return;
        }
        expect([200, 201]).toContain(answer.status);
        const id = answer.json.id as string;
        if (update) acknowledged.updated.set(id, Math.max(acknowledged.updated.get(id) ?? 0, Number(answer.json.meta?.versionId)));
        else {
          acknowledged.created.add(id);
          mine.push(id);
        }
        if (acknowledged.created.size + acknowledged.updated.size >= killAfter) killing ??= stopKiln(kiln, 'SIGKILL');
      }
    }),
  );
  await killing;
  return acknowledged;
}

it('keeps every acknowledged create and update after the process was killed under concurrent writes', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-kill-writes-'));
  // On the real Postgres when the suite runs there, otherwise on the embedded database on disk.
  const env: Record<string, string> = process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATABASE_URL: '', KILN_DATA_DIR: dataDir };
  if (!process.env.DATABASE_URL) await embeddedDataFolder(dataDir);
  let kiln = await startKiln(env);
  try {
    const marker = `urn:kiln:kill-writes:${crypto.randomUUID()}`;
    const acknowledged = await writeUntilKilled(kiln, marker, 300);
    console.log(`acknowledged before the kill: ${acknowledged.created.size} creates, ${acknowledged.updated.size} updated resources; ${acknowledged.cut} requests cut off`);
    expect(acknowledged.cut).toBeGreaterThan(0);

    kiln = await startKiln(env);
    const missing: string[] = [];
    for (const id of acknowledged.created) {
      if ((await fetch(`${kiln.fhirUrl}/Patient/${id}`)).status !== 200) missing.push(`Patient/${id}`);
    }
    for (const [id, version] of acknowledged.updated) {
      if ((await fetch(`${kiln.fhirUrl}/Patient/${id}/_history/${version}`)).status !== 200) missing.push(`Patient/${id}/_history/${version}`);
    }
    expect(missing).toEqual([]);
    const found = (await (await fetch(`${kiln.fhirUrl}/Patient?identifier=${encodeURIComponent(`${marker}|`)}&_summary=count`)).json()) as { total: number };
    // Creates cut off after they were committed may be there too; none acknowledged is absent.
    expect(found.total).toBeGreaterThanOrEqual(acknowledged.created.size);
  } finally {
    await stopKiln(kiln, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 300_000);

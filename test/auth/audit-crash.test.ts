// Reads' AuditEvents are never lost, even when Kiln dies without a chance to clean up: each read is
// in the journal before it is answered, and the next start stores what the dead process had not.
// Kiln is killed (SIGKILL) in the middle of a stream of reads, started again on the same database
// and journal, and every answered read is in an AuditEvent, none twice.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '../../server/auth/clients.js';
import { createUser } from '../../server/auth/users.js';
import { loadConfig } from '../../server/config.js';
import { openStore } from '../../server/open-store.js';
import { startKiln, stopKiln, type KilnProcess } from '../support/kiln-process.js';
import { uniqueId } from '../support/test-server.js';
import { PASSWORD, signIn } from './support.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';

const READERS = 4;

let folder: string;
let env: Record<string, string>;
let kiln: KilnProcess | undefined;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'kiln-audit-crash-'));
  if (!process.env.DATABASE_URL) await embeddedDataFolder(join(folder, 'data'));
  // On the real Postgres when the suite runs there, otherwise on the embedded database on disk.
  env = {
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATABASE_URL: '', KILN_DATA_DIR: join(folder, 'data') }),
    KILN_AUTH: 'on',
    KILN_AUDIT_JOURNAL_DIR: join(folder, 'journal'),
  };
});
afterAll(async () => {
  if (kiln) await stopKiln(kiln, 'SIGTERM');
  rmSync(folder, { recursive: true, force: true });
});

/** An administrator and an app, made in the database before Kiln starts (as `kiln admin` does). */
async function administrator(): Promise<{ username: string; clientId: string }> {
  const db = await openStore(loadConfig(env));
  try {
    const { username } = await createUser(db, { username: uniqueId('admin'), password: PASSWORD, role: 'admin' });
    const { client } = await createClient(db, { name: 'Audit crash test', kind: 'public', redirectUris: ['http://localhost:9999/callback'], scope: 'user/*.cruds' });
    return { username, clientId: client.clientId };
  } finally {
    await db.close();
  }
}

it('stores the AuditEvent of every answered read after the process was killed', async () => {
  const { username, clientId } = await administrator();
  kiln = await startKiln(env);
  const { access_token: token } = await signIn(kiln, { clientId, scope: 'user/*.cruds', username });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
  const created = await fetch(`${kiln.fhirUrl}/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Journal' }] }) });
  expect(created.status).toBe(201);
  const patient = ((await created.json()) as { id: string }).id;

  // Readers read the Patient over and over. The process is killed the moment the 50th read is
  // answered: that read's AuditEvent is then still being gathered (for 100 ms), so it is only in the journal.
  let sent = 0;
  let answered = 0;
  const victim = kiln;
  let killed: Promise<void> | undefined;
  const readers = Array.from({ length: READERS }, async () => {
    while (!killed) {
      sent++;
      const response = await fetch(`${victim.fhirUrl}/Patient/${patient}`, { headers, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      // The body is read whole, or the read was not answered.
      const body = await response?.arrayBuffer().catch(() => undefined);
      if (!response || !body) return;
      expect(response.status).toBe(200);
      if (++answered === 50) killed = stopKiln(victim, 'SIGKILL');
    }
  });
  await Promise.all(readers);
  await killed;
  // What the killed process had not stored yet is in its journal.
  expect(readdirSync(join(folder, 'journal')).length).toBeGreaterThan(0);
  expect(answered).toBeGreaterThanOrEqual(50);

  kiln = await startKiln(env);
  const { access_token: again } = await signIn(kiln, { clientId, scope: 'user/*.cruds', username });
  const audited = async () => {
    const bundle = (await (await fetch(`${kiln?.fhirUrl}/AuditEvent?entity=Patient/${patient}&action=R&_count=1000`, { headers: { authorization: `Bearer ${again}` } })).json()) as {
      entry?: { resource: { entity: { what?: { reference?: string } }[] } }[];
    };
    return (bundle.entry ?? []).flatMap((e) => e.resource.entity).filter((entity) => entity.what?.reference === `Patient/${patient}/_history/1`).length;
  };
  // The killed process's segments are replayed at the start, before Kiln answers.
  expect(readdirSync(join(folder, 'journal')).filter((name) => name.startsWith(`${victim.process.pid}-`))).toEqual([]);
  const count = await audited();
  expect(count).toBeGreaterThanOrEqual(answered);
  // A read sent but cut off by the kill may have been journaled; nothing is recorded twice.
  expect(count).toBeLessThanOrEqual(sent);
}, 300_000);

// The embedded database's schema, built once per test run and shared by every test file, instead
// of each file (and each Kiln process a test starts) creating 5,000 tables and indexes again:
// as a snapshot that an in-memory database loads, and as a data folder that a test copies for a
// Kiln process it starts. The first file to ask builds each under a lock (a directory, which
// only one process can create); the others wait for it.
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadValidation } from '../../resources/validate.js';
import { openPglite } from '../../server/store/pglite-database.js';
import { migrate } from '../../server/store/schema.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** `name` in this run's folder, built by `build(path)` the first time anyone asks; undefined outside a test run. */
export async function builtOnce(name: string, build: (path: string) => Promise<void>): Promise<string | undefined> {
  const dir = process.env.KILN_TEST_RUN_DIR;
  if (!dir) return undefined;
  const path = join(dir, name);
  if (await exists(path)) return path;
  const owner = await mkdir(`${path}.lock`).then(
    () => true,
    () => false,
  );
  if (owner) {
    loadValidation();
    await rm(`${path}.part`, { recursive: true, force: true });
    await build(`${path}.part`);
    await rename(`${path}.part`, path);
    return path;
  }
  const deadline = Date.now() + 180_000;
  while (!(await exists(path))) {
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return path;
}

export async function embeddedSnapshot(): Promise<Blob | undefined> {
  const file = await builtOnce('schema.tar.gz', async (path) => {
    const db = await openPglite(undefined);
    await migrate(db);
    const snapshot = await db.dump();
    await db.close();
    await writeFile(path, Buffer.from(await snapshot.arrayBuffer()));
  });
  return file ? new Blob([await readFile(file)]) : undefined;
}

/**
 * Fills `folder` with an embedded database whose schema is made, as a first start would leave it:
 * for tests of a Kiln process that are not about its first start. Without a test run's folder the
 * process makes the schema itself.
 */
export async function embeddedDataFolder(folder: string): Promise<void> {
  const template = await builtOnce('data-folder', async (path) => {
    const db = await openPglite(path);
    await migrate(db);
    await db.close();
  });
  if (template) await cp(template, folder, { recursive: true });
}

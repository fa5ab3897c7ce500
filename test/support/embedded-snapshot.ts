// The embedded database's schema, built once per test run and shared by every test file's
// server as a snapshot, instead of each file creating 3,000 indexes again. The first file to ask
// builds it under a lock (a directory, which only one process can create); the others wait.
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
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

export async function embeddedSnapshot(): Promise<Blob | undefined> {
  const dir = process.env.KILN_TEST_RUN_DIR;
  if (!dir) return undefined;
  const file = join(dir, 'schema.tar');
  const lock = join(dir, 'schema.lock');
  if (!(await exists(file))) {
    const owner = await mkdir(lock).then(
      () => true,
      () => false,
    );
    if (owner) {
      loadValidation();
      const db = await openPglite(undefined);
      await migrate(db);
      const snapshot = await db.dump();
      await db.close();
      await writeFile(`${file}.part`, Buffer.from(await snapshot.arrayBuffer()));
      await rename(`${file}.part`, file);
    } else {
      const deadline = Date.now() + 120_000;
      while (!(await exists(file))) {
        if (Date.now() > deadline) return undefined;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
  return new Blob([await readFile(file)]);
}

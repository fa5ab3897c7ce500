import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFolderInUse, dataFolderHolder, LOCK_FILE, lockDataFolder } from './data-folder-lock.js';

let folder: string;
beforeEach(() => (folder = mkdtempSync(join(tmpdir(), 'kiln-lock-unit-'))));
afterEach(() => rmSync(folder, { recursive: true, force: true }));

it('lets one holder at a time have the folder, within one process too, and frees it on release', () => {
  const lock = lockDataFolder(folder, 'the Kiln server');
  expect(dataFolderHolder(folder)).toMatchObject({ pid: process.pid, command: 'the Kiln server' });
  expect(() => lockDataFolder(folder, 'kiln import')).toThrow(DataFolderInUse);
  lock.release();
  expect(dataFolderHolder(folder)).toBeUndefined();
  lockDataFolder(folder, 'kiln import').release();
});

it('takes over a lock whose process is gone, and one that is not a lock at all', () => {
  // The largest pid Linux hands out is 4194304; this one runs nothing.
  writeFileSync(join(folder, LOCK_FILE), JSON.stringify({ pid: 4_194_303, command: 'the Kiln server' }));
  expect(dataFolderHolder(folder)).toBeUndefined();
  lockDataFolder(folder, 'the Kiln server').release();
  writeFileSync(join(folder, LOCK_FILE), 'garbage');
  const lock = lockDataFolder(folder, 'the Kiln server');
  expect(JSON.parse(readFileSync(join(folder, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
  lock.release();
});

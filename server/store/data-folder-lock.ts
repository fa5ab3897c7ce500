// The embedded database is one process's: two processes writing one PGlite folder lose each
// other's writes and wait on each other's files. A lock file in the folder names the process that
// has it open (pid, and on Linux the process's start time, so that a pid used again by another
// process is not taken for the holder). It is created atomically, complete (written aside, then
// hard-linked into place, which fails if the name exists), and a lock whose process is gone is
// stale and taken over.
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'kiln.lock';

/** Who holds a data folder. */
export interface LockHolder {
  pid: number;
  /** What holds it, for messages: `the Kiln server`, `kiln import`… */
  command: string;
  /** /proc start time of the process, where there is a /proc. */
  startTicks?: string;
}

export class DataFolderInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
    message = `the data folder ${dataDir} is in use by ${holder.command} (pid ${holder.pid})`,
  ) {
    super(message);
    this.name = 'DataFolderInUse';
  }
}

export interface DataFolderLock {
  release(): void;
}

/** Lock files this process holds, so that it never takes its own lock for a stale one. */
const held = new Set<string>();

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(holder: LockHolder, path: string): boolean {
  // The same pid as this process: its own lock if it holds it, else a previous life of a process
  // given the same pid (a container restarted), which is gone.
  if (holder.pid === process.pid) return held.has(path);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const now = startTicks(holder.pid);
  return !(holder.startTicks && now && now !== holder.startTicks);
}

function readHolder(path: string): { text: string; holder?: LockHolder } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const holder = JSON.parse(text) as LockHolder;
    return { text, holder: Number.isInteger(holder.pid) ? holder : undefined };
  } catch {
    return { text };
  }
}

/** The live process holding `dataDir`, if any. */
export function dataFolderHolder(dataDir: string): LockHolder | undefined {
  const path = join(resolve(dataDir), LOCK_FILE);
  const found = readHolder(path);
  return found?.holder && isAlive(found.holder, path) ? found.holder : undefined;
}

/** Takes the data folder for this process, or throws DataFolderInUse naming the live holder. */
export function lockDataFolder(dataDir: string, command: string): DataFolderLock {
  const path = join(resolve(dataDir), LOCK_FILE);
  const mine: LockHolder = { pid: process.pid, command, startTicks: startTicks(process.pid) };
  const text = JSON.stringify(mine);
  const aside = `${path}.${process.pid}.${Date.now()}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    writeFileSync(aside, text, { mode: 0o644 });
    try {
      linkSync(aside, path);
      held.add(path);
      const release = () => {
        process.off('exit', release);
        if (!held.delete(path)) return;
        // Only our own lock: never one another process took over after us.
        if (readHolder(path)?.text === text) unlinkSync(path);
      };
      // A process that ends without closing its database leaves no lock behind (SIGKILL still does: it goes stale).
      process.on('exit', release);
      return { release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(aside);
    }
    const found = readHolder(path);
    if (found?.holder && isAlive(found.holder, path)) throw new DataFolderInUse(dataDir, found.holder);
    // Stale, or not a lock Kiln wrote: remove it, unless it changed since it was read.
    if (found && readHolder(path)?.text === found.text) {
      try {
        unlinkSync(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  throw new Error(`could not lock the data folder ${dataDir}: its lock file ${path} keeps changing`);
}

/** What a command-line tool's lock names it as: `kiln import`, `kiln admin token`. */
const TOOL = /^kiln /;
const TOOL_POLL_MS = 250;

/**
 * Takes the data folder; when a command-line tool holds it (they finish in moments, or an import in
 * minutes), waits up to `waitSeconds` for it, saying so once. A server holding it is refused at once.
 */
export async function lockDataFolderWhenFree(dataDir: string, command: string, waitSeconds: number, log?: { warn(message: string): void }): Promise<DataFolderLock> {
  const deadline = Date.now() + waitSeconds * 1000;
  let told = false;
  for (;;) {
    try {
      return lockDataFolder(dataDir, command);
    } catch (error) {
      if (!(error instanceof DataFolderInUse) || !TOOL.test(error.holder.command) || Date.now() >= deadline) throw error;
      if (!told) log?.warn(`${error.message}; waiting for it to finish`);
      told = true;
      await new Promise((resolve) => setTimeout(resolve, TOOL_POLL_MS));
    }
  }
}

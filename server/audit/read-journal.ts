// The journal that keeps reads' audit records safe between the response and the AuditEvent's
// commit. Each process appends one line per read to its current segment file before the data is
// answered, so a process that dies (SIGKILL, out of memory) leaves its unstored reads on disk.
// Segments are named `<pid>-<uuid>.ndjson`; a segment is removed once the AuditEvents made of it
// are stored, and any process may claim and replay a segment nobody is storing any more.
// A segment lives about 100 ms when all is well, so it is not forced to the disk (the page cache
// outlives the process, and forcing every segment made every read wait on the file system's
// journal); one whose AuditEvents could not be stored is forced to the disk as it is left behind.
import { close, closeSync, fdatasync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

const SEGMENT = /^(\d+)-[0-9a-f-]{36}\.ndjson$/;

/** A segment not touched for this long belongs to no one who is still storing it. */
const ABANDONED_AFTER_MS = 60_000;

export interface Segment {
  readonly path: string;
  fd: number | undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class ReadJournal {
  private current: Segment | undefined;
  /** Segments this process writes or is storing: never claimable by this process's own sweep. */
  private readonly own = new Set<string>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private newName(): string {
    return join(this.dir, `${process.pid}-${randomUUID()}.ndjson`);
  }

  /** Appends one record to the current segment; it is on disk (in the page cache) when this returns. */
  append(record: unknown): Segment {
    if (!this.current) {
      const path = this.newName();
      // The folder is made again if an operator removed it while Kiln ran.
      mkdirSync(this.dir, { recursive: true });
      this.current = { path, fd: openSync(path, 'a', 0o600) };
      this.own.add(path);
    }
    writeSync(this.current.fd as number, `${JSON.stringify(record)}\n`);
    return this.current;
  }

  /** Ends the current segment: later records go to a new one. */
  rotate(): Segment | undefined {
    const ended = this.current;
    this.current = undefined;
    if (ended?.fd !== undefined) {
      closeSync(ended.fd);
      ended.fd = undefined;
    }
    return ended;
  }

  /** The segment's AuditEvents are stored: it is no longer needed. */
  release(segment: Segment): void {
    this.own.delete(segment.path);
    try {
      unlinkSync(segment.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** Storing failed: leave the segment on disk, forced there, for a later sweep (of this process or another) to replay. */
  abandon(segment: Segment): void {
    this.own.delete(segment.path);
    try {
      const fd = openSync(segment.path, 'r');
      fdatasync(fd, () => close(fd, () => undefined));
    } catch {
      // Already claimed by another process's sweep: it is that process's now.
    }
  }

  /**
   * Segments that no live process is storing, each claimed for this process by an atomic rename
   * (so two processes never replay the same one): those of processes that are gone, this process's
   * own abandoned ones, earlier processes' with this same pid, and any untouched for a minute.
   */
  claimAbandoned(now = Date.now()): Segment[] {
    const claimed: Segment[] = [];
    mkdirSync(this.dir, { recursive: true });
    for (const name of readdirSync(this.dir)) {
      const match = SEGMENT.exec(name);
      const path = join(this.dir, name);
      if (!match || this.own.has(path)) continue;
      const pid = Number(match[1]);
      let stale = pid === process.pid || !isAlive(pid);
      if (!stale) {
        try {
          stale = now - statSync(path).mtimeMs > ABANDONED_AFTER_MS;
        } catch {
          continue;
        }
      }
      if (!stale) continue;
      const mine = this.newName();
      try {
        renameSync(path, mine);
        // A fresh time keeps the claimed segment from looking abandoned while it is replayed.
        utimesSync(mine, new Date(), new Date());
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process claimed it first
        throw error;
      }
      this.own.add(mine);
      claimed.push({ path: mine, fd: undefined });
    }
    return claimed;
  }
}

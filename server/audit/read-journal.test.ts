import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadJournal } from './read-journal.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'kiln-journal-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A pid no process has: above the kernel's limit. */
const DEAD_PID = 4_194_305;
const segmentOf = (pid: number) => `${pid}-${crypto.randomUUID()}.ndjson`;

it('writes each record as a line of the current segment, and starts a new segment after a rotation', () => {
  const journal = new ReadJournal(dir);
  const first = journal.append({ n: 1 });
  expect(journal.append({ n: 2 })).toBe(first);
  expect(readFileSync(first.path, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
  expect(journal.rotate()).toBe(first);
  const second = journal.append({ n: 3 });
  expect(second.path).not.toBe(first.path);
  journal.release(first);
  expect(readdirSync(dir)).toEqual([second.path.split('/').pop()]);
});

it("claims the segments of dead processes and its own abandoned ones, never a live process's", () => {
  const journal = new ReadJournal(dir);
  const live = journal.append({ n: 1 });
  writeFileSync(join(dir, segmentOf(DEAD_PID)), '{"n":2}\n');
  // The parent of this process is alive, and its segment was touched just now.
  writeFileSync(join(dir, segmentOf(process.ppid)), '{"n":3}\n');
  const claimed = journal.claimAbandoned();
  expect(claimed.map((segment) => readFileSync(segment.path, 'utf8'))).toEqual(['{"n":2}\n']);
  // Claimed segments carry this process's pid, so that no one else takes them while they are replayed.
  expect(claimed[0].path).toContain(`/${process.pid}-`);
  expect(journal.claimAbandoned()).toEqual([]);

  journal.rotate();
  journal.abandon(live);
  expect(journal.claimAbandoned().map((segment) => readFileSync(segment.path, 'utf8'))).toEqual(['{"n":1}\n']);
});

it("claims a live process's segment that nobody has touched for a minute", () => {
  const journal = new ReadJournal(dir);
  const path = join(dir, segmentOf(process.ppid));
  writeFileSync(path, '{"n":1}\n');
  const old = new Date(Date.now() - 61_000);
  utimesSync(path, old, old);
  expect(journal.claimAbandoned()).toHaveLength(1);
});

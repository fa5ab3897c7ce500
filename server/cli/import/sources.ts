// What `kiln import` reads: FHIR Bundles and single resources (`.json`) and NDJSON (`.ndjson`,
// one resource a line, as Bulk Data $export writes it), cut into units that are each written
// whole or not at all, so that an interrupted import can resume at the first unit not done.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export interface SourceFile {
  path: string;
  kind: 'json' | 'ndjson';
  size: number;
  mtimeMs: number;
}

/** One Bundle to send: a file's Bundle, or a chunk of an NDJSON file as a batch. */
export interface ImportUnit {
  file: SourceFile;
  /** Position of the unit in its file (chunk number; 0 for a whole file). */
  unit: number;
  bytes: number;
  bundle: Record<string, unknown>;
  /** Where each entry came from, for the failure report: `entry 3`, `line 1207`. */
  origins: string[];
  /** The file's text, to parse again if a transaction has to run twice. */
  text?: string;
  /** Lines that are not JSON: failed before anything is sent. */
  unreadable: { origin: string; message: string }[];
}

export const NDJSON_CHUNK_LINES = 200;

export async function listSources(paths: string[]): Promise<SourceFile[]> {
  const found: SourceFile[] = [];
  const visit = async (path: string, named: boolean): Promise<void> => {
    const info = await stat(path).catch(() => {
      throw new InputError(`${path}: no such file or folder`);
    });
    if (info.isDirectory()) {
      const names = (await readdir(path)).sort();
      for (const name of names) if (!name.startsWith('.')) await visit(join(path, name), false);
      return;
    }
    const extension = extname(path).toLowerCase();
    if (extension === '.json' || extension === '.ndjson') found.push({ path: resolve(path), kind: extension === '.json' ? 'json' : 'ndjson', size: info.size, mtimeMs: info.mtimeMs });
    else if (named) throw new InputError(`${path}: kiln import reads .json (Bundles or resources) and .ndjson files`);
  };
  for (const path of paths) await visit(path, true);
  return found;
}

/** The units of a file, in order, skipping those `done` says were written already. */
export async function* unitsOf(file: SourceFile, done: (unit: number) => boolean): AsyncGenerator<ImportUnit> {
  if (file.kind === 'json') {
    if (done(0)) return;
    const text = await readFile(file.path, 'utf8');
    yield jsonUnit(file, text);
    return;
  }
  let lineNumber = 0;
  let chunk: { line: number; text: string }[] = [];
  let unit = 0;
  const lines = createInterface({ input: createReadStream(file.path, 'utf8'), crlfDelay: Infinity });
  for await (const text of lines) {
    lineNumber++;
    if (text.trim()) chunk.push({ line: lineNumber, text });
    if (chunk.length === NDJSON_CHUNK_LINES) {
      if (!done(unit)) yield ndjsonUnit(file, unit, chunk);
      unit++;
      chunk = [];
    }
  }
  if (chunk.length && !done(unit)) yield ndjsonUnit(file, unit, chunk);
}

function jsonUnit(file: SourceFile, text: string): ImportUnit {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new UnitError(`not valid JSON: ${(error as Error).message}`);
  }
  if (body?.resourceType === 'Bundle' && (body.type === 'transaction' || body.type === 'batch')) {
    const entries = Array.isArray(body.entry) ? body.entry : [];
    return { file, unit: 0, bytes: file.size, bundle: body, origins: entries.map((_, i) => `entry ${i}`), text, unreadable: [] };
  }
  // Any other Bundle (collection, searchset, …) is a list of resources; anything else is one.
  const resources = body?.resourceType === 'Bundle' ? ((body.entry as { resource?: unknown }[] | undefined) ?? []).map((e) => e.resource) : [body];
  return {
    file,
    unit: 0,
    bytes: file.size,
    bundle: batchOf(resources.map((resource, i) => ({ resource, key: `${file.path}#${i}` }))),
    origins: resources.map((_, i) => (body?.resourceType === 'Bundle' ? `entry ${i}` : 'resource')),
    unreadable: [],
  };
}

function ndjsonUnit(file: SourceFile, unit: number, chunk: { line: number; text: string }[]): ImportUnit {
  const read: { resource: unknown; key: string; line: number }[] = [];
  const unreadable: ImportUnit['unreadable'] = [];
  for (const { line, text } of chunk) {
    try {
      read.push({ resource: JSON.parse(text) as unknown, key: `${file.path}:${line}`, line });
    } catch (error) {
      unreadable.push({ origin: `line ${line}`, message: `not valid JSON: ${(error as Error).message}` });
    }
  }
  const bytes = chunk.reduce((sum, { text }) => sum + Buffer.byteLength(text) + 1, 0);
  return { file, unit, bytes, bundle: batchOf(read), origins: read.map(({ line }) => `line ${line}`), unreadable };
}

/**
 * A batch writing each resource under its own id (PUT), or, without one, under an id derived from
 * where it was read: importing the same input twice, or resuming, writes each resource once.
 */
function batchOf(resources: { resource: unknown; key: string }[]): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'batch',
    entry: resources.map(({ resource, key }) => {
      const r = (resource ?? {}) as { resourceType?: unknown; id?: unknown };
      const type = typeof r.resourceType === 'string' ? r.resourceType : 'Unknown';
      const id = typeof r.id === 'string' ? r.id : derivedId(key);
      return { resource: { ...r, id }, request: { method: 'PUT', url: `${type}/${id}` } };
    }),
  };
}

function derivedId(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Input `kiln import` cannot take at all: it stops before writing anything. */
export class InputError extends Error {}

/** A unit that cannot be sent at all (a file that is not JSON). */
export class UnitError extends Error {}

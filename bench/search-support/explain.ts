// The SQL a search really runs, and its plans. Kiln's own search interaction (the function the
// HTTP route calls) runs in this process over a database wrapper that records every statement and
// its parameters; each recorded statement is then run again under EXPLAIN (ANALYZE, BUFFERS).
// Nothing of the server is changed or reimplemented: what is explained is what Kiln sends.
import pg from 'pg';
import { search } from '../../server/fhir/interactions/search.js';
import type { FhirContext } from '../../server/fhir/context.js';
import type { Database, Queryable, QueryResult } from '../../server/store/database.js';

export interface Statement {
  sql: string;
  params: unknown[];
}

/** A Kiln Database over a `pg` pool; `statements` receives every statement run through it. */
export function recordingDatabase(pool: pg.Pool, statements?: Statement[]): Database {
  const run = async <Row>(q: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]): Promise<QueryResult<Row>> => {
    statements?.push({ sql, params: params ?? [] });
    const result = await q.query(sql, params as unknown[] | undefined);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  };
  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    async transaction(work) {
      const conn = await pool.connect();
      const tx: Queryable = { query: (sql, params) => run(conn, sql, params) };
      try {
        await conn.query('BEGIN');
        const result = await work(tx);
        await conn.query('COMMIT');
        return result;
      } catch (error) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        conn.release();
      }
    },
    schemaTransaction: () => Promise.reject(new Error('a measured search changes no schema')),
    async exec(sql) {
      await pool.query(sql);
    },
    listen: () => Promise.reject(new Error('a measured search listens for no notifications')),
    close: async () => undefined,
  };
}

/** The context the server builds (server/server.ts) with its default settings. */
export function searchContext(db: Database, baseUrl: string): FhirContext {
  return { db, baseUrl, checkReferences: true, maxConditionalDeletes: 100, maxBundleEntries: 10000, maxBodyBytes: 16 * 1024 * 1024, maxPatchOperations: 1000, maxIncludes: 1000, maxBatchResults: 10000, defaultPageSize: 20, maxPageSize: 1000 };
}

/** Runs Kiln's search for `path` (`Type?query`) in this process; returns the Bundle text and the statements it ran. */
export async function searchInProcess(pool: pg.Pool, baseUrl: string, path: string): Promise<{ bundle: string; statements: Statement[] }> {
  const [type, query = ''] = path.split('?', 2);
  const statements: Statement[] = [];
  const ctx = searchContext(recordingDatabase(pool, statements), baseUrl);
  const bundle = await search(ctx, type, [...new URLSearchParams(query)], { lenient: false });
  return { bundle, statements };
}

/**
 * The statements Kiln would run first for `path`, without running them: the database answers every
 * statement with no rows (so a search with includes stops after its main statement).
 */
export async function capturedStatements(baseUrl: string, path: string): Promise<Statement[]> {
  const [type, query = ''] = path.split('?', 2);
  const statements: Statement[] = [];
  const empty = async <Row>(sql: string, params?: unknown[]): Promise<QueryResult<Row>> => {
    statements.push({ sql, params: params ?? [] });
    return { rows: [], rowCount: 0 };
  };
  const db: Database = {
    kind: 'postgres',
    query: empty,
    transaction: (work) => work({ query: empty }),
    schemaTransaction: () => Promise.reject(new Error('a captured search changes no schema')),
    exec: async () => undefined,
    listen: async () => undefined,
    close: async () => undefined,
  };
  await search(searchContext(db, baseUrl), type, [...new URLSearchParams(query)], { lenient: false });
  return statements;
}

/** Execution time and buffer use of a statement, from EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON). */
export async function measureStatement(pool: pg.Pool, statement: Statement): Promise<{ executionMs: number; planningMs: number; hit: number; read: number }> {
  const result = await pool.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement.sql}`, statement.params);
  const json = result.rows[0]['QUERY PLAN'];
  const [top] = (typeof json === 'string' ? JSON.parse(json) : json) as {
    Plan: { 'Shared Hit Blocks'?: number; 'Shared Read Blocks'?: number };
    'Execution Time': number;
    'Planning Time': number;
  }[];
  return {
    executionMs: top['Execution Time'],
    planningMs: top['Planning Time'],
    hit: top.Plan['Shared Hit Blocks'] ?? 0,
    read: top.Plan['Shared Read Blocks'] ?? 0,
  };
}

/** One plan node line, as EXPLAIN ANALYZE prints it. */
export interface PlanLine {
  text: string;
  node?: string;
  relation?: string;
  index?: string;
  estimatedRows?: number;
  actualRows?: number;
  loops?: number;
}

export interface Plan {
  statement: Statement;
  lines: PlanLine[];
  executionMs: number;
  planningMs: number;
  /** Rows read and then thrown away ("Rows Removed by Filter / by Index Recheck", summed as printed). */
  removed: number;
  /** Buffers of the whole statement (its top node): found in shared_buffers, read from outside. */
  hit: number;
  read: number;
}

const NODE = /^\s*(?:->\s+)?([A-Z][A-Za-z ]+?)(?: using ([^\s]+))?(?: on ([^\s]+)(?: [a-z0-9_]+)?)?\s+\(cost=[0-9.]+\.\.[0-9.]+ rows=([0-9]+) width=[0-9]+\)(?: \(actual time=[0-9.]+\.\.[0-9.]+ rows=([0-9]+) loops=([0-9]+)\))?/;

function parseLine(text: string): PlanLine {
  const match = NODE.exec(text);
  if (!match) return { text };
  const [, node, using, on, estimated, actual, loops] = match;
  // "Index Scan using idx on table", "Bitmap Index Scan on idx", "Seq Scan on table".
  const isBitmapIndex = node === 'Bitmap Index Scan';
  return {
    text,
    node,
    relation: isBitmapIndex ? undefined : on?.replace(/"/g, ''),
    index: (isBitmapIndex ? on : using)?.replace(/"/g, ''),
    estimatedRows: Number(estimated),
    actualRows: actual === undefined ? undefined : Number(actual),
    loops: loops === undefined ? undefined : Number(loops),
  };
}

export async function explain(pool: pg.Pool, statement: Statement): Promise<Plan> {
  const result = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.sql}`, statement.params);
  const lines = result.rows.map((row) => parseLine(row['QUERY PLAN']));
  const time = (label: string) => Number(/([0-9.]+) ms/.exec(lines.find((l) => l.text.startsWith(label))?.text ?? '')?.[1] ?? NaN);
  const removed = lines.reduce((sum, l) => sum + Number(/Rows Removed by (?:Filter|Index Recheck): ([0-9]+)/.exec(l.text)?.[1] ?? 0), 0);
  const buffers = lines.find((l) => /^\s*Buffers: shared/.test(l.text))?.text ?? '';
  return {
    statement,
    lines,
    executionMs: time('Execution Time'),
    planningMs: time('Planning Time'),
    removed,
    hit: Number(/hit=([0-9]+)/.exec(buffers)?.[1] ?? 0),
    read: Number(/read=([0-9]+)/.exec(buffers)?.[1] ?? 0),
  };
}

/** The statement as one readable line: white space collapsed, parameters listed after it. */
export function statementText(statement: Statement, maxParam = 80): string[] {
  const sql = statement.sql.replace(/\s+/g, ' ').trim();
  const params = statement.params.map((p, i) => {
    const text = p instanceof Date ? p.toISOString() : JSON.stringify(p);
    return `$${i + 1}=${text.length > maxParam ? `${text.slice(0, maxParam)}…` : text}`;
  });
  return [sql, params.join('  ')];
}

export function isIndexNode(line: PlanLine): boolean {
  return Boolean(line.node && /Index (Only )?Scan/.test(line.node));
}

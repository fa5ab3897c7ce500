// The storage contract: the only way the rest of Kiln reaches SQL. Two implementations
// (a real Postgres through `pg`, the embedded PGlite) run the same statements, and both carry
// Postgres LISTEN/NOTIFY notifications between the processes on one database.

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
}

/** A transaction for schema changes, which may also send many statements without parameters at once. */
export interface SchemaTransaction extends Queryable {
  exec(sql: string): Promise<void>;
}

/** What a process does with the notifications of one channel (Postgres LISTEN/NOTIFY). */
export interface NotificationHandler {
  /** A notification, with its payload. */
  message(payload: string): void;
  /**
   * The listening connection was lost and is back: notifications sent in between are lost, so
   * whatever they announce has to be read again in full.
   */
  missed(): void;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** True for a scope inside a transaction already open (a transaction Bundle): a failed statement has aborted it. */
  readonly joined?: boolean;
  /** Runs `work` in one database transaction; any throw rolls everything back. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `work` in one transaction with no deadline on its statements: schema changes, such as
   * building an index on a large table, may run longer than any request is allowed to.
   */
  schemaTransaction<T>(work: (tx: SchemaTransaction) => Promise<T>): Promise<T>;
  /** Runs several statements without parameters (session settings). */
  exec(sql: string): Promise<void>;
  /**
   * Hands every notification on `channel` (sent with `pg_notify` by any process on this database)
   * to `handler` until the database is closed; resolves once listening. `channel` is a lower-case
   * identifier.
   */
  listen(channel: string, handler: NotificationHandler): Promise<void>;
  /** Closes the connections, the listening one included. */
  close(): Promise<void>;
}

/** A channel name that needs no quoting in LISTEN. */
export function checkChannel(channel: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`Not a notification channel name: ${channel}`);
  return channel;
}

/** SQLSTATE codes Kiln reacts to; both drivers expose them as `error.code`. */
export const SqlState = {
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  queryCanceled: '57014',
} as const;

export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

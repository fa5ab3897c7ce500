// Postgres LISTEN/NOTIFY for one process: a dedicated connection outside the pool (a pooled one
// would be handed to queries, and its LISTEN dropped on release), opened on the first listen. When
// the connection is lost it is opened again after a pause that doubles up to ten seconds, and every
// handler is told that notifications may have been missed meanwhile.
import pg from 'pg';
import { checkChannel, type NotificationHandler } from './database.js';

const FIRST_PAUSE_MS = 100;
const LONGEST_PAUSE_MS = 10_000;

export interface PostgresListener {
  listen(channel: string, handler: NotificationHandler): Promise<void>;
  close(): Promise<void>;
}

/** `connectTimeoutMs` bounds each attempt to open the connection, so a frozen server cannot stall a listen. */
export function postgresListener(connectionString: string, connectTimeoutMs?: number): PostgresListener {
  const handlers = new Map<string, NotificationHandler[]>();
  let client: pg.Client | undefined;
  let opening: Promise<pg.Client> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let pause = FIRST_PAUSE_MS;
  let closed = false;

  const open = async (): Promise<pg.Client> => {
    // Named after the process, so that an operator (or a test) can find one process's listener.
    const next = new pg.Client({ connectionString, application_name: `kiln listener ${process.pid}`, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    // A connection that fails or ends must not crash the process: it is replaced.
    next.on('error', () => lost(next));
    next.on('end', () => lost(next));
    next.on('notification', (notification) => {
      for (const handler of handlers.get(notification.channel) ?? []) handler.message(notification.payload ?? '');
    });
    try {
      await next.connect();
      // LISTEN on a channel already listened to does nothing, so a listen() racing this is harmless.
      for (const channel of handlers.keys()) await next.query(`LISTEN ${channel}`);
      if (closed) throw new Error('the database was closed');
    } catch (error) {
      await next.end().catch(() => undefined);
      throw error;
    }
    client = next;
    return next;
  };
  const connect = () => (opening ??= open().finally(() => (opening = undefined)));

  const reconnectLater = () => {
    retry = setTimeout(() => {
      retry = undefined;
      connect().then(
        () => {
          pause = FIRST_PAUSE_MS;
          for (const list of handlers.values()) for (const handler of list) handler.missed();
        },
        () => {
          pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
          if (!closed) reconnectLater();
        },
      );
    }, pause);
    retry.unref();
  };

  function lost(which: pg.Client): void {
    if (which !== client || closed) return;
    client = undefined;
    which.end().catch(() => undefined);
    reconnectLater();
  }

  return {
    async listen(channel, handler) {
      checkChannel(channel);
      handlers.set(channel, [...(handlers.get(channel) ?? []), handler]);
      const connection = client ?? (await connect());
      await connection.query(`LISTEN ${channel}`);
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const open = client;
      client = undefined;
      await open?.end();
    },
  };
}

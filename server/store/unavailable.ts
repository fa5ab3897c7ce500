// Tells a database that cannot be reached (down, restarting, unreachable, frozen) from a statement
// that failed on its own merits. The first is worth retrying and answers 503; the second is a bug
// or a bad request. Both drivers, and the network under `pg`, report the first kind in their own
// ways: socket error codes, SQLSTATEs of the connection classes, and a few `pg` messages that carry
// no code at all.

/** Socket and name-lookup failures on the way to the database. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a server going away or not taking connections yet: admin_shutdown (57P01),
 * crash_shutdown (57P02), cannot_connect_now (57P03, starting up or shutting down), and
 * too_many_connections (53300). Class 08 (connection exceptions) is matched as a class.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * `pg` and `pg-pool` failures that have no code: the pool's connection timeout, a connection that
 * ended under a query, a query past the client-side deadline (a frozen server), a client already
 * broken by one of these.
 */
const DRIVER_MESSAGES = [
  /^timeout exceeded when trying to connect$/,
  /^Connection terminated/,
  /^Query read timeout$/,
  /is not queryable$/,
];

/** Marks a failure Kiln itself decided is the database's absence (e.g. the wait at start-up gave up). */
export class DatabaseUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailable';
  }
}

/** True when `error` means the database could not be reached, rather than that a statement failed. */
export function isUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false;
  if (error instanceof DatabaseUnavailable) return true;
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (typeof message === 'string' && DRIVER_MESSAGES.some((pattern) => pattern.test(message))) return true;
  // Node reports a connection tried on several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  if (Array.isArray(errors) && errors.some((inner) => isUnavailable(inner, depth + 1))) return true;
  return isUnavailable(cause, depth + 1);
}

/** A short name for what went wrong, for a log line: the code, or the message. */
export function unavailableReason(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && code) return code;
  if (typeof message === 'string' && message) return message;
  return String(error);
}

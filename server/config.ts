// Kiln's settings, all from environment variables, checked once at start-up: a wrong value stops
// the process with one line that names the variable.
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const booleanText = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const size = z
  .string()
  .regex(/^[0-9]+(?:[kmg]i?b?)?$/i, 'a byte count such as 16777216, 512kb or 16mb')
  .transform((text) => {
    const match = /^([0-9]+)([kmg])?/i.exec(text) as RegExpExecArray;
    const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
    return Number(match[1]) * unit;
  });

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Public base URL of the FHIR API; defaults to http://localhost:PORT/fhir. */
  KILN_BASE_URL: z.url().optional(),
  /** postgres://… selects a real Postgres server; absent means the embedded database. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// connection URL')
    .optional(),
  /** Longest a single SQL statement may run; a search that would scan too long answers 503. */
  KILN_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  /**
   * Longest a new connection to Postgres may take (TCP and start-up); past it the request answers
   * 503. A statement is also given up on by the client KILN_STATEMENT_TIMEOUT_MS + 2 s after it
   * was sent, in case the server never answers at all.
   */
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** How long a starting process waits for the database to answer before it gives up. */
  KILN_DATABASE_WAIT_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  /** Folder of the embedded database. */
  KILN_DATA_DIR: z.string().min(1).default('./data'),
  /** Folder of the journal that holds reads' audit records until their AuditEvents are stored. */
  KILN_AUDIT_JOURNAL_DIR: z.string().min(1).default('./audit-journal'),
  KILN_MAX_BODY: size.default(16 * 1024 * 1024),
  KILN_CHECK_REFERENCES: booleanText.default(true),
  KILN_MAX_CONDITIONAL_DELETES: z.coerce.number().int().min(1).max(100000).default(100),
  /** Most entries one batch or transaction Bundle may hold; more answer 413. */
  KILN_MAX_BUNDLE_ENTRIES: z.coerce.number().int().min(1).max(1000000).default(10000),
  /** Most operations one JSON Patch may hold; more answer 413 (the patched result must also fit KILN_MAX_BODY). */
  KILN_MAX_PATCH_OPERATIONS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  /** Most resources `_include` and `_revinclude` add to one page of a search, all `:iterate` rounds together. */
  KILN_MAX_INCLUDES: z.coerce.number().int().min(0).max(1_000_000).default(1000),
  /** Most resources the read entries of one batch or transaction answer with in all; entries past it answer 413. */
  KILN_MAX_BATCH_RESULTS: z.coerce.number().int().min(1).max(10_000_000).default(10000),
  KILN_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(20),
  KILN_MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(10000).default(1000),
  /** Worker processes sharing the port: a number, or auto (one per CPU on Postgres, one on the embedded database). */
  KILN_WORKERS: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(256)]).default('auto'),
  /**
   * How often each process checks whether $reindex changed the search parameters, and reads the
   * revoked tokens again (revocations themselves arrive at once, as notifications).
   */
  KILN_REGISTRY_POLL_MS: z.coerce.number().int().min(100).max(600000).default(5000),
  /** SMART on FHIR authorization; `off` is for local development only and must be asked for. */
  KILN_AUTH: z.enum(['on', 'off']).default('on'),
  /** The first administrator, created at start when no administrator exists. */
  KILN_ADMIN_USERNAME: z.string().min(3).optional(),
  KILN_ADMIN_PASSWORD: z.string().min(12, 'at least 12 characters').optional(),
  KILN_ACCESS_TOKEN_SECONDS: z.coerce.number().int().min(30).max(86400).default(900),
  KILN_OFFLINE_REFRESH_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  KILN_ONLINE_REFRESH_HOURS: z.coerce.number().int().min(1).max(720).default(12),
  /** Requests per minute allowed to one client (by token) and to one IP address; 0 turns the limit off. */
  KILN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(10_000_000).default(60_000),
  /**
   * Sign-in attempts (password checks) per minute for one account and from one address, counted
   * across every process (in Postgres; in memory on the embedded database); 0 turns a limit off.
   */
  KILN_LOGIN_ATTEMPTS_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(10),
  KILN_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(30),
  /** Wrong passwords in a row before an account is locked, and for how long. */
  KILN_LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
  KILN_LOGIN_LOCK_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  /**
   * Whether this process reads the change feed and delivers Subscription notifications. Several
   * processes may (they share the work through the database); `off` leaves it to the others.
   */
  KILN_NOTIFICATIONS: z.enum(['on', 'off']).default('on'),
  /** Delivery attempts of a notification before its subscription goes to `error`. */
  KILN_SUBSCRIPTION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  /** The first retry of a failed delivery comes this long after it, each next one twice as late (8 attempts: about an hour). */
  KILN_SUBSCRIPTION_RETRY_BASE_MS: z.coerce.number().int().min(10).max(86_400_000).default(30_000),
  /** Longest one outgoing notification (an HTTP POST, an email, an MQTT publish) may take. */
  KILN_SUBSCRIPTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /**
   * Hosts (or host:port) that notifications may reach over plain http and at loopback or private
   * addresses, separated by commas; every other endpoint must be https on a public address.
   */
  KILN_SUBSCRIPTION_ALLOW_HTTP: z.string().optional(),
  /**
   * How long a process holds a subscription's delivery before another may take it over: what a
   * process that died in the middle of a delivery delays it by. Longer than KILN_SUBSCRIPTION_TIMEOUT_MS.
   */
  KILN_SUBSCRIPTION_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(60),
  /** How long the events of a subscription are kept for `$events`. */
  KILN_SUBSCRIPTION_EVENT_RETENTION_DAYS: z.coerce.number().min(0.001).max(3650).default(7),
  /** The shortest heartbeat period a subscription may ask for. */
  KILN_SUBSCRIPTION_MIN_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(10),
  /** How often an idle process looks for new changes and for notifications due. */
  KILN_SUBSCRIPTION_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(100),
  /** An MQTT broker (mqtt:// or mqtts://) for MQTT notifications and devices; unset runs Kiln's own on KILN_MQTT_PORT. */
  KILN_MQTT_URL: z
    .string()
    .regex(/^mqtts?:\/\//, 'an mqtt:// or mqtts:// URL')
    .optional(),
  /** Port of the embedded MQTT broker (when KILN_MQTT_URL is unset); 0 takes any free port. */
  KILN_MQTT_PORT: z.coerce.number().int().min(0).max(65535).default(1883),
  /** SMTP server for email notifications (smtp:// or smtps://); without it email subscriptions are refused. */
  KILN_SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'an smtp:// or smtps:// URL')
    .optional(),
  KILN_SMTP_FROM: z.string().min(3).default('Kiln <kiln@localhost>'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How long shutdown waits for requests in flight before it closes anyway. */
  KILN_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600000).default(10000),
});

/**
 * A setting's value as an error message may show it: a secret's value never reaches a log, nor
 * the password of a connection URL, in its user part or as a `password` parameter.
 */
function shownValue(name: string, value: string): string {
  if (/PASSWORD|SECRET/.test(name)) return '(hidden)';
  if (!['DATABASE_URL', 'KILN_MQTT_URL', 'KILN_SMTP_URL'].includes(name)) return JSON.stringify(value);
  const url = /^([a-z][a-z0-9+.-]*:\/\/)(?:([^@/?#]*)@)?(.*)$/is.exec(value);
  if (!url) return '(hidden: not a URL)';
  const [, scheme, userInfo, rest] = url;
  const user = userInfo === undefined ? '' : userInfo.includes(':') ? `${userInfo.slice(0, userInfo.indexOf(':'))}:***@` : `${userInfo}@`;
  return JSON.stringify(`${scheme}${user}${rest.replace(/([?&]password=)[^&#]*/gi, '$1***')}`);
}

export type Config = Omit<z.infer<typeof schema>, 'KILN_WORKERS'> & { baseUrl: string; KILN_WORKERS: number };

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const relevant = Object.fromEntries(Object.keys(schema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]));
  const parsed = schema.safeParse(relevant);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const name = String(first.path[0]);
    const shown = shownValue(name, env[name] ?? '');
    throw new ConfigError(`Invalid configuration: ${name}=${shown}: ${first.message}`);
  }
  const config = parsed.data;
  const baseUrl = (config.KILN_BASE_URL ?? `http://localhost:${config.PORT}/fhir`).replace(/\/+$/, '');
  // PGlite is one process's database: other processes cannot open the same folder.
  if (config.KILN_SUBSCRIPTION_LEASE_SECONDS * 1000 <= config.KILN_SUBSCRIPTION_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration: KILN_SUBSCRIPTION_LEASE_SECONDS=${config.KILN_SUBSCRIPTION_LEASE_SECONDS}: must be longer than KILN_SUBSCRIPTION_TIMEOUT_MS (${config.KILN_SUBSCRIPTION_TIMEOUT_MS} ms), or a slow endpoint would let two processes send the same notification`,
    );
  }
  if (!config.DATABASE_URL && config.KILN_WORKERS !== 'auto' && config.KILN_WORKERS > 1) {
    throw new ConfigError(`Invalid configuration: KILN_WORKERS=${JSON.stringify(env.KILN_WORKERS)}: the embedded database allows one process; set DATABASE_URL to run more`);
  }
  const workers = config.KILN_WORKERS === 'auto' ? (config.DATABASE_URL ? availableParallelism() : 1) : config.KILN_WORKERS;
  return { ...config, baseUrl, KILN_WORKERS: workers };
}

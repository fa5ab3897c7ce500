// A running Kiln: database, application and HTTP listener, with a graceful stop that lets
// requests in flight finish before the database closes. No connection it accepts is left without
// an answer: a process on its own opens its port at once and answers 503 (Retry-After) until it is
// ready; a worker of several opens it only when ready, since the primary hands connections to every
// worker listening and its ready siblings should get them all.
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { FhirContext } from './fhir/context.js';
import type { Logger } from './logger.js';
import type { Database } from './store/database.js';
import { installCustomSearchParameters } from './fhir/custom-search-parameters.js';
import { fhirContext, openStore, type StoreOptions } from './open-store.js';
import { createAuthService, type AuthService } from './auth/auth-service.js';
import { endpoints } from './auth/discovery.js';
import { localAdminSocketPath, serveLocalAdmin, type LocalAdminChannel } from './auth/local-admin.js';
import { AuditTrail } from './audit/audit-trail.js';
import { registryGeneration } from './store/reindex-store.js';
import { isUnavailable } from './store/unavailable.js';
import { answerWhileStarting } from './while-starting.js';
import { installProtocolErrorAnswers } from './http/protocol-errors.js';
import { setUpNotifications, type Notifications } from './notifications.js';

export interface RunningServer {
  server: Server;
  db: Database;
  ctx: FhirContext;
  /** The base URL of the FHIR API as it is really reachable (the port may have been 0). */
  fhirUrl: string;
  stop(): Promise<void>;
}

export type StartOptions = StoreOptions;

function listen(server: Server, config: Config): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Waits at most `ms` for `work`; shutdown must end even when the database no longer answers. */
async function atMost(work: Promise<unknown>, ms: number, logger: Logger, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const outcome = await Promise.race([work.then(() => 'done' as const, (error: unknown) => logger.warn({ err: error }, `${what} failed`)), late]);
  clearTimeout(timer);
  if (outcome === 'late') logger.warn(`${what} took longer than ${ms} ms; going on without it`);
}

export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  let handler: RequestListener = answerWhileStarting;
  const server = createServer((req, res) => handler(req, res));
  // What Node's HTTP layer answers itself (417, 400, 431, 408) is an OperationOutcome too.
  installProtocolErrorAnswers(server);
  // With port 0 the port is only known once listening, and the base URL needs it.
  const listenFirst = !cluster.isWorker || config.PORT === 0;
  if (listenFirst) await listen(server, config);

  let db: Database;
  try {
    db = await openStore(config, { ...options, log: logger, holder: 'the Kiln server' });
  } catch (error) {
    server.close();
    throw error;
  }
  let watch: NodeJS.Timeout | undefined;
  let auth: AuthService | undefined;
  let audit: AuditTrail | undefined;
  let channel: LocalAdminChannel | undefined;
  let notifications: Notifications | undefined;
  let shuttingDown = false;
  let ctx: FhirContext;
  let baseUrl: string;
  try {
    // Another process's $reindex changes the search parameters: notice it within a few seconds.
    let generation = await registryGeneration(db);
    watch = setInterval(() => {
      registryGeneration(db)
        .then(async (now) => {
          if (now === generation) return;
          generation = now;
          await installCustomSearchParameters(db);
          logger.info({ generation: now }, 'search parameters changed; reloaded');
        })
        // While the database is away every poll fails alike: one line each, not a stack trace.
        .catch((error: unknown) => logger.warn(isUnavailable(error) ? { reason: (error as Error).message } : { err: error }, 'could not check the search parameter registry'));
    }, config.KILN_REGISTRY_POLL_MS);
    watch.unref();
    const port = listenFirst ? (server.address() as AddressInfo).port : config.PORT;
    baseUrl = config.KILN_BASE_URL ? config.baseUrl : `http://localhost:${port}/fhir`;
    ctx = fhirContext(config, db, baseUrl);
    if (config.KILN_AUTH === 'on') {
      auth = await createAuthService(db, config, baseUrl, logger);
      const { authorize, token, introspect, revoke } = endpoints(auth);
      audit = new AuditTrail(db, logger, config.KILN_AUDIT_JOURNAL_DIR, baseUrl);
      await audit.start();
      ctx = { ...ctx, oauthUris: { authorize, token, introspect, revoke }, audit };
    } else {
      logger.warn('KILN_AUTH=off: every request is served without authorization. Use this for local development only.');
    }
    notifications = await setUpNotifications(config, logger, () => ctx, auth);
    ctx = { ...ctx, ...notifications.context };
    await notifications.start(server);
    handler = createApp({ ctx, logger, maxBodyBytes: config.KILN_MAX_BODY, isShuttingDown: () => shuttingDown, auth });
    if (!listenFirst) await listen(server, config);
    // `npx kiln admin` beside a server on the embedded database asks it through its data folder.
    if (db.kind === 'pglite' && !options.inMemory) {
      const target = { db, auth: auth && { keys: auth.keys, fhirBaseUrl: auth.fhirBaseUrl } };
      channel = await serveLocalAdmin(localAdminSocketPath(config.KILN_DATA_DIR), target, logger).catch((error: unknown) => {
        // A folder that cannot hold a socket (some mounted file systems) costs the commands, not the server.
        logger.warn({ err: error }, 'could not open the local administration channel: npx kiln admin cannot reach this server; use the admin API (/admin/users, /admin/clients)');
        return undefined;
      });
    }
  } catch (error) {
    clearInterval(watch);
    await notifications?.stop().catch(() => undefined);
    auth?.stop();
    server.close();
    await db.close().catch(() => undefined);
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      shuttingDown = true;
      clearInterval(watch);
      auth?.stop();
      await channel?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), config.KILN_SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await atMost(notifications?.stop() ?? Promise.resolve(), config.KILN_SHUTDOWN_GRACE_MS, logger, 'stopping notifications');
      // Reads' AuditEvents still queued are stored before the database closes.
      if (audit) await atMost(audit.flush(), config.KILN_SHUTDOWN_GRACE_MS, logger, 'storing the last AuditEvents');
      await atMost(db.close(), config.KILN_SHUTDOWN_GRACE_MS, logger, 'closing the database');
    })();
    return stopping;
  };
  return { server, db, ctx, fhirUrl: baseUrl, stop };
}

// A running Kiln: database, application and HTTP listener, with a graceful stop that lets
// requests in flight finish before the database closes.
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { FhirContext } from './fhir/context.js';
import type { Logger } from './logger.js';
import type { Database } from './store/database.js';
import { installCustomSearchParameters } from './fhir/custom-search-parameters.js';
import { fhirContext, openStore, type StoreOptions } from './open-store.js';
import { createAuthService, type AuthService } from './auth/auth-service.js';
import { endpoints } from './auth/discovery.js';
import { AuditTrail } from './audit/audit-trail.js';
import { registryGeneration } from './store/reindex-store.js';

export interface RunningServer {
  server: Server;
  db: Database;
  ctx: FhirContext;
  /** The base URL of the FHIR API as it is really reachable (the port may have been 0). */
  fhirUrl: string;
  stop(): Promise<void>;
}

export type StartOptions = StoreOptions;

export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const db = await openStore(config, options);
  // Another process's $reindex changes the search parameters: notice it within a few seconds.
  let generation = await registryGeneration(db);
  const watch = setInterval(() => {
    registryGeneration(db)
      .then(async (now) => {
        if (now === generation) return;
        generation = now;
        await installCustomSearchParameters(db);
        logger.info({ generation: now }, 'search parameters changed; reloaded');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'could not check the search parameter registry'));
  }, config.KILN_REGISTRY_POLL_MS);
  watch.unref();
  let shuttingDown = false;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = config.KILN_BASE_URL ? config.baseUrl : `http://localhost:${port}/fhir`;
  let ctx = fhirContext(config, db, baseUrl);
  let auth: AuthService | undefined;
  let audit: AuditTrail | undefined;
  if (config.KILN_AUTH === 'on') {
    auth = await createAuthService(db, config, baseUrl, logger);
    const { authorize, token, introspect, revoke } = endpoints(auth);
    audit = new AuditTrail(db, logger, config.KILN_AUDIT_JOURNAL_DIR);
    await audit.start();
    ctx = { ...ctx, oauthUris: { authorize, token, introspect, revoke }, audit };
  } else {
    logger.warn('KILN_AUTH=off: every request is served without authorization. Use this for local development only.');
  }
  const app = createApp({ ctx, logger, maxBodyBytes: config.KILN_MAX_BODY, isShuttingDown: () => shuttingDown, auth });
  server.on('request', app);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      shuttingDown = true;
      clearInterval(watch);
      auth?.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), config.KILN_SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      // Reads' AuditEvents still queued are stored before the database closes.
      await audit?.flush();
      await db.close();
    })();
    return stopping;
  };
  return { server, db, ctx, fhirUrl: baseUrl, stop };
}

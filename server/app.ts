// Builds the express application; never listens, so tests can run it in-process.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { FhirContext } from './fhir/context.js';
import { notFound } from './fhir/errors.js';
import { DATABASE_RETRY_AFTER_SECONDS, errorHandler } from './http/error-handler.js';
import { fhirRouter } from './http/fhir-routes.js';
import { requestLog } from './http/request-log.js';
import type { Logger } from './logger.js';
import type { AuthService } from './auth/auth-service.js';
import { adminRouter } from './auth/admin-routes.js';
import { authorizeRouter } from './auth/authorize-routes.js';
import { bearerGate, PUBLIC_FHIR_PATHS } from './auth/bearer.js';
import { discoveryRouter, jwksHandler } from './auth/discovery.js';
import { rateLimits } from './auth/rate-limits.js';
import { tokenRouter } from './auth/token-routes.js';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** /readyz answers within 2 s whatever the database does: it waits this long for it, then says it is not ready. */
const READY_DEADLINE_MS = 1_500;

/**
 * Whether the database answers `SELECT 1` within READY_DEADLINE_MS. Probes made while one is still
 * waiting share it, so a frozen database and a load balancer that keeps asking do not use up the
 * connection pool.
 */
function readinessProbe(db: FhirContext['db']): () => Promise<boolean> {
  let pending: Promise<boolean> | undefined;
  return async () => {
    pending ??= db.query('SELECT 1').then(
      () => true,
      () => false,
    );
    const probe = pending;
    void probe.finally(() => {
      if (pending === probe) pending = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_DEADLINE_MS)));
    try {
      return await Promise.race([probe, late]);
    } finally {
      clearTimeout(timer);
    }
  };
}

export interface AppOptions {
  ctx: FhirContext;
  logger: Logger;
  maxBodyBytes: number;
  /** Reports whether the process is shutting down (then /readyz answers 503). */
  isShuttingDown?: () => boolean;
  /** SMART on FHIR authorization; absent only when KILN_AUTH=off. */
  auth?: AuthService;
}

export function createApp(options: AppOptions): express.Express {
  const { ctx, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestLog(logger));

  app.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  const databaseAnswers = readinessProbe(ctx.db);
  app.get('/readyz', async (_req: Request, res: Response) => {
    if (options.isShuttingDown?.()) {
      res.status(503).json({ status: 'shutting down' });
      return;
    }
    if (await databaseAnswers()) res.json({ status: 'ready', database: ctx.db.kind });
    else res.status(503).set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS)).json({ status: 'database unavailable' });
  });

  // Bodies are read raw and parsed by the FHIR layer, which knows what each route accepts;
  // reads skip the body parser altogether.
  const readBody = express.raw({ type: () => true, limit: options.maxBodyBytes });
  const fhir: express.RequestHandler[] = [(req: Request, res: Response, next: NextFunction) => (BODY_METHODS.has(req.method) ? readBody(req, res, next) : next())];
  const { auth } = options;
  if (auth) {
    const limits = rateLimits(auth.rateLimitPerMinute);
    app.use('/auth', limits.byAddress, authorizeRouter(auth, ctx), tokenRouter(auth));
    app.get('/auth/jwks.json', jwksHandler(auth));
    app.use(discoveryRouter(auth));
    app.use('/fhir', discoveryRouter(auth));
    app.use('/admin', adminRouter(auth, bearerGate(auth, limits)));
    // Before the body is read: a caller without a valid token never gets a body parsed.
    fhir.unshift(bearerGate(auth, limits, PUBLIC_FHIR_PATHS));
  }
  app.use('/fhir', ...fhir, fhirRouter(ctx));
  app.use((req: Request) => {
    throw notFound(`Nothing at ${req.method} ${req.path}; the FHIR API is at /fhir`);
  });
  app.use(errorHandler);
  return app;
}

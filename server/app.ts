// Builds the express application; never listens, so tests can run it in-process.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { FhirContext } from './fhir/context.js';
import { notFound } from './fhir/errors.js';
import { errorHandler } from './http/error-handler.js';
import { fhirRouter } from './http/fhir-routes.js';
import { requestLog } from './http/request-log.js';
import type { Logger } from './logger.js';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export interface AppOptions {
  ctx: FhirContext;
  logger: Logger;
  maxBodyBytes: number;
  /** Reports whether the process is shutting down (then /readyz answers 503). */
  isShuttingDown?: () => boolean;
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
  app.get('/readyz', async (_req: Request, res: Response) => {
    if (options.isShuttingDown?.()) {
      res.status(503).json({ status: 'shutting down' });
      return;
    }
    try {
      await ctx.db.query('SELECT 1');
      res.json({ status: 'ready', database: ctx.db.kind });
    } catch {
      res.status(503).json({ status: 'database unavailable' });
    }
  });

  // Bodies are read raw and parsed by the FHIR layer, which knows what each route accepts;
  // reads skip the body parser altogether.
  const readBody = express.raw({ type: () => true, limit: options.maxBodyBytes });
  app.use('/fhir', (req: Request, res: Response, next: NextFunction) => (BODY_METHODS.has(req.method) ? readBody(req, res, next) : next()), fhirRouter(ctx));
  app.use((req: Request) => {
    throw notFound(`Nothing at ${req.method} ${req.path}; the FHIR API is at /fhir`);
  });
  app.use(errorHandler);
  return app;
}

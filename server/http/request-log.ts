// Request ids and one JSON log line per request (pino). A well-formed X-Request-Id from the
// client is kept, so a request can be followed across services; otherwise one is made. The URL is
// logged without the credentials it may carry (server/http/loggable-url.ts).
// Written here rather than with pino-http because that middleware builds a child logger and
// serialisers for every request even when the line is never written, about 5% of a read.
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { loggableUrl } from './loggable-url.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** This request's id, also sent back as X-Request-Id. */
    id: string;
    /** Logs with the request id attached. */
    log: Logger;
  }
}

const CLIENT_ID = /^[A-Za-z0-9\-._]{1,128}$/;

export function requestLog(logger: Logger) {
  const logsRequests = logger.isLevelEnabled('info');
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', { get: () => (child ??= logger.child({ reqId: id })), configurable: true });
    if (logsRequests || logger.isLevelEnabled('error')) {
      const started = performance.now();
      res.once('finish', () => {
        const status = res.statusCode;
        const level = status >= 500 ? 'error' : 'info';
        if (level === 'info' && !logsRequests) return;
        logger[level]({ reqId: id, method: req.method, url: loggableUrl(req.originalUrl), status, ms: Math.round(performance.now() - started) }, 'request completed');
      });
    }
    next();
  };
}

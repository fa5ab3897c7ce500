// What a Kiln process answers between opening its port and being ready (database opened and
// migrated, authorization loaded): every request gets an answer at once, never a hang, so a
// client or a load balancer that comes early learns to come back. /healthz says the process is
// up; /readyz and everything else answer 503 with Retry-After.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const STARTING_RETRY_AFTER_SECONDS = 1;

const STARTING_OUTCOME = JSON.stringify({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'transient', details: { text: 'Kiln is starting; try again in a moment' } }],
});

export function answerWhileStarting(req: IncomingMessage, res: ServerResponse): void {
  // A body sent meanwhile is read and dropped, so the connection stays usable.
  req.resume();
  const path = (req.url ?? '').split('?')[0];
  if (path === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"starting"}');
    return;
  }
  const headers = { 'Retry-After': String(STARTING_RETRY_AFTER_SECONDS), 'Cache-Control': 'no-store' };
  if (path === '/readyz') {
    res.writeHead(503, { ...headers, 'Content-Type': 'application/json' }).end('{"status":"starting"}');
    return;
  }
  res.writeHead(503, { ...headers, 'Content-Type': 'application/fhir+json; charset=utf-8' }).end(STARTING_OUTCOME);
}

// FHIR R4 §3.1.0.1.10 handling errors (hl7.org/fhir/R4/http.html#summary) for the answers Node's
// HTTP stack gives on its own, before any request reaches express: 417 for an `Expect` it does not
// meet, 400 for a request line or header it cannot parse, 431 for headers too large, 408 for a
// request that does not arrive in time. Left to Node these have an empty or plain-text body; here
// each is an OperationOutcome, like every other error Kiln answers.
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { issue, operationOutcome, type IssueCode } from '../fhir/errors.js';
import { FHIR_JSON } from './media-types.js';

interface ProtocolFailure {
  status: number;
  code: IssueCode;
  text: string;
}

/** What Node's parser reported, as the answer Node would have given, with a message a person can act on. */
function failureOf(error: NodeJS.ErrnoException): ProtocolFailure {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'too-costly', text: 'The request headers are larger than this server reads (Node’s --max-http-header-size, 16 KB by default)' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'too-costly', text: 'The chunk extensions of the request body are larger than this server reads' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'timeout', text: 'The request did not arrive in time' };
    default:
      return { status: 400, code: 'structure', text: `The request is not well-formed HTTP (${error.code ?? 'unreadable'}): ${String(error.message).split('\n')[0]}` };
  }
}

function outcomeText(failure: ProtocolFailure): string {
  return JSON.stringify(operationOutcome([issue(failure.code, failure.text)]));
}

/**
 * A whole HTTP/1.1 response as raw bytes, for a socket no response object was made for. The
 * answer to a HEAD request has no body, so a request seen to begin with HEAD gets the head alone.
 */
function rawResponse(failure: ProtocolFailure, head: boolean): string {
  const body = outcomeText(failure);
  return [
    `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status] ?? ''}`.trimEnd(),
    `Content-Type: ${FHIR_JSON}; charset=utf-8`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    head ? '' : body,
  ].join('\r\n');
}

function answerExpectation(req: IncomingMessage, res: ServerResponse): void {
  const failure = { status: 417, code: 'not-supported' as const, text: `Expect: ${req.headers.expect ?? ''} is not an expectation this server meets; it meets only Expect: 100-continue` };
  const body = outcomeText(failure);
  res.writeHead(417, { 'Content-Type': `${FHIR_JSON}; charset=utf-8`, 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  // The request's body was never read: the connection ends with this answer, and nothing after
  // it on the connection is read as another request.
  res.end(body, () => req.socket.destroy());
}

function answerClientError(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
  // As Node does: answer on a connection that can still carry an answer and is not in the middle
  // of another one (a kept-alive connection has sent earlier responses, and may send this one).
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) socket.end(rawResponse(failureOf(error), error.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD '), () => socket.destroy());
  else socket.destroy();
}

const installed = new WeakSet<Server>();

/** Makes `server` answer its own protocol errors with OperationOutcomes; calling it again changes nothing. */
export function installProtocolErrorAnswers(server: Server): void {
  if (installed.has(server)) return;
  installed.add(server);
  server.on('checkExpectation', answerExpectation);
  server.on('clientError', answerClientError);
}

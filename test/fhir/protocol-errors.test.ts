// The answers Node's HTTP stack gives before a request reaches the application (417 for Expect,
// 400 for a malformed request line or header, 431 for headers too large) are OperationOutcomes
// too, like every error under /fhir (hl7.org/fhir/R4/http.html#summary). Tested on a plain HTTP
// server with the answers installed, as server.ts installs them on Kiln's.
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { installProtocolErrorAnswers } from '../../server/http/protocol-errors.js';

let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((_req, res) => res.end('{}'));
  installProtocolErrorAnswers(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends raw bytes and reads everything the server answers until it closes the connection. */
function exchange(raw: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head, body: rest.join('\r\n\r\n') });
    });
    socket.write(raw);
  });
}

function expectOutcome(answer: { status: number; headers: string; body: string }, status: number, text: RegExp): void {
  expect(answer.status).toBe(status);
  expect(answer.headers).toMatch(/content-type: application\/fhir\+json/i);
  const outcome = JSON.parse(answer.body);
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0].severity).toBe('error');
  expect(outcome.issue[0].details.text).toMatch(text);
}

it('an Expect other than 100-continue answers 417 with an OperationOutcome', async () => {
  expectOutcome(await exchange('GET /fhir/Patient HTTP/1.1\r\nHost: kiln\r\nExpect: the-unexpected\r\nConnection: close\r\n\r\n'), 417, /Expect: the-unexpected/);
});

it('a malformed request line answers 400 with an OperationOutcome', async () => {
  expectOutcome(await exchange('NOT AN HTTP REQUEST\r\n\r\n'), 400, /not well-formed HTTP/);
});

it('a malformed header answers 400 with an OperationOutcome', async () => {
  expectOutcome(await exchange('GET /fhir/Patient HTTP/1.1\r\nHost: kiln\r\nno colon here\r\n\r\n'), 400, /not well-formed HTTP/);
});

it('headers larger than Node reads answer 431 with an OperationOutcome', async () => {
  expectOutcome(await exchange(`GET /fhir/Patient HTTP/1.1\r\nHost: kiln\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431, /headers are larger/);
});

it('a well-formed request still reaches the application', async () => {
  const answer = await exchange('GET /fhir/metadata HTTP/1.1\r\nHost: kiln\r\nConnection: close\r\n\r\n');
  expect(answer.status).toBe(200);
  expect(answer.body).toBe('{}');
});

it('a malformed request on a kept-alive connection, after an answered one, still answers 400', async () => {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      // Once the first answer is complete, the next request goes out on the same connection.
      if (received.endsWith('{}') && !received.includes('no colon')) socket.write('GET /fhir/Patient HTTP/1.1\r\nHost: kiln\r\nno colon here\r\n\r\n');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write('GET /fhir/metadata HTTP/1.1\r\nHost: kiln\r\n\r\n');
  });
  expect(text).toMatch(/^HTTP\/1\.1 200 /);
  const second = text.slice(text.indexOf('HTTP/1.1', 1));
  expect(second).toMatch(/^HTTP\/1\.1 400 /);
  expect(second).toMatch(/"resourceType":"OperationOutcome"/);
});

it('the answer to a HEAD request with headers too large has no body', async () => {
  const answer = await exchange(`HEAD /fhir/Patient HTTP/1.1\r\nHost: kiln\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  expect(answer.status).toBe(431);
  expect(answer.body).toBe('');
});

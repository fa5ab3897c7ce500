// Fuzzing one real Kiln with generated hostile requests (hl7.org/fhir/R4/http.html#summary: every
// error is an OperationOutcome). Asserted for each request: no 5xx but the documented 503; under
// /fhir every 4xx and 5xx is an OperationOutcome with at least one issue and no stack trace. And
// throughout: /healthz, probed from another thread, answers within 1 s.
//
// Seeded and repeatable: KILN_FUZZ_SEED picks the seed (printed at the start), KILN_FUZZ_RUNS the
// number of requests (10,000 by default). Runs on the embedded database, or on Postgres with
// DATABASE_URL.
import fc from 'fast-check';
import { request as httpRequest, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { installProtocolErrorAnswers } from '../../server/http/protocol-errors.js';
import { startHealthProbes } from '../support/healthz-probe.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/test-server.js';
import { fuzzRequest, type FuzzRequest } from './requests.js';

const SEED = Number(process.env.KILN_FUZZ_SEED ?? 20_260_101);
const RUNS = Number(process.env.KILN_FUZZ_RUNS ?? 10_000);
const HEALTHZ_LIMIT_MS = 1000;

let kiln: TestServer;
let port: number;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  // Bodies up to 1 MB keep each request quick; the limits themselves are tested elsewhere.
  kiln = await startTestServer({ KILN_MAX_BODY: '1mb' });
  // What server.ts does for every Kiln: Node's own protocol answers are OperationOutcomes too.
  installProtocolErrorAnswers(kiln.server);
  port = (kiln.server.address() as AddressInfo).port;
  // Resources the generated ids name, so that reads, patches and deletes find something.
  for (const [type, id, body] of [
    ['Patient', 'fuzz-1', { name: [{ family: 'Fuzz' }] }],
    ['Patient', 'fuzz-2', { gender: 'male' }],
    ['Observation', 'fuzz-obs', { status: 'final', code: { text: 'pulse' }, subject: { reference: 'Patient/fuzz-1' } }],
  ] as const) {
    await send({ method: 'PUT', path: `/fhir/${type}/${id}`, headers: { 'content-type': FHIR_JSON }, body: JSON.stringify({ resourceType: type, id, ...body }) });
  }
}, 120_000);

afterAll(async () => {
  agent.destroy();
  await kiln.stop();
});

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

function send(req: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const outgoing = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within 60 s to ${req.method} ${req.path}`)));
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

/** What is wrong with an answer, or undefined when it keeps every rule. */
function violation(req: FuzzRequest, answer: Answer): string | undefined {
  if (answer.status >= 500 && answer.status !== 503) return `answered ${answer.status}: ${answer.body.slice(0, 500)}`;
  if (answer.status < 400 || req.method === 'HEAD' || !req.path.toLowerCase().startsWith('/fhir')) return undefined;
  if (!answer.contentType.includes('application/fhir+json')) return `answered ${answer.status} as ${answer.contentType || 'no content type'}: ${answer.body.slice(0, 200)}`;
  let outcome: { resourceType?: string; issue?: unknown[] };
  try {
    outcome = JSON.parse(answer.body);
  } catch {
    return `answered ${answer.status} with a body that is not JSON: ${answer.body.slice(0, 200)}`;
  }
  if (outcome.resourceType !== 'OperationOutcome' || !Array.isArray(outcome.issue) || outcome.issue.length === 0) return `answered ${answer.status} without an OperationOutcome: ${answer.body.slice(0, 200)}`;
  if (/\bat .+\.(ts|js):\d+/.test(answer.body)) return `answered ${answer.status} with a stack trace: ${answer.body.slice(0, 500)}`;
  return undefined;
}

it(`answers ${RUNS} generated hostile requests with 4xx OperationOutcomes, and stays responsive`, async () => {
  console.log(`fuzz: seed ${SEED} (KILN_FUZZ_SEED), ${RUNS} requests (KILN_FUZZ_RUNS), on ${kiln.db.kind}`);
  const counts: Record<string, number> = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  const statuses = new Map<number, number>();
  const started = Date.now();
  const probes = startHealthProbes(port, { intervalMs: 100, timeoutMs: HEALTHZ_LIMIT_MS * 5 });
  let failure: unknown;
  try {
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (req) => {
        const answer = await send(req);
        const kind = `${Math.floor(answer.status / 100)}xx`;
        counts[kind] = (counts[kind] ?? 0) + 1;
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const problem = violation(req, answer);
        if (problem) throw new Error(`${req.method} ${req.path.slice(0, 300)} ${JSON.stringify(req.headers)} body ${String(req.body).slice(0, 300)}: ${problem}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  } catch (error) {
    failure = error;
  }
  const answered = await probes.stop();
  const worst = Math.max(...answered.map((p) => p.answered - p.sent));
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(
    `fuzz: ${total} requests in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
      `statuses ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}; ` +
      `${answered.length} /healthz probes, the slowest answered in ${worst} ms`,
  );
  if (failure) throw failure;
  expect(answered.filter((p) => p.status !== 200 || p.answered - p.sent > HEALTHZ_LIMIT_MS)).toEqual([]);
}, 600_000);

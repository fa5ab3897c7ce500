// A transaction of 10,000 entries (hl7.org/fhir/R4/http.html#transaction) takes seconds of work,
// but never holds the process so long that other requests wait for it: /healthz answers while it
// runs. The event loop's longest stall during the transaction is measured and printed.
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import request from 'supertest';
import { startHealthProbes } from '../support/healthz-probe.js';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

function bigTransaction(entries: number, tag: string) {
  const meta = { tag: [{ system: 'urn:kiln:test', code: tag }] };
  const entry = Array.from({ length: entries }, (_, i) => {
    const fullUrl = `urn:uuid:${crypto.randomUUID()}`;
    // Every other entry is an Observation of the Patient before it, so references are rewritten too.
    if (i % 2 === 0) return { fullUrl, resource: { resourceType: 'Patient', meta, name: [{ family: `Family${i}`, given: ['Ann'] }], birthDate: '1990-01-01' }, request: { method: 'POST', url: 'Patient' } };
    return { fullUrl, resource: { resourceType: 'Observation', meta, status: 'final', code: { text: 'pulse' }, subject: { reference: 'PREVIOUS' } }, request: { method: 'POST', url: 'Observation' } };
  });
  entry.forEach((e, i) => {
    if (i % 2 === 1) (e.resource as { subject: { reference: string } }).subject.reference = entry[i - 1].fullUrl;
  });
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

it('/healthz answers while a 10,000-entry transaction runs', async () => {
  const tag = uniqueId('big-tx');
  const body = json(bigTransaction(10_000, tag));
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const probes = startHealthProbes((kiln.server.address() as AddressInfo).port);
  await new Promise((resolve) => setTimeout(resolve, 200));
  delay.enable();
  const started = Date.now();
  const res = await request(kiln.server).post('/fhir').set('Content-Type', FHIR_JSON).set('Prefer', 'return=minimal').send(body);
  const finished = Date.now();
  delay.disable();
  const answers = await probes.stop();
  expect(res.status).toBe(200);
  expect(res.body.entry).toHaveLength(10_000);
  const during = answers.filter((p) => p.sent > started && p.sent < finished);
  const worst = Math.max(...during.map((p) => p.answered - p.sent));
  console.log(
    `10,000-entry transaction: ${finished - started} ms; event loop blocked at most ${Math.round(delay.max / 1e6)} ms ` +
      `(p99 ${Math.round(delay.percentile(99) / 1e6)} ms); ${during.length} /healthz probes during it, the slowest answered in ${worst} ms`,
  );
  // Probes sent while the transaction ran were answered before it finished, and all along: none
  // waited for a large part of the transaction, as one would behind work that never yields.
  expect(during.filter((p) => p.answered < finished).length).toBeGreaterThan(0);
  expect(worst).toBeLessThan((finished - started) / 4);
  const stored = await request(kiln.server).get(`/fhir/Observation?_tag=urn:kiln:test|${tag}&_summary=count`);
  expect(stored.body.total).toBe(5_000);
});

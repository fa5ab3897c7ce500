// Starting, stopping and restarting Kiln: data kept across restarts, requests in flight finished.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { FHIR_JSON, startTestServer } from '../support/test-server.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';

describe('the embedded database', () => {
  it('keeps data under KILN_DATA_DIR across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-data-'));
    await embeddedDataFolder(dir);
    try {
      const first = await startTestServer({ DATABASE_URL: '', KILN_DATA_DIR: dir });
      const created = await request(first.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send('{"resourceType":"Patient","gender":"female"}');
      expect(created.status).toBe(201);
      await first.stop();

      const second = await startTestServer({ DATABASE_URL: '', KILN_DATA_DIR: dir });
      try {
        const read = await request(second.server).get(`/fhir/Patient/${created.body.id}`);
        expect(read.status).toBe(200);
        expect(read.body.gender).toBe('female');
        expect((await request(second.server).get('/readyz')).body.database).toBe('pglite');
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // In the Postgres run this file may be the first to ask for the migrated data folder, which is
    // then built here (5,000 statements on the embedded database) before the two starts.
  }, 180_000);
});

describe('graceful shutdown', () => {
  it('finishes a request in flight, then refuses new connections', async () => {
    const kiln = await startTestServer();
    const url = new URL(`${kiln.fhirUrl}/Patient`);
    const body = '{"resourceType":"Patient","active":true}';
    // Send the headers and half the body, start stopping, then send the rest.
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        stopped = kiln.stop();
        setTimeout(() => req.end(body.slice(10)), 100);
      }, 100);
    });
    let stopped: Promise<void> | undefined;
    const result = await response;
    expect(result.status).toBe(201);
    expect(JSON.parse(result.text).active).toBe(true);
    await stopped;
    await expect(fetch(`${kiln.fhirUrl}/metadata`)).rejects.toThrow();
  });
});

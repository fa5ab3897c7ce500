// Probes a server's /healthz from a worker thread, one request after another, so that each probe
// goes out when it is due even while the test's own thread (which also runs Kiln) is busy: a
// probe's latency is how long Kiln kept other requests waiting.
import { Worker } from 'node:worker_threads';

export interface Probe {
  /** Date.now() when it was sent and when its answer was complete (or it gave up). */
  sent: number;
  answered: number;
  /** HTTP status, or 0 when there was no answer within the probe's timeout. */
  status: number;
}

const PROBE_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
let running = true;
parentPort.on('message', () => { running = false; });
const probe = () => new Promise((resolve) => {
  const sent = Date.now();
  const req = http.get({ host: '127.0.0.1', port: workerData.port, path: '/healthz', agent: false, timeout: workerData.timeoutMs }, (res) => {
    res.resume();
    res.on('end', () => resolve({ sent, answered: Date.now(), status: res.statusCode }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => resolve({ sent, answered: Date.now(), status: 0 }));
});
(async () => {
  const probes = [];
  while (running) {
    probes.push(await probe());
    await new Promise((r) => setTimeout(r, workerData.intervalMs));
  }
  parentPort.postMessage(probes);
})();
`;

/** Starts probing; `stop()` ends it and resolves to every probe made. */
export function startHealthProbes(port: number, options: { intervalMs?: number; timeoutMs?: number } = {}): { stop: () => Promise<Probe[]> } {
  const worker = new Worker(PROBE_SOURCE, { eval: true, workerData: { port, intervalMs: options.intervalMs ?? 20, timeoutMs: options.timeoutMs ?? 5000 } });
  return {
    stop: () =>
      new Promise((resolve) => {
        worker.once('message', (probes: Probe[]) => {
          void worker.terminate();
          resolve(probes);
        });
        worker.postMessage('stop');
      }),
  };
}

// The rest-hook endpoint of `npm run bench:subscriptions`: one HTTP server in the benchmark's
// process that answers every POST at once and keeps what arrived, when, and on which path. Bodies
// are parsed only after the load, so that receiving stays cheap and its clock honest.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Arrival {
  /** The subscription's number, from the path /hook/{n}. */
  subscription: number;
  /** Milliseconds since the epoch (performance.timeOrigin + now) when the whole body had arrived. */
  at: number;
  body: string;
}

export interface BenchReceiver {
  /** The endpoint of subscription `n`. */
  endpoint(n: number): string;
  arrivals: Arrival[];
  /** Requests that came to any other path, or were not POSTs. */
  strays: number;
  close(): Promise<void>;
}

export async function startBenchReceiver(): Promise<BenchReceiver> {
  const arrivals: Arrival[] = [];
  const state = { strays: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.timeOrigin + performance.now();
      const match = /^\/hook\/([0-9]+)$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !match) state.strays++;
      else arrivals.push({ subscription: Number(match[1]), at, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = 200;
      res.end();
    });
  });
  // Kiln keeps its connections to the endpoint open between notifications; so does the receiver.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: (n) => `http://127.0.0.1:${port}/hook/${n}`,
    arrivals,
    get strays() {
      return state.strays;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

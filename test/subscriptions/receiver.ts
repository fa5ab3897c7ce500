// A real HTTP endpoint for rest-hook notifications: it records every request it is sent, and can
// be told to fail for a while.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * How long a test waits for a notification. A change is read from the feed only once every
 * transaction that began before it has ended, on the whole database server (server/README.md, "The
 * change feed"); in the suite another file may hold one open for tens of seconds (the
 * 10,000-entry transaction), and every notification waits for it.
 */
export const FEED_WAIT_MS = 45_000;

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** The status answered from now on (200 by default). */
  answer(status: number): void;
  /** Requests for which `hang` says so are never answered (a process dying mid-delivery). */
  hangOn(hang: ((request: Received) => boolean) | undefined): void;
  /** Resolves once `count` requests (in all) have arrived, or rejects after `ms`. */
  waitFor(count: number, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hook'): Promise<Receiver> {
  const received: Received[] = [];
  let status = 200;
  let hang: ((request: Received) => boolean) | undefined;
  const hanging: import('node:http').ServerResponse[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
      received.push(request);
      if (hang?.(request)) hanging.push(res);
      else {
        res.statusCode = status;
        res.end();
      }
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    answer: (next) => (status = next),
    hangOn: (next) => (hang = next),
    async waitFor(count, ms = FEED_WAIT_MS) {
      const deadline = Date.now() + ms;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} notifications, got ${received.length}: ${JSON.stringify(received.map((r) => r.body.slice(0, 200)))}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return received.slice(0, count);
    },
    close: () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Waits until `check` returns something truthy, or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, ms = FEED_WAIT_MS, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A test file's Kiln with notifications on, and a receiver for them: started before its tests,
 * stopped after; `use` is handed both once they run.
 */
export function withNotifyingKiln(use: (kiln: TestServer, receiver: Receiver) => void): void {
  let kiln: TestServer | undefined;
  let receiver: Receiver | undefined;
  beforeAll(async () => {
    kiln = await startTestServer({ KILN_NOTIFICATIONS: 'on' });
    receiver = await startReceiver();
    use(kiln, receiver);
  });
  afterAll(async () => {
    await kiln?.stop();
    await receiver?.close();
  });
}

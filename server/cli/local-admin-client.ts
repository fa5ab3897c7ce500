// `npx kiln admin` talking to the Kiln server that holds the embedded database's folder, through
// that server's local channel (server/auth/local-admin.ts). A server still starting (building the
// schema of a new database) opens the channel only once it is ready, so the command waits for it.
import { request } from 'node:http';

export interface ChannelAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** How long a command waits for a starting server's channel. */
const WAIT_FOR_SERVER_MS = 120_000;
const POLL_MS = 250;

function post(socketPath: string, path: string, body: unknown): Promise<ChannelAnswer> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request({ socketPath, path, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } }, (res) => {
      let answer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (answer += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(answer) as Record<string, unknown> });
        } catch {
          reject(new Error(`the server answered ${res.statusCode} without JSON`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** Posts to the channel; while it is not open yet (the server is starting), tries again. */
export async function askServer(socketPath: string, path: string, body: unknown, stillHeld: () => boolean, onWait: () => void): Promise<ChannelAnswer> {
  const deadline = Date.now() + WAIT_FOR_SERVER_MS;
  let told = false;
  for (;;) {
    try {
      return await post(socketPath, path, body);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > deadline || !stillHeld()) throw error;
      if (!told) onWait();
      told = true;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

// The administration channel of a Kiln on the embedded database, for `npx kiln admin` beside a
// running server: the data folder belongs to the server process, so the commands ask it instead of
// opening the folder themselves. It is HTTP on a Unix socket (a named pipe on Windows) in the data
// folder, readable and writable by its owner only: whoever may use it could already read and
// write the database files, so it grants nothing new, and it never listens on the network.
import { createHash } from 'node:crypto';
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { Database } from '../store/database.js';
import { ClientInputError, createClient } from './clients.js';
import { DevAccessRefused, issueDevToken } from './dev-access.js';
import type { KeyRing } from './signing-keys.js';
import { createUser, ROLES, UserInputError, type Role } from './users.js';

/** Longest path of a Unix socket on Linux and macOS is about 104 bytes. */
const SOCKET_PATH_LIMIT = 100;
const BODY_LIMIT = 64 * 1024;

/** Where the channel of the Kiln that holds `dataDir` listens. */
export function localAdminSocketPath(dataDir: string): string {
  const folder = resolve(dataDir);
  const name = `kiln-${createHash('sha256').update(folder).digest('hex').slice(0, 16)}`;
  if (process.platform === 'win32') return `\\\\.\\pipe\\${name}`;
  const inFolder = join(folder, 'kiln.sock');
  return inFolder.length <= SOCKET_PATH_LIMIT ? inFolder : join(tmpdir(), `${name}.sock`);
}

export interface LocalAdminTarget {
  db: Database;
  /** The server's signing keys and FHIR base URL; absent when authorization is off. */
  auth?: { keys: KeyRing; fhirBaseUrl: string };
}

const newUser = z.object({ username: z.string(), password: z.string(), role: z.enum(ROLES as [Role, ...Role[]]).default('admin'), fhirUser: z.string().nullish() });
const newClient = z.object({
  name: z.string(),
  kind: z.enum(['public', 'confidential-symmetric', 'confidential-asymmetric']),
  scope: z.string(),
  redirectUris: z.array(z.string()).optional(),
  grantTypes: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).optional(),
  jwksUri: z.string().optional(),
});

class ChannelError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > BODY_LIMIT) throw new ChannelError(413, 'the request is too large');
  }
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw new ChannelError(400, 'the request is not JSON');
  }
}

function parsed<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new ChannelError(400, `${first.path.join('.') || 'body'}: ${first.message}`);
  }
  return result.data;
}

async function answer(target: LocalAdminTarget, req: IncomingMessage): Promise<{ status: number; body: unknown }> {
  if (req.method !== 'POST') throw new ChannelError(405, 'POST only');
  const body = await readJson(req);
  switch (req.url) {
    case '/users':
      return { status: 201, body: await createUser(target.db, parsed(newUser, body)) };
    case '/clients':
      return { status: 201, body: await createClient(target.db, parsed(newClient, body)) };
    case '/token': {
      if (!target.auth) throw new ChannelError(409, 'authorization is off on this server (KILN_AUTH=off): requests need no token');
      return { status: 200, body: await issueDevToken(target.db, target.auth.keys, target.auth.fhirBaseUrl) };
    }
    default:
      throw new ChannelError(404, `nothing at ${req.url}`);
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

export interface LocalAdminChannel {
  path: string;
  close(): Promise<void>;
}

/** Opens the channel at `path`; the caller holds the data folder, so a socket left there is stale. */
export async function serveLocalAdmin(path: string, target: LocalAdminTarget, logger: Logger): Promise<LocalAdminChannel> {
  const server = createServer((req, res) => {
    answer(target, req).then(
      (result) => reply(res, result.status, result.body),
      (error: unknown) => {
        if (error instanceof ChannelError) return reply(res, error.status, { error: error.message });
        if (error instanceof UserInputError || error instanceof ClientInputError) return reply(res, 400, { error: error.message });
        if (error instanceof DevAccessRefused) return reply(res, 409, { error: error.message });
        logger.error({ err: error }, 'local administration request failed');
        reply(res, 500, { error: 'the server could not do it; see its log' });
      },
    );
  });
  const isPipe = process.platform === 'win32';
  if (!isPipe) removeSocket(path);
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(path, () => done());
  });
  if (!isPipe) chmodSync(path, 0o600);
  server.unref();
  return {
    path,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function removeSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

// `npx kiln admin create|client|token`: accounts, apps and a development token. On Postgres they
// write to the database directly (any number of processes may). The embedded database belongs to
// the one process that holds its folder: when no one does, the command opens it itself; when the
// Kiln server does, the command asks that server through its local channel, so the commands work
// the same whether Kiln runs or not.
import { parseArgs } from 'node:util';
import { ClientInputError, createClient, type ClientKind, type GrantType, type NewClient } from '../auth/clients.js';
import { DevAccessRefused, issueDevToken, type DevToken } from '../auth/dev-access.js';
import { localAdminSocketPath } from '../auth/local-admin.js';
import { loadKeyRing } from '../auth/signing-keys.js';
import { createUser, UserInputError, type NewUser, type Role, type User } from '../auth/users.js';
import { loadConfig, type Config } from '../config.js';
import { DataFolderInUse, dataFolderHolder, type LockHolder } from '../store/data-folder-lock.js';
import { openDatabase } from '../store/open-database.js';
import { cliLogger } from './cli-log.js';
import { askServer } from './local-admin-client.js';

/** What the server's lock names it as (server/server.ts). */
const SERVER_HOLDER = 'the Kiln server';

type AdminRequest = { action: 'create'; user: NewUser } | { action: 'client'; client: NewClient } | { action: 'token' };

/** A refusal the user can act on: one line, exit status 2. */
class AdminRefusal extends Error {}

async function readLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0].replace(/\r$/, '');
}

/** The request the arguments describe, or undefined for a usage error. */
async function adminRequest(argv: string[]): Promise<AdminRequest | undefined> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      'fhir-user': { type: 'string' },
      kind: { type: 'string' },
      scope: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      grant: { type: 'string', multiple: true },
      'jwks-uri': { type: 'string' },
    },
  });
  const [name] = positionals;
  if (action === 'token' && !name) return { action };
  if (action === 'create' && name) {
    const password = process.env.KILN_ADMIN_PASSWORD ?? (await readLine());
    return { action, user: { username: name, password, role: (values.role ?? 'admin') as Role, fhirUser: values['fhir-user'] } };
  }
  if (action === 'client' && name) {
    const client: NewClient = {
      name,
      kind: values.kind as ClientKind,
      scope: values.scope ?? '',
      redirectUris: values['redirect-uri'],
      grantTypes: values.grant as GrantType[] | undefined,
      jwksUri: values['jwks-uri'],
    };
    return { action, client };
  }
  return undefined;
}

type Answer = { action: 'create'; user: User } | { action: 'client'; clientId: string; secret?: string } | { action: 'token'; token: DevToken };

function print(answer: Answer): void {
  if (answer.action === 'create') {
    const { user } = answer;
    process.stdout.write(`Created ${user.role} ${user.username} (${user.id})${user.fhirUser ? ` as ${user.fhirUser}` : ''}\n`);
  } else if (answer.action === 'client') {
    process.stdout.write(`client_id: ${answer.clientId}\n${answer.secret ? `client_secret: ${answer.secret}\n(shown this once; Kiln keeps only its hash)\n` : ''}`);
  } else {
    const { token } = answer;
    process.stdout.write(`${token.accessToken}\n`);
    process.stderr.write(
      `kiln: an access token of the development administrator ${token.username} for ${token.fhirBaseUrl} (${token.scope}), valid for ${token.expiresIn / 60} minutes\n`,
    );
  }
}

/** Does it on the database itself (Postgres, or an embedded database no process holds). */
async function direct(config: Config, request: AdminRequest): Promise<Answer> {
  const db = await openDatabase({
    url: config.DATABASE_URL,
    poolSize: 2,
    statementTimeoutMs: config.KILN_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    waitSeconds: config.KILN_DATABASE_WAIT_SECONDS,
    dataDir: config.KILN_DATA_DIR,
    holder: `kiln admin ${request.action}`,
    // Accounts need the tables, not the search columns: an up-to-date database is not checked further.
    searchColumns: false,
    log: cliLogger(config.LOG_LEVEL),
  });
  try {
    if (request.action === 'create') return { action: 'create', user: await createUser(db, request.user) };
    if (request.action === 'client') {
      const { client, secret } = await createClient(db, request.client);
      return { action: 'client', clientId: client.clientId, secret };
    }
    // Signed with the keys the server signs with, for the base URL this environment gives it.
    return { action: 'token', token: await issueDevToken(db, await loadKeyRing(db), config.baseUrl) };
  } finally {
    await db.close();
  }
}

/** Asks the Kiln server that holds the embedded database's folder. */
async function throughServer(config: Config, holder: LockHolder, request: AdminRequest): Promise<Answer> {
  if (holder.command !== SERVER_HOLDER) {
    throw new AdminRefusal(`the data folder ${config.KILN_DATA_DIR} is in use by ${holder.command} (pid ${holder.pid}); try again when it has finished`);
  }
  const path = request.action === 'create' ? '/users' : request.action === 'client' ? '/clients' : '/token';
  const body = request.action === 'create' ? request.user : request.action === 'client' ? request.client : {};
  const answer = await askServer(
    localAdminSocketPath(config.KILN_DATA_DIR),
    path,
    body,
    () => dataFolderHolder(config.KILN_DATA_DIR)?.pid === holder.pid,
    () => process.stderr.write(`kiln: waiting for the Kiln server (pid ${holder.pid}) to finish starting…\n`),
  ).catch((error: unknown) => {
    throw new Error(
      `the Kiln server (pid ${holder.pid}) holds the data folder ${config.KILN_DATA_DIR} but did not answer on its local channel (${(error as Error).message}); ` +
        `stop it, or use its admin API: POST /admin/users or /admin/clients with an administrator's token`,
    );
  });
  if (answer.status >= 400) {
    const message = String(answer.body.error ?? `the server answered ${answer.status}`);
    if (answer.status === 400 || answer.status === 409) throw new AdminRefusal(message);
    throw new Error(message);
  }
  if (request.action === 'create') return { action: 'create', user: answer.body as unknown as User };
  if (request.action === 'client') {
    const created = answer.body as { client: { clientId: string }; secret?: string };
    return { action: 'client', clientId: created.client.clientId, secret: created.secret };
  }
  return { action: 'token', token: answer.body as unknown as DevToken };
}

export async function admin(argv: string[], usage: string): Promise<number> {
  const request = await adminRequest(argv);
  if (!request) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const config = loadConfig();
  try {
    if (request.action === 'token' && config.DATABASE_URL) {
      throw new AdminRefusal(
        'kiln admin token is for development on the embedded database only; on Postgres, register an app (kiln admin client) and sign in with it, or use client_credentials',
      );
    }
    // The embedded database belongs to the process that holds its folder: a server is asked; another
    // command is waited for (opening the folder waits for it).
    const holder = config.DATABASE_URL ? undefined : dataFolderHolder(config.KILN_DATA_DIR);
    let answer: Answer;
    if (holder?.command === SERVER_HOLDER) answer = await throughServer(config, holder, request);
    else {
      answer = await direct(config, request).catch((error: unknown) => {
        // The server took the folder between the look and the open.
        if (error instanceof DataFolderInUse) return throughServer(config, error.holder, request);
        throw error;
      });
    }
    print(answer);
    return 0;
  } catch (error) {
    if (error instanceof AdminRefusal || error instanceof UserInputError || error instanceof ClientInputError || error instanceof DevAccessRefused) {
      process.stderr.write(`kiln admin: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

#!/usr/bin/env node
// `npx kiln <command>`: Kiln's command-line tools. `import` loads FHIR Bundles and NDJSON files.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { fhirContext, openStore } from '../open-store.js';
import { formatSummary, runImport } from './import/run-import.js';
import { httpSink, localSink, type Sink } from './import/sinks.js';
import { InputError } from './import/sources.js';
import { ClientInputError, createClient, type ClientKind, type GrantType } from '../auth/clients.js';
import { createUser, UserInputError, type Role } from '../auth/users.js';

const USAGE = `Usage: kiln import <file-or-folder>... [options]
       kiln admin create <username> [--role admin|practitioner|patient|device] [--fhir-user Type/id]
       kiln admin client <name> --kind public|confidential-symmetric|confidential-asymmetric --scope "<scopes>"
                         [--redirect-uri <uri>]... [--grant <type>]... [--jwks-uri <url>]

kiln admin create: creates an account; the password is read from KILN_ADMIN_PASSWORD, or from
standard input (one line). kiln admin client: registers an application and prints its client_id
(and, for confidential-symmetric, its secret, shown this once). Both write to the database this
environment configures.

Imports FHIR R4 Bundles (.json: transaction and batch Bundles as they are; other Bundles and
single resources as a batch) and NDJSON files (.ndjson, one resource a line), through Kiln's
own interactions: validated, indexed, and referenced as the REST API would.

Options:
  --url <fhir base>      send the Bundles to a running Kiln (e.g. http://localhost:8080/fhir),
                         with the bearer token in KILN_TOKEN when it requires authorization
                         instead of writing to the database this environment configures
                         (DATABASE_URL, or the embedded database in KILN_DATA_DIR, which no
                         running server may be using at the same time)
  --state <file>         where progress is kept, to resume an interrupted import
                         (default .kiln-import-state.json)
  --concurrency <n>      Bundles in flight at once (default 4; 1 on the embedded database)
  --help                 this text

Exit status: 0 when every resource was written, 1 when some failed (listed at the end), 2 on a
usage or configuration error.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (command === 'admin') return admin(rest);
  if (command !== 'import') {
    process.stderr.write(`kiln: unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { url: { type: 'string' }, state: { type: 'string' }, concurrency: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!positionals.length) {
    process.stderr.write(`kiln import: name at least one file or folder\n\n${USAGE}\n`);
    return 2;
  }
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) {
    process.stderr.write(`kiln import: --concurrency must be a whole number from 1 to 64, not "${values.concurrency}"\n`);
    return 2;
  }
  let sink: Sink;
  let defaultConcurrency = 4;
  if (values.url) {
    sink = httpSink(values.url, process.env.KILN_TOKEN);
  } else {
    const config = loadConfig();
    const db = await openStore(config);
    sink = localSink(fhirContext(config, db, config.baseUrl), () => db.close());
    if (db.kind === 'pglite') defaultConcurrency = 1;
  }
  try {
    const summary = await runImport({
      paths: positionals,
      statePath: values.state ?? '.kiln-import-state.json',
      concurrency: concurrency ?? defaultConcurrency,
      sink,
      out: process.stderr,
    });
    process.stdout.write(`${formatSummary(summary)}\n`);
    return summary.failures.length ? 1 : 0;
  } finally {
    await sink.close();
  }
}

async function readLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0].replace(/\r$/, '');
}

/** `kiln admin create` and `kiln admin client`: the first accounts and apps, straight into the database. */
async function admin(argv: string[]): Promise<number> {
  const [action, name, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
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
  if ((action !== 'create' && action !== 'client') || !name) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const db = await openStore(config);
  try {
    if (action === 'create') {
      const password = process.env.KILN_ADMIN_PASSWORD ?? (await readLine());
      const user = await createUser(db, { username: name, password, role: (values.role ?? 'admin') as Role, fhirUser: values['fhir-user'] });
      process.stdout.write(`Created ${user.role} ${user.username} (${user.id})${user.fhirUser ? ` as ${user.fhirUser}` : ''}\n`);
      return 0;
    }
    const { client, secret } = await createClient(db, {
      name,
      kind: values.kind as ClientKind,
      scope: values.scope ?? '',
      redirectUris: values['redirect-uri'],
      grantTypes: values.grant as GrantType[] | undefined,
      jwksUri: values['jwks-uri'],
    });
    process.stdout.write(`client_id: ${client.clientId}\n${secret ? `client_secret: ${secret}\n(shown this once; Kiln keeps only its hash)\n` : ''}`);
    return 0;
  } catch (error) {
    if (error instanceof UserInputError || error instanceof ClientInputError) {
      process.stderr.write(`kiln admin: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const usage = error instanceof ConfigError || error instanceof InputError || code.startsWith('ERR_PARSE_ARGS');
    // Expected failures (configuration, arguments, files) in one line; anything else in full.
    process.stderr.write(`kiln: ${usage || code ? (error as Error).message : String((error as Error).stack ?? error)}\n`);
    process.exit(usage ? 2 : 1);
  },
);

#!/usr/bin/env node
// `npx kiln <command>`: Kiln's command-line tools. `import` loads FHIR Bundles and NDJSON files;
// `admin` creates accounts and apps, and development tokens (server/cli/admin.ts).
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { fhirContext, openStore } from '../open-store.js';
import { formatSummary, runImport } from './import/run-import.js';
import { httpSink, localSink, type Sink } from './import/sinks.js';
import { InputError } from './import/sources.js';
import { DataFolderInUse } from '../store/data-folder-lock.js';
import { admin } from './admin.js';
import { cliLogger } from './cli-log.js';

const USAGE = `Usage: kiln import <file-or-folder>... [options]
       kiln admin create <username> [--role admin|practitioner|patient|device] [--fhir-user Type/id]
       kiln admin client <name> --kind public|confidential-symmetric|confidential-asymmetric --scope "<scopes>"
                         [--redirect-uri <uri>]... [--grant <type>]... [--jwks-uri <url>]
       kiln admin token

kiln admin create: creates an account; the password is read from KILN_ADMIN_PASSWORD, or from
standard input (one line). kiln admin client: registers an application and prints its client_id
(and, for confidential-symmetric, its secret, shown this once). Both write to the database this
environment configures; on the embedded database while the Kiln server runs on it, they ask that
server. kiln admin token (embedded database only, for development): prints an access token of a
development administrator (created once, with a random password no one is shown), valid for one
hour: TOKEN=$(npx kiln admin token).

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
  if (command === 'admin') return admin(rest, USAGE);
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
    const db = await openStore(config, { holder: 'kiln import', log: cliLogger(config.LOG_LEVEL) }).catch((error: unknown) => {
      if (!(error instanceof DataFolderInUse)) throw error;
      throw new DataFolderInUse(error.dataDir, error.holder, `${error.message}: stop it, or import through it with --url ${config.baseUrl} and KILN_TOKEN=$(npx kiln admin token)`);
    });
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const usage = error instanceof ConfigError || error instanceof InputError || error instanceof DataFolderInUse || code.startsWith('ERR_PARSE_ARGS');
    // Expected failures (configuration, arguments, files) in one line; anything else in full.
    process.stderr.write(`kiln: ${usage || code ? (error as Error).message : String((error as Error).stack ?? error)}\n`);
    process.exit(usage ? 2 : 1);
  },
);

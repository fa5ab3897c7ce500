// Starts a real Kiln for a test file: on the embedded database by default, or on the real
// Postgres named by DATABASE_URL (how CI runs the same suite a second time).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { startServer, type RunningServer } from '../../server/server.js';
import { embeddedSnapshot } from './embedded-snapshot.js';

export type TestServer = RunningServer;

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({
    DATABASE_URL: process.env.DATABASE_URL ?? '',
    KILN_SHUTDOWN_GRACE_MS: '2000',
    // Tests of the FHIR API itself run without authorization; the SMART tests turn it on.
    KILN_AUTH: 'off',
    // Each server its own journal, in the run's folder that is removed after the suite.
    KILN_AUDIT_JOURNAL_DIR: mkdtempSync(join(process.env.KILN_TEST_RUN_DIR ?? tmpdir(), 'audit-journal-')),
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.KILN_TEST_LOG_LEVEL ?? 'silent',
  });
  // An explicit data folder means the test is about the embedded database on disk.
  const inMemory = !env.KILN_DATA_DIR;
  const onEmbedded = !config.DATABASE_URL;
  const snapshot = inMemory && onEmbedded ? await embeddedSnapshot() : undefined;
  return startServer(config, createLogger(config.LOG_LEVEL), { inMemory, embeddedSnapshot: snapshot });
}

/** Ids unique to one test run, so tests on a shared real database never see each other's data. */
export function uniqueId(prefix = 'test'): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export const FHIR_JSON = 'application/fhir+json';

/** A resource body as a FHIR client sends it. */
export function json(value: unknown): string {
  return JSON.stringify(value);
}

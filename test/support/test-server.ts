// Starts a real Kiln for a test file: on the embedded database by default, or on the real
// Postgres named by DATABASE_URL (how CI runs the same suite a second time).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import { createLogger, type Logger } from '../../server/logger.js';
import { startServer, type RunningServer } from '../../server/server.js';
import { embeddedSnapshot } from './embedded-snapshot.js';
import { ownDatabase } from './own-database.js';
import { TEST_LOGIN_LIMITS, TEST_NOTIFICATIONS } from './kiln-process.js';

export type TestServer = RunningServer;

/**
 * `logger` replaces the silent one, for a test of what Kiln logs. On Postgres, a Kiln with
 * notifications on gets a database of its own (test/support/own-database.ts says why) unless `env`
 * names one, as a test of several Kilns sharing one does.
 */
export async function startTestServer(env: Record<string, string> = {}, logger?: Logger): Promise<TestServer> {
  const database = env.KILN_NOTIFICATIONS === 'on' && env.DATABASE_URL === undefined ? await ownDatabase() : {};
  const config = loadConfig({
    DATABASE_URL: process.env.DATABASE_URL ?? '',
    KILN_SHUTDOWN_GRACE_MS: '2000',
    // Tests of the FHIR API itself run without authorization; the SMART tests turn it on.
    KILN_AUTH: 'off',
    // Only the tests of the sign-in limits set them.
    ...TEST_LOGIN_LIMITS,
    ...TEST_NOTIFICATIONS,
    // Only the tests of notifications read the change feed and deliver them.
    KILN_NOTIFICATIONS: 'off',
    // Each server its own journal, in the run's folder that is removed after the suite.
    KILN_AUDIT_JOURNAL_DIR: mkdtempSync(join(process.env.KILN_TEST_RUN_DIR ?? tmpdir(), 'audit-journal-')),
    ...database,
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.KILN_TEST_LOG_LEVEL ?? 'silent',
  });
  // An explicit data folder means the test is about the embedded database on disk.
  const inMemory = !env.KILN_DATA_DIR;
  const onEmbedded = !config.DATABASE_URL;
  const snapshot = inMemory && onEmbedded ? await embeddedSnapshot() : undefined;
  return startServer(config, logger ?? createLogger(config.LOG_LEVEL), { inMemory, embeddedSnapshot: snapshot });
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

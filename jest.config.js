// Jest runs the TypeScript sources directly as ES modules (swc strips the types).
import { availableParallelism } from 'node:os';

// Files about the embedded database alone: every Kiln and command they start has DATABASE_URL
// emptied. They run with the README's `npm test`; the suite's second run, on the real Postgres
// (DATABASE_URL set, .ci/run), leaves them out rather than repeat the same minutes of work.
const EMBEDDED_ONLY = ['/test/faults/data-folder-lock.test.ts', '/test/cli/quick-start.test.ts'];

export default {
  // Jest's default, one worker fewer than cores, runs the files one at a time on two cores; each
  // file waits on its database and child processes much of the time, so one worker per core.
  maxWorkers: Math.max(2, availableParallelism()),
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: './test/support/global-setup.js',
  globalTeardown: './test/support/global-teardown.js',
  // The longest files first, from recorded durations when this machine has no timings of its own.
  testSequencer: './test/support/sequencer.js',
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/scratch/', ...(process.env.DATABASE_URL ? EMBEDDED_ONLY : [])],
  // Each test file starts its own server; on a busy 2-core machine that alone can take 20 s.
  testTimeout: 60000,
};

// Jest runs the TypeScript sources directly as ES modules (swc strips the types).
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: './test/support/global-setup.js',
  globalTeardown: './test/support/global-teardown.js',
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/scratch/'],
  // Each test file starts its own server; on a busy 2-core machine that alone can take 20 s.
  testTimeout: 60000,
};

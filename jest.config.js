/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The broker-outage suite stops and starts the machine's RabbitMQ: it runs alone after the rest (see .ci/run).
  testPathIgnorePatterns: ['/node_modules/', '\\.serial\\.test\\.ts$'],
  testTimeout: 60000,
  maxWorkers: 2,
  setupFiles: ['<rootDir>/test/support/quiet-logs.ts'],
  // Every log line of the run is kept and checked for personal data at the end (test/support/log-capture/).
  globalSetup: '<rootDir>/test/support/log-capture/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/log-capture/global-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/log-capture/capture-source.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
};

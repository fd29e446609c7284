/** Suites that change machine-wide state (stopping RabbitMQ): one at a time, after the parallel suites. */
const base = require('./jest.config');
module.exports = { ...base, testPathIgnorePatterns: ['/node_modules/'], testMatch: ['**/*.serial.test.ts'], maxWorkers: 1 };

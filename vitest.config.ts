import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // e2e suites start Java (DynamoDB Local) and servers; give them room on a 2-core CI box.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // CDK synth and DynamoDB Local are memory/CPU heavy; two at a time is what 2 cores bear.
    maxWorkers: 2,
    allowOnly: false,
  },
});

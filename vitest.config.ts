import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/s3-global.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end tests run the CLI as subprocesses against one shared server; two cores.
    fileParallelism: false,
  },
})

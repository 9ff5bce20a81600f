import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // temp-global.ts last: it sets TMPDIR to the run's own directory, where the servers do not live.
    globalSetup: ['test/setup/s3-global.ts', 'test/setup/postgres-global.ts', 'test/setup/temp-global.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end tests run the CLI as subprocesses against one shared server; two cores.
    fileParallelism: false,
    // The pinned SDK supports Node 20; its notice about future releases is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
})

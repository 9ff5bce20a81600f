import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import './provided.js'

let runDir: string | undefined

/**
 * Gives the test run a temp directory of its own (TMPDIR for every test file, set before the
 * workers start) and removes it when the run ends, so that the temp dirs the tests make do not
 * pile up on a developer's disk run after run. Runs after the S3 setup: a local Ceph cluster lives
 * under the real temp dir and outlasts the run. The run's directory is sticky and open to all, as
 * /tmp is, for the tests that run soaker as another user. SOAKER_KEEP_TEST_TMP=1 keeps it.
 */
export function setup(project: TestProject): void {
  const shared = tmpdir()
  runDir = mkdtempSync(join(shared, 'soaker-test-run-'))
  chmodSync(runDir, 0o1777)
  process.env.TMPDIR = runDir
  project.provide('sharedTmp', shared)
}

export function teardown(): void {
  if (runDir === undefined || process.env.SOAKER_KEEP_TEST_TMP === '1') return
  rmSync(runDir, { recursive: true, force: true, maxRetries: 3 })
}

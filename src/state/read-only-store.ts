import type { ObjectInfo } from '../providers/provider.js'
import type { ObjectRow, ObjectStatus, RunRow, RunTotals, Sample, StateStore, StatusCount } from './store.js'

/**
 * A view of a store that answers reads and ignores writes, for --dry-run: the planner decides
 * exactly as in a real run, and nothing is recorded.
 */
export class ReadOnlyStore implements StateStore {
  constructor(private readonly inner: StateStore) {}
  getObject(key: string): ObjectRow | undefined { return this.inner.getObject(key) }
  doneParts(key: string): Map<number, string | null> { return this.inner.doneParts(key) }
  partProgress(key: string): Map<number, number> { return this.inner.partProgress(key) }
  firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): string | undefined { return this.inner.firstKeyUnder(prefix, exceptErrorCodes) }
  counts(): Record<ObjectStatus, StatusCount> { return this.inner.counts() }
  failures(limit: number): Array<{ key: string; errorCode: string | null; reason: string | null }> { return this.inner.failures(limit) }
  runs(limit: number): RunRow[] { return this.inner.runs(limit) }
  samples(runId: number): Sample[] { return this.inner.samples(runId) }
  objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): ObjectInfo[] { return this.inner.objectsWithStatus(status, afterKey, limit) }
  putObject(_info: ObjectInfo, _status: ObjectStatus, _reason?: string, _errorCode?: string): void {}
  setStatus(): void {}
  setPartSize(): void {}
  recordPart(): void {}
  clearParts(): void {}
  recordProgress(): void {}
  setFileMtime(): void {}
  commit(): void {}
  recordSample(_runId: number, _sample: Sample): void {}
  beginRun(): number { return 0 }
  endRun(_id: number, _status: string, _totals: RunTotals): void {}
  close(): void { this.inner.close() }
}

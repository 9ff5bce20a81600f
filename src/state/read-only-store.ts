import type { ObjectInfo } from '../providers/provider.js'
import type { CheckedPair, ObjectRow, ObjectStatus, RemoteRow, RunRow, RunTotals, Sample, StateStore, StatusCount } from './store.js'

/**
 * A view of a store that answers reads and ignores writes, for --dry-run: the planner decides
 * exactly as in a real run, nothing is recorded, and nothing is claimed.
 */
export class ReadOnlyStore implements StateStore {
  constructor(private readonly inner: StateStore) {}
  lookup(keys: readonly string[]): Promise<Map<string, ObjectRow>> { return this.inner.lookup(keys) }
  getObject(key: string): Promise<ObjectRow | undefined> { return this.inner.getObject(key) }
  doneParts(key: string): Promise<Map<number, string | null>> { return this.inner.doneParts(key) }
  openUploads(): Promise<Array<{ key: string; uploadId: string }>> { return this.inner.openUploads() }
  getRemote(key: string): Promise<RemoteRow | undefined> { return this.inner.getRemote(key) }
  firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): Promise<string | undefined> { return this.inner.firstKeyUnder(prefix, exceptErrorCodes) }
  firstKeysUnder(prefixes: readonly string[], exceptErrorCodes: readonly string[]): Promise<Map<string, string>> { return this.inner.firstKeysUnder(prefixes, exceptErrorCodes) }
  counts(): Promise<Record<ObjectStatus, StatusCount>> { return this.inner.counts() }
  failures(limit: number): Promise<Array<{ key: string; errorCode: string | null; reason: string | null }>> { return this.inner.failures(limit) }
  runs(limit: number): Promise<RunRow[]> { return this.inner.runs(limit) }
  samples(runId: number): Promise<Sample[]> { return this.inner.samples(runId) }
  objects(afterKey: string, limit: number): Promise<ObjectRow[]> { return this.inner.objects(afterKey, limit) }
  objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): Promise<ObjectInfo[]> { return this.inner.objectsWithStatus(status, afterKey, limit) }
  checked(key: string, srcVersion: string, dstVersion: string): Promise<CheckedPair | undefined> { return this.inner.checked(key, srcVersion, dstVersion) }
  async claim(): Promise<ObjectRow[]> { return [] }
  release(): void {}
  putObject(_info: ObjectInfo, _status: ObjectStatus, _reason?: string, _errorCode?: string): void {}
  setStatus(): void {}
  setUpload(): void {}
  recordPart(): void {}
  clearParts(): void {}
  setFileMtime(): void {}
  clearRemote(): void {}
  putRemote(): void {}
  recordCheck(): void {}
  async flush(): Promise<void> {}
  recordSample(_runId: number, _sample: Sample): void {}
  async beginRun(): Promise<number> { return 0 }
  async endRun(_id: number, _status: string, _totals: RunTotals): Promise<void> {}
  close(): Promise<void> { return this.inner.close() }
}

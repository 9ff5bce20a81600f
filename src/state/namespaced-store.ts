import type { ObjectInfo } from '../providers/provider.js'
import type { ObjectRow, ObjectStatus, RunRow, RunTotals, Sample, StateStore, StatusCount } from './store.js'

/**
 * One source's view of a store shared by several (many buckets in one run): its keys are kept
 * under `namespace` (`s3://bucket/`), so equal keys of different buckets never meet, and the
 * failures and status of the whole run name the bucket of each key.
 */
export class NamespacedStore implements StateStore {
  constructor(private readonly inner: StateStore, private readonly namespace: string) {}

  private ns(key: string): string {
    return this.namespace + key
  }

  private own(key: string): string {
    return key.slice(this.namespace.length)
  }

  getObject(key: string): ObjectRow | undefined {
    const row = this.inner.getObject(this.ns(key))
    return row && { ...row, key }
  }

  putObject(info: ObjectInfo, status: ObjectStatus, reason?: string, errorCode?: string): void {
    this.inner.putObject({ ...info, key: this.ns(info.key) }, status, reason, errorCode)
  }

  setStatus(key: string, status: ObjectStatus, reason?: string | null, errorCode?: string | null): void {
    this.inner.setStatus(this.ns(key), status, reason, errorCode)
  }

  setPartSize(key: string, partSize: number): void { this.inner.setPartSize(this.ns(key), partSize) }
  doneParts(key: string): Map<number, string | null> { return this.inner.doneParts(this.ns(key)) }
  recordPart(key: string, index: number, md5: string | null): void { this.inner.recordPart(this.ns(key), index, md5) }
  clearParts(key: string): void { this.inner.clearParts(this.ns(key)) }
  recordProgress(key: string, index: number, bytes: number): void { this.inner.recordProgress(this.ns(key), index, bytes) }
  partProgress(key: string): Map<number, number> { return this.inner.partProgress(this.ns(key)) }
  setFileMtime(key: string, mtimeMs: number): void { this.inner.setFileMtime(this.ns(key), mtimeMs) }

  firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): string | undefined {
    const key = this.inner.firstKeyUnder(this.ns(prefix), exceptErrorCodes)
    return key === undefined ? undefined : this.own(key)
  }

  /** Only this namespace's rows, with their own keys. */
  objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): ObjectInfo[] {
    const rows = this.inner.objectsWithStatus(status, this.ns(afterKey), limit)
    return rows.filter((r) => r.key.startsWith(this.namespace)).map((r) => ({ ...r, key: this.own(r.key) }))
  }

  // The whole run's view: counts and failures of every namespace, keys as stored.
  counts(): Record<ObjectStatus, StatusCount> { return this.inner.counts() }
  failures(limit: number): Array<{ key: string; errorCode: string | null; reason: string | null }> { return this.inner.failures(limit) }
  runs(limit: number): RunRow[] { return this.inner.runs(limit) }
  samples(runId: number): Sample[] { return this.inner.samples(runId) }
  commit(): void { this.inner.commit() }
  recordSample(runId: number, sample: Sample): void { this.inner.recordSample(runId, sample) }
  beginRun(source: string, destination: string): number { return this.inner.beginRun(source, destination) }
  endRun(id: number, status: string, totals: RunTotals): void { this.inner.endRun(id, status, totals) }
  close(): void { this.inner.close() }
}

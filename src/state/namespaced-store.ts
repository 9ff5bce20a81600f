import type { ObjectInfo } from '../providers/provider.js'
import type { CheckedPair, ClaimOrder, ObjectRow, ObjectStatus, RemoteRow, RunRow, RunTotals, Sample, StateStore, StatusCount } from './store.js'

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

  private ownRow(row: ObjectRow): ObjectRow {
    return { ...row, key: this.own(row.key) }
  }

  async lookup(keys: readonly string[]): Promise<Map<string, ObjectRow>> {
    const rows = await this.inner.lookup(keys.map((k) => this.ns(k)))
    return new Map([...rows.values()].map((r) => [this.own(r.key), this.ownRow(r)]))
  }

  async getObject(key: string): Promise<ObjectRow | undefined> {
    const row = await this.inner.getObject(this.ns(key))
    return row && this.ownRow(row)
  }

  putObject(info: ObjectInfo, status: ObjectStatus, reason?: string, errorCode?: string): void {
    this.inner.putObject({ ...info, key: this.ns(info.key) }, status, reason, errorCode)
  }

  setStatus(key: string, status: ObjectStatus, reason?: string | null, errorCode?: string | null): void {
    this.inner.setStatus(this.ns(key), status, reason, errorCode)
  }

  /** Only this namespace's rows, with their own keys. */
  async claim(limit: number, order: ClaimOrder, under = ''): Promise<ObjectRow[]> {
    return (await this.inner.claim(limit, order, this.ns(under))).map((r) => this.ownRow(r))
  }

  release(key: string): void { this.inner.release(this.ns(key)) }
  setUpload(key: string, uploadId: string | null, partSize: number | null, keepParts?: boolean): void { this.inner.setUpload(this.ns(key), uploadId, partSize, keepParts) }
  doneParts(key: string): Promise<Map<number, string | null>> { return this.inner.doneParts(this.ns(key)) }
  recordPart(key: string, index: number, md5: string | null): void { this.inner.recordPart(this.ns(key), index, md5) }
  clearParts(key: string): void { this.inner.clearParts(this.ns(key)) }
  setFileMtime(key: string, mtimeMs: number): void { this.inner.setFileMtime(this.ns(key), mtimeMs) }
  checked(key: string, srcVersion: string, dstVersion: string): Promise<CheckedPair | undefined> { return this.inner.checked(this.ns(key), srcVersion, dstVersion) }
  recordCheck(key: string, srcVersion: string, dstVersion: string, pair: CheckedPair): void { this.inner.recordCheck(this.ns(key), srcVersion, dstVersion, pair) }

  /** This namespace's open uploads, with their own keys. */
  async openUploads(): Promise<Array<{ key: string; uploadId: string }>> {
    const open = await this.inner.openUploads()
    return open.filter((u) => u.key.startsWith(this.namespace)).map((u) => ({ ...u, key: this.own(u.key) }))
  }

  // The destination's listing belongs to the run's one destination: shared, keys as listed.
  clearRemote(): void { this.inner.clearRemote() }
  putRemote(info: ObjectInfo): void { this.inner.putRemote(info) }
  getRemote(key: string): Promise<RemoteRow | undefined> { return this.inner.getRemote(key) }

  async firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): Promise<string | undefined> {
    const key = await this.inner.firstKeyUnder(this.ns(prefix), exceptErrorCodes)
    return key === undefined ? undefined : this.own(key)
  }

  async firstKeysUnder(prefixes: readonly string[], exceptErrorCodes: readonly string[]): Promise<Map<string, string>> {
    const found = await this.inner.firstKeysUnder(prefixes.map((p) => this.ns(p)), exceptErrorCodes)
    return new Map([...found].map(([prefix, key]) => [this.own(prefix), this.own(key)]))
  }

  /** Only this namespace's rows, with their own keys. */
  async objects(afterKey: string, limit: number): Promise<ObjectRow[]> {
    const rows = await this.inner.objects(this.ns(afterKey), limit)
    return rows.filter((r) => r.key.startsWith(this.namespace)).map((r) => this.ownRow(r))
  }

  /** Only this namespace's rows, with their own keys. */
  async objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): Promise<ObjectInfo[]> {
    const rows = await this.inner.objectsWithStatus(status, this.ns(afterKey), limit)
    return rows.filter((r) => r.key.startsWith(this.namespace)).map((r) => ({ ...r, key: this.own(r.key) }))
  }

  // The whole run's view: counts and failures of every namespace, keys as stored.
  counts(): Promise<Record<ObjectStatus, StatusCount>> { return this.inner.counts() }
  failures(limit: number): Promise<Array<{ key: string; errorCode: string | null; reason: string | null }>> { return this.inner.failures(limit) }
  runs(limit: number): Promise<RunRow[]> { return this.inner.runs(limit) }
  samples(runId: number): Promise<Sample[]> { return this.inner.samples(runId) }
  flush(): Promise<void> { return this.inner.flush() }
  recordSample(runId: number, sample: Sample): void { this.inner.recordSample(runId, sample) }
  beginRun(source: string, destination: string): Promise<number> { return this.inner.beginRun(source, destination) }
  endRun(id: number, status: string, totals: RunTotals): Promise<void> { return this.inner.endRun(id, status, totals) }
  close(): Promise<void> { return this.inner.close() }
}

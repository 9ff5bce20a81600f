import { randomBytes } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import type { PlaneLog } from '../../data/data-plane.js'
import { errorMessage, FatalError, UsageError } from '../../errors.js'
import type { TransferOptions } from '../../options.js'
import { callOnce } from '../../providers/provider.js'
import { openProvider } from '../../providers/registry.js'
import type { S3Location } from '../../providers/s3/kind.js'
import type { S3Provider } from '../../providers/s3/s3-provider.js'
import { syntheticKind } from '../../providers/synthetic/kind.js'
import { SyntheticProvider } from '../../providers/synthetic/synthetic-provider.js'
import type { BenchRow } from './bench-lines.js'
import type { BenchSettings } from './bench-settings.js'
import { fillPass, nullSink, startedPlane } from './fill-pass.js'
import { measured, runLanes } from './lanes.js'
import { RangeCursor, type RangeRequest } from './ranges.js'
import { syntheticUri } from './plane-bench.js'
import { sentKey, uploadPass } from './upload-pass.js'

/** Deletes at once while the bench cleans up. */
const deleteConcurrency = 16

/** What a bench against a store tells as it goes, besides its rows. */
export interface StoreBenchLog extends PlaneLog {
  info(message: string): void
}

/**
 * A store's link without a disk: under a prefix of its own (`<prefix>/soaker-bench-<random>/`),
 * for each concurrency the bench uploads `count` synthetic objects (PUT, or multipart above
 * `partSize`, with Content-MD5 where verifying), then, for each thread count, reads them all back
 * through the data plane into /dev/null (MD5 in stream, checked against what was sent). It then
 * deletes every key it wrote, also after a failure or an interrupt, and nothing else: a prefix that
 * holds objects already is refused unless `force`, and even then the bench's keys are new ones.
 */
export async function benchStore(target: S3Location, options: TransferOptions, s: BenchSettings, emit: (row: BenchRow) => void,
  signal: AbortSignal, log: StoreBenchLog, onPrefix: (uri: string) => void): Promise<void> {
  const store = await openProvider(target, { options, env: process.env, retry: callOnce })
  const written = new Set<string>()
  const openUploads = new Map<string, string>()
  let prefix: string | undefined
  let failure: { err: unknown } | undefined
  try {
    await store.check(signal)
    const base = target.key === '' || target.key.endsWith('/') ? target.key : `${target.key}/`
    await refuseNonEmpty(store, target, base, s.force, signal)
    prefix = `${base}soaker-bench-${randomBytes(4).toString('hex')}/`
    onPrefix(`s3://${target.bucket}/${prefix}`)
    if (await firstKey(store, prefix, signal) !== undefined) throw new FatalError(`s3://${target.bucket}/${prefix} holds objects already: run the bench again`)
    const synthetic = new SyntheticProvider(syntheticKind.parse(syntheticUri(s)))
    const keyOf = (n: number): string => `${prefix!}${synthetic.keyOf(n)}`
    const sent = new Map<string, string>() // sentKey → MD5 of the range sent
    const fd = openSync(nullSink, 'w')
    try {
      for (const concurrency of s.concurrency) {
        const up = await measured(() => uploadPass({ store, synthetic, keyOf, settings: s, written, openUploads, sent }, concurrency, signal))
        emit({ direction: 'upload', threads: 0, concurrency, objects: s.count, bytes: up.result, ...up.cost })
        for (const threads of s.threads) {
          const plane = await startedPlane(threads, log)
          try {
            const source = plane.source({ location: target, options }, store)
            const expected = s.verify ? (r: RangeRequest) => sent.get(sentKey(r)) : undefined
            const cursor = new RangeCursor(s.count, s.size, s.partSize, (started) => started < s.count)
            const down = await measured(() => fillPass({ plane, source, keyOf, md5: s.verify, expected, fd }, cursor, concurrency, signal))
            emit({ direction: 'download', threads, concurrency, objects: cursor.objects, bytes: down.result, ...down.cost })
          } finally {
            await plane.close()
          }
        }
      }
    } finally {
      closeSync(fd)
    }
  } catch (err) {
    failure = { err }
    throw err
  } finally {
    try {
      if (prefix !== undefined) await cleanUp(store, target.bucket, prefix, written, openUploads, log)
    } catch (err) {
      if (failure === undefined) throw err
      log.warn(errorMessage(err)) // the failure that stopped the bench is the one to report
    } finally {
      store.close()
    }
  }
}

/** Refuses a prefix that holds objects (unless `force`): a bench is no place to mix with a user's data. */
async function refuseNonEmpty(store: S3Provider, target: S3Location, base: string, force: boolean, signal: AbortSignal): Promise<void> {
  const first = await firstKey(store, base, signal)
  if (first === undefined || force) return
  throw new UsageError(`Expected an empty prefix for the bench's objects, got \`s3://${target.bucket}/${base}\`, which holds \`${first}\` and maybe more: ` +
    `pick another prefix, or pass --force to write beside them (the bench writes and deletes only keys of its own, under ${base}soaker-bench-<random>/)`)
}

async function firstKey(store: S3Provider, prefix: string, signal: AbortSignal): Promise<string | undefined> {
  for await (const o of store.list(prefix, signal)) return o.key
  return undefined
}

/**
 * Aborts the multipart uploads left open and deletes every key the bench wrote, whatever stopped
 * it (with a signal of its own: an interrupt stops the bench, not its cleaning up). Throws when
 * anything of the bench's is left on the store, naming where.
 */
async function cleanUp(store: S3Provider, bucket: string, prefix: string, written: Set<string>, openUploads: Map<string, string>, log: StoreBenchLog): Promise<void> {
  const signal = AbortSignal.timeout(5 * 60_000)
  const failures: string[] = []
  for (const [key, uploadId] of openUploads) await store.multipart.abort(key, uploadId, signal).catch((err: unknown) => failures.push(`${key} (upload ${uploadId}): ${errorMessage(err)}`))
  const keys = [...written]
  let i = 0
  await runLanes(deleteConcurrency, () => keys[i++], async (key, laneSignal) => {
    await store.delete(key, laneSignal).catch((err: unknown) => failures.push(`${key}: ${errorMessage(err)}`))
  }, signal)
  const left = await firstKey(store, prefix, signal).catch(() => undefined)
  if (failures.length > 0 || (left !== undefined && written.has(left))) {
    throw new FatalError(`Could not delete all the bench's objects under s3://${bucket}/${prefix}: ${failures.slice(0, 3).join('; ') || `${left} is still there`}`)
  }
  log.info(`deleted the ${written.size} objects the bench wrote under s3://${bucket}/${prefix}`)
}

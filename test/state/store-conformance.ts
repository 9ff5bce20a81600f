import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import type { ObjectInfo } from '../../src/providers/provider.js'
import type { RunRow, StateStore } from '../../src/state/store.js'

/** A store under test: the contract, and the most recent run (as `soaker status` asks for it). */
export type ContractStore = StateStore & { lastRun(): Promise<RunRow | undefined> }

const big: ObjectInfo = { key: 'data/big.bin', size: 100 * 1024 * 1024, etag: 'e2fc714c4727ee9395f324cd2e7f331f-13', lastModified: new Date('2024-05-01T12:34:56Z') }
const small: ObjectInfo = { key: 'data/small.txt', size: 5, etag: '5d41402abc4b2a76b9719d911017c592' }

/**
 * The StateStore contract, which every store passes: `open` gives a fresh, empty job each time
 * (a new file, a new job in a shared database), closed after each test.
 */
export function storeContract(name: string, open: () => Promise<ContractStore>): void {
  describe(name, () => {
    let store: ContractStore
    beforeEach(async () => {
      store = await open()
    })
    afterEach(async () => {
      await store.close()
    })

    describe('the contract', () => {
      test('putObject then getObject gives the row back', async () => {
        store.putObject(big, 'pending')
        store.putObject(small, 'skipped', 'already there')
        expect(await store.getObject(big.key)).toEqual({
          key: big.key, size: big.size, etag: big.etag, lastModified: Date.parse('2024-05-01T12:34:56Z'),
          status: 'pending', reason: null, errorCode: null, partSize: null, uploadId: null, fileMtime: null,
        })
        expect(await store.getObject(small.key)).toEqual({
          key: small.key, size: 5, etag: small.etag, lastModified: null,
          status: 'skipped', reason: 'already there', errorCode: null, partSize: null, uploadId: null, fileMtime: null,
        })
      })

      test('getObject of an unknown key is undefined', async () => {
        expect(await store.getObject('nope')).toBeUndefined()
      })

      test('keeps keys exactly: non-ASCII, spaces, and keys that differ only in case', async () => {
        const keys = ['été/データ.csv', 'a b/c', 'Case', 'case']
        keys.forEach((key, i) => store.putObject({ key, size: i }, 'pending'))
        for (const [i, key] of keys.entries()) expect((await store.getObject(key))?.size).toBe(i)
      })

      test('putObject of a new version replaces the row and clears its parts and part size', async () => {
        store.putObject(big, 'pending')
        store.setUpload(big.key, 'upload-1', 8 * 1024 * 1024)
        store.recordPart(big.key, 0, 'aa'.repeat(16))
        store.recordPart(big.key, 1, null)
        store.setStatus(big.key, 'failed', 'boom', 'SOAKER_X')
        store.putObject({ ...big, etag: '0cc175b9c0f1b6a831c399e269772661-13', size: big.size + 1 }, 'pending')
        expect((await store.doneParts(big.key)).size).toBe(0)
        expect(await store.getObject(big.key)).toMatchObject({
          etag: '0cc175b9c0f1b6a831c399e269772661-13', size: big.size + 1, status: 'pending', reason: null, errorCode: null, partSize: null,
        })
      })

      test('putObject clears only the parts of its own key', async () => {
        store.putObject(big, 'pending')
        store.putObject(small, 'pending')
        store.recordPart(big.key, 0, null)
        store.recordPart(small.key, 0, null)
        store.putObject(big, 'pending')
        expect((await store.doneParts(big.key)).size).toBe(0)
        expect([...(await store.doneParts(small.key)).keys()]).toEqual([0])
      })

      test('recordPart and doneParts: index to MD5, null where none was computed, replaced when recorded again', async () => {
        store.putObject(big, 'pending')
        store.recordPart(big.key, 2, 'bb'.repeat(16))
        store.recordPart(big.key, 0, 'aa'.repeat(16))
        store.recordPart(big.key, 5, null)
        store.recordPart(big.key, 2, 'cc'.repeat(16))
        expect(await store.doneParts(big.key)).toEqual(new Map<number, string | null>([[0, 'aa'.repeat(16)], [2, 'cc'.repeat(16)], [5, null]]))
        expect((await store.doneParts('other')).size).toBe(0)
      })

      test('clearParts drops every part of the key', async () => {
        store.putObject(big, 'pending')
        store.recordPart(big.key, 0, null)
        store.recordPart(big.key, 1, null)
        store.clearParts(big.key)
        expect((await store.doneParts(big.key)).size).toBe(0)
      })

      test('setUpload with a different part size clears the parts', async () => {
        store.putObject(big, 'pending')
        store.setUpload(big.key, 'upload-1', 8 * 1024 * 1024)
        store.recordPart(big.key, 0, null)
        store.recordPart(big.key, 1, null)
        store.setUpload(big.key, 'upload-1', 16 * 1024 * 1024)
        expect((await store.getObject(big.key))?.partSize).toBe(16 * 1024 * 1024)
        expect((await store.doneParts(big.key)).size).toBe(0)
      })

      test('setUpload with the same upload and part size keeps the parts', async () => {
        store.putObject(big, 'pending')
        store.setUpload(big.key, 'upload-1', 8 * 1024 * 1024)
        store.recordPart(big.key, 0, 'aa'.repeat(16))
        store.recordPart(big.key, 1, null)
        store.setUpload(big.key, 'upload-1', 8 * 1024 * 1024)
        expect((await store.getObject(big.key))?.partSize).toBe(8 * 1024 * 1024)
        expect(await store.doneParts(big.key)).toEqual(new Map<number, string | null>([[0, 'aa'.repeat(16)], [1, null]]))
      })

      test('setUpload on a row without an upload or part size drops parts recorded without them', async () => {
        store.putObject(big, 'pending')
        store.recordPart(big.key, 0, null)
        store.setUpload(big.key, 'upload-1', 8 * 1024 * 1024)
        expect((await store.doneParts(big.key)).size).toBe(0)
      })

      test('setStatus records the status, reason and error code, and clears them when not given', async () => {
        store.putObject(small, 'pending')
        store.setStatus(small.key, 'failed', 'HTTP 403', 'AccessDenied')
        expect(await store.getObject(small.key)).toMatchObject({ status: 'failed', reason: 'HTTP 403', errorCode: 'AccessDenied' })
        store.setStatus(small.key, 'done')
        expect(await store.getObject(small.key)).toMatchObject({ status: 'done', reason: null, errorCode: null })
      })

      test('counts gives objects and bytes by status, with zeros for absent statuses', async () => {
        expect(await store.counts()).toEqual({
          pending: { objects: 0, bytes: 0 }, done: { objects: 0, bytes: 0 }, skipped: { objects: 0, bytes: 0 }, failed: { objects: 0, bytes: 0 },
        })
        store.putObject({ key: 'a', size: 10 }, 'pending')
        store.putObject({ key: 'b', size: 20 }, 'pending')
        store.putObject({ key: 'c', size: 30 }, 'done')
        store.putObject({ key: 'd', size: 40 }, 'failed')
        store.putObject({ key: 'e', size: 0 }, 'skipped')
        store.setStatus('b', 'done')
        expect(await store.counts()).toEqual({
          pending: { objects: 1, bytes: 10 },
          done: { objects: 2, bytes: 50 },
          skipped: { objects: 1, bytes: 0 },
          failed: { objects: 1, bytes: 40 },
        })
      })

      test('failures lists failed objects in key order with their code and reason, up to the limit', async () => {
        for (const key of ['z', 'b', 'm', 'a']) {
          store.putObject({ key, size: 1 }, 'pending')
          store.setStatus(key, 'failed', `reason ${key}`, `CODE_${key}`)
        }
        store.putObject({ key: 'ok', size: 1 }, 'done')
        expect(await store.failures(10)).toEqual([
          { key: 'a', errorCode: 'CODE_a', reason: 'reason a' },
          { key: 'b', errorCode: 'CODE_b', reason: 'reason b' },
          { key: 'm', errorCode: 'CODE_m', reason: 'reason m' },
          { key: 'z', errorCode: 'CODE_z', reason: 'reason z' },
        ])
        expect((await store.failures(2)).map((f) => f.key)).toEqual(['a', 'b'])
      })

      test('firstKeyUnder gives the first key with the prefix in byte order, leaving out rows failed with the given codes', async () => {
        for (const key of ['a', 'a-x', 'a.b', 'a0', 'a/z', 'a/b', 'ab/c']) store.putObject({ key, size: 1 }, 'pending')
        expect(await store.firstKeyUnder('a/', [])).toBe('a/b')
        store.setStatus('a/b', 'failed', 'refused', 'SOAKER_UNSAFE_KEY')
        expect(await store.firstKeyUnder('a/', ['SOAKER_UNSAFE_KEY'])).toBe('a/z')
        expect(await store.firstKeyUnder('a/', ['SOAKER_OTHER'])).toBe('a/b')
        store.setStatus('a/z', 'failed', 'network', 'InternalError')
        expect(await store.firstKeyUnder('a/', ['SOAKER_UNSAFE_KEY'])).toBe('a/z') // failed for another reason: still a key
        expect(await store.firstKeyUnder('ab/', [])).toBe('ab/c')
        expect(await store.firstKeyUnder('a-x/', [])).toBeUndefined()
        expect(await store.firstKeyUnder('b/', [])).toBeUndefined()
      })

      test('beginRun, endRun and lastRun record runs, the latest last', async () => {
        expect(await store.lastRun()).toBeUndefined()
        const before = Date.now()
        const first = await store.beginRun('s3://bucket/a', '/data/a')
        await store.endRun(first, 'ok', { copied: 5, failed: 1, transferred: 1234 })
        expect(await store.lastRun()).toMatchObject({ id: first, status: 'ok', copied: 5, failed: 1, transferred: 1234, peakBytesPerSecond: null })
        const second = await store.beginRun('s3://bucket/b', '/data/b')
        expect(second).toBeGreaterThan(first)
        const running = await store.lastRun()
        expect(running).toMatchObject({ id: second, status: 'running', endedAt: null, source: 's3://bucket/b', destination: '/data/b' })
        expect(running!.startedAt).toBeGreaterThanOrEqual(before)
        expect(running!.startedAt).toBeLessThanOrEqual(Date.now())
        store.recordSample(second, { at: Date.now(), target: 16, inFlight: 16, bytesPerSecond: 5e6, throttles: 0, errors: 0 })
        store.recordSample(second, { at: Date.now(), target: 32, inFlight: 30, bytesPerSecond: 9e6, throttles: 1, errors: 2 })
        await store.endRun(second, 'interrupted', { copied: 0, failed: 0, transferred: 0 })
        expect((await store.runs(5)).map((r) => r.id)).toEqual([second, first])
        expect((await store.lastRun())!.peakBytesPerSecond).toBe(9e6)
        const ended = await store.lastRun()
        expect(ended).toMatchObject({ id: second, status: 'interrupted' })
        expect(ended!.endedAt).toBeGreaterThanOrEqual(ended!.startedAt)
      })

      test('a check verdict is found again only for the same versions of both sides', async () => {
        store.recordCheck('a/b.txt', '10:e1:1000', '10::2000', { same: true, sizeOnly: false, detail: 'MD5 matches' })
        expect(await store.checked('a/b.txt', '10:e1:1000', '10::2000')).toEqual({ same: true, sizeOnly: false, detail: 'MD5 matches' })
        expect(await store.checked('a/b.txt', '10:e2:1000', '10::2000')).toBeUndefined()
        expect(await store.checked('a/b.txt', '10:e1:1000', '10::2001')).toBeUndefined()
        store.recordCheck('a/b.txt', '10:e2:1000', '10::2000', { same: false, sizeOnly: false, detail: 'MD5 differs' })
        expect((await store.checked('a/b.txt', '10:e2:1000', '10::2000'))?.same).toBe(false)
      })

      test('samples(run) gives back a run\'s samples in order, with the sources busy at once (1 where not told)', async () => {
        const run = await store.beginRun('s3://a s3://b', '/data')
        store.recordSample(run, { at: 1, target: 16, inFlight: 12, bytesPerSecond: 5e6, throttles: 0, errors: 0 })
        store.recordSample(run, { at: 2, target: 32, inFlight: 30, bytesPerSecond: 9e6, throttles: 1, errors: 2, sources: 3 })
        expect(await store.samples(run)).toEqual([
          { at: 1, target: 16, inFlight: 12, bytesPerSecond: 5e6, throttles: 0, errors: 0, sources: 1 },
          { at: 2, target: 32, inFlight: 30, bytesPerSecond: 9e6, throttles: 1, errors: 2, sources: 3 },
        ])
        expect(await store.samples(run + 1)).toEqual([])
      })

      test('objects lists every row in key order, page by page, whatever its status', async () => {
        for (const [key, status] of [['c', 'done'], ['a', 'pending'], ['b', 'failed']] as const) store.putObject({ key, size: 1 }, status)
        expect((await store.objects('', 2)).map((r) => [r.key, r.status])).toEqual([['a', 'pending'], ['b', 'failed']])
        expect((await store.objects('b', 2)).map((r) => [r.key, r.status])).toEqual([['c', 'done']])
      })

      test('close can be called twice', async () => {
        await store.close()
        await store.close()
        await expect(store.getObject('x')).rejects.toThrow()
      })
    })

    describe('what uploads need', () => {
      const rows = [
        { key: 'c', size: 30 }, { key: 'a', size: 10 }, { key: 'b', size: 20 }, { key: 'd', size: 20 }, { key: 'e', size: 5 },
      ]
      /** Claims batches of `limit` until none is left. */
      const scan = async (order: 'size-asc' | 'size-desc' | 'path', limit: number): Promise<string[]> => {
        const out: string[] = []
        for (;;) {
          const batch = await store.claim(limit, order)
          out.push(...batch.map((r) => r.key))
          if (batch.length < limit) return out
        }
      }

      test.each([
        ['size-asc', ['e', 'a', 'b', 'd', 'c']],
        ['size-desc', ['c', 'b', 'd', 'a', 'e']],
        ['path', ['a', 'b', 'c', 'd', 'e']],
      ] as const)('claim in %s order, batch after batch, each pending row once (ties by key)', async (order, expected) => {
        for (const r of rows) store.putObject(r, 'pending')
        store.putObject({ key: 'done-one', size: 1 }, 'done')
        expect(await scan(order, 2)).toEqual(expected)
        for (const r of rows) store.setStatus(r.key, 'pending')
        expect(await scan(order, 100)).toEqual(expected)
      })

      test('a claimed row comes back only once released, set pending again or replaced', async () => {
        for (const r of rows) store.putObject(r, 'pending')
        expect((await store.claim(10, 'path')).map((r) => r.key)).toEqual(['a', 'b', 'c', 'd', 'e'])
        expect(await store.claim(10, 'path')).toEqual([])
        store.release('b')
        store.setStatus('d', 'pending')
        store.putObject({ key: 'e', size: 6 }, 'pending')
        store.setStatus('a', 'done')
        store.release('a') // done: not pending work any more
        expect((await store.claim(10, 'path')).map((r) => [r.key, r.size])).toEqual([['b', 20], ['d', 20], ['e', 6]])
      })

      test('a new run claims only what it planned: pending rows of earlier runs wait until planned again', async () => {
        for (const r of rows) store.putObject(r, 'pending')
        expect(await store.claim(2, 'path')).toHaveLength(2)
        await store.beginRun('s3://b', '/d')
        expect(await store.claim(10, 'path')).toEqual([])
        store.setStatus('c', 'pending')
        store.putObject({ key: 'a', size: 10 }, 'pending')
        expect((await store.claim(10, 'size-asc')).map((r) => r.key)).toEqual(['a', 'c'])
        expect((await store.counts()).pending.objects).toBe(5)
      })

      test('claim under a prefix takes only the keys that start with it, in every order', async () => {
        for (const key of ['s3://a/x', 's3://a/y', 's3://ab/x', 's3://b/x']) store.putObject({ key, size: key.length }, 'pending')
        expect((await store.claim(10, 'path', 's3://a/')).map((r) => r.key)).toEqual(['s3://a/x', 's3://a/y'])
        expect((await store.claim(10, 'size-desc', 's3://ab/')).map((r) => r.key)).toEqual(['s3://ab/x'])
        expect((await store.claim(10, 'size-asc')).map((r) => r.key)).toEqual(['s3://b/x'])
      })

      test('setUpload records the upload id and part size; a new id drops the parts of the old one', async () => {
        store.putObject(big, 'pending')
        store.setUpload(big.key, 'up-1', 8 << 20)
        store.recordPart(big.key, 0, 'etag0')
        store.setUpload(big.key, 'up-1', 8 << 20)
        expect(await store.doneParts(big.key)).toEqual(new Map([[0, 'etag0']]))
        expect(await store.openUploads()).toEqual([{ key: big.key, uploadId: 'up-1' }])
        store.setUpload(big.key, 'up-2', 8 << 20)
        expect((await store.doneParts(big.key)).size).toBe(0)
        expect(await store.getObject(big.key)).toMatchObject({ uploadId: 'up-2', partSize: 8 << 20 })
        store.setUpload(big.key, null, null)
        expect(await store.openUploads()).toEqual([])
        // A new version of the file forgets the upload too.
        store.setUpload(big.key, 'up-3', 8 << 20)
        store.putObject({ ...big, size: big.size + 1 }, 'pending')
        expect((await store.getObject(big.key))?.uploadId).toBeNull()
      })

      test('putObject records the error code of a failed row in the same write; a later put clears it', async () => {
        store.putObject(small, 'failed', 'cannot read', 'SOAKER_LOCAL_READ')
        expect(await store.getObject(small.key)).toMatchObject({ status: 'failed', reason: 'cannot read', errorCode: 'SOAKER_LOCAL_READ' })
        store.putObject(small, 'pending')
        expect(await store.getObject(small.key)).toMatchObject({ status: 'pending', reason: null, errorCode: null })
      })

      test('the remote listing is kept per run, and a download keeps the mtime it gave a file', async () => {
        store.putRemote({ key: 'x', size: 3, etag: 'abc' })
        expect(await store.getRemote('x')).toEqual({ size: 3, etag: 'abc' })
        expect(await store.getRemote('y')).toBeUndefined()
        store.clearRemote()
        expect(await store.getRemote('x')).toBeUndefined()
        store.putObject(small, 'done')
        store.setFileMtime(small.key, 1_577_934_245_123)
        expect((await store.getObject(small.key))?.fileMtime).toBe(1_577_934_245_123)
      })
    })
  })
}

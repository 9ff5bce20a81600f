import { createHash } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { buffer } from 'node:stream/consumers'
import { afterAll, describe, expect, test } from 'vitest'
import { fillPass, nullSink, type FillPass } from '../../../src/cli/bench/fill-pass.js'
import { RangeCursor } from '../../../src/cli/bench/ranges.js'
import { DataPlane } from '../../../src/data/data-plane.js'
import { ChecksumMismatchError } from '../../../src/errors.js'
import { transferOptions } from '../../../src/options.js'
import { syntheticKind } from '../../../src/providers/synthetic/kind.js'
import { SyntheticProvider } from '../../../src/providers/synthetic/synthetic-provider.js'

const MiB = 1024 * 1024
const location = syntheticKind.parse('synthetic://3x3MiB')
const provider = new SyntheticProvider(location)
const plane = new DataPlane(0)
const fd = openSync(nullSink, 'w')
afterAll(async () => {
  closeSync(fd)
  await plane.close()
})
const pass = (more: Partial<FillPass> = {}): FillPass => ({
  plane, source: plane.source({ location, options: transferOptions() }, provider), keyOf: (n) => provider.keyOf(n), md5: true, fd, ...more,
})
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')

describe('fillPass', () => {
  test('reads every range the cursor hands out into /dev/null and counts its bytes', async () => {
    const cursor = new RangeCursor(3, 3 * MiB, MiB, (started) => started < 4)
    expect(await fillPass(pass(), cursor, 3, new AbortController().signal)).toBe(4 * 3 * MiB)
    expect(cursor.objects).toBe(4)
  })

  test('a range whose MD5 is not the one expected fails the pass as a checksum mismatch', async () => {
    const whole = await buffer((await provider.read('obj-000001', { signal: new AbortController().signal })).body)
    const right = new RangeCursor(3, 3 * MiB, 3 * MiB, (started) => started < 2)
    const expected = (r: { n: number }) => (r.n === 1 ? md5(whole) : undefined)
    await fillPass(pass({ expected }), right, 2, new AbortController().signal)
    const wrong = new RangeCursor(3, 3 * MiB, 3 * MiB, (started) => started < 2)
    const err = await fillPass(pass({ expected: () => md5(Buffer.from('other')) }), wrong, 2, new AbortController().signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChecksumMismatchError)
    expect((err as Error).message).toMatch(/^obj-00000[01]: bytes 0-3145727 arrived with MD5 [0-9a-f]{32}, [0-9a-f]{32} were sent$/)
  })
})

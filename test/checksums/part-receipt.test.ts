import { describe, expect, test } from 'vitest'
import { crcOfReceipt, crcReceipt } from '../../src/checksums/part-receipt.js'

describe('part receipts', () => {
  test.each([
    [{ algorithm: 'crc64nvme', hex: 'ae8b14860a799888' }, 'crc64nvme:ae8b14860a799888'],
    [{ algorithm: 'crc32c', hex: 'e3069283' }, 'crc32c:e3069283'],
    [{ algorithm: 'crc32', hex: 'cbf43926' }, 'crc32:cbf43926'],
  ] as const)('the receipt of %o is %s, which names it again', (crc, receipt) => {
    expect(crcReceipt(crc)).toBe(receipt)
    expect(crcOfReceipt(receipt)).toEqual(crc)
  })

  test.each([
    ['an MD5', '0cc175b9c0f1b6a831c399e269772661'],
    ['a part taken without a digest', 'unhashed'],
    ['a CRC32C of 8 bytes', 'crc32c:ae8b14860a799888'],
    ['a CRC64NVME of 4 bytes', 'crc64nvme:e3069283'],
    ['upper-case hex', 'crc32c:E3069283'],
    ['an unknown algorithm', 'sha256:e3069283'],
    ['nothing', null],
  ])('%s names no CRC', (_name, receipt) => {
    expect(crcOfReceipt(receipt)).toBeUndefined()
  })

  test('a digest of the wrong size makes no receipt', () => {
    expect(() => crcReceipt({ algorithm: 'crc64nvme', hex: 'e3069283' })).toThrow('Expected a crc64nvme digest of 16 hex digits, got `e3069283`')
  })
})

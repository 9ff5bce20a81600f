import { describe, expect, test } from 'vitest'
import { verifyOffersSize } from '../../bench/ceiling/verify-option.js'

const help = (verify: string): string => `Options:
  --dry-run                      list what would be copied and skipped, and
                                 transfer nothing (default: false) [env:
                                 SOAKER_DRY_RUN]
${verify}
  --order <order>                uploads: which files go first, size-asc,
                                 size-desc or path (default: size-asc)

Examples:
  soaker cp s3://a/big.iso ./dir   one object, whatever its size`

describe('verifyOffersSize', () => {
  test('the --verify <bool> of today does not offer size, though the options around it name sizes', () => {
    const today = `  --verify <bool>                check each object's MD5 (ETag) after download
                                 where the store gives one (default: true) [env:
                                 SOAKER_VERIFY]`
    expect(verifyOffersSize(help(today))).toBe(false)
  })

  test.each([
    ['in the description', `  --verify <mode>                md5: each object's MD5; size: its length only;
                                 false: nothing (default: md5)`],
    ['on a later line of the description', `  --verify <mode>                what to check after download: md5 (ETag) or
                                 size, or false (default: md5)`],
    ['in the placeholder', '  --verify <md5|size|false>      what to check after download'],
  ])('a --verify that names size %s offers it', (_, verify) => {
    expect(verifyOffersSize(help(verify))).toBe(true)
  })

  test('no --verify at all, or only a --verify-something option, offers nothing', () => {
    expect(verifyOffersSize(help(''))).toBe(false)
    expect(verifyOffersSize(help('  --verify-size <bool>           check sizes'))).toBe(false)
  })
})

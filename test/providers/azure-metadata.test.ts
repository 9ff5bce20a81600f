import { describe, expect, test } from 'vitest'
import { fromAzureMetadata, toAzureMetadata } from '../../src/providers/azure/metadata.js'

describe('Azure metadata names', () => {
  test('identifiers are kept as they are; other names are spelled as identifiers', () => {
    const stored = toAzureMetadata({ mtime: '1700000000.5', mode: '33188', Content_Id: 'x', 'content-id': 'abc', 'a.b': '1', '9lives': '2', 'été': '3' })!
    expect(stored).toMatchObject({ mtime: '1700000000.5', mode: '33188', Content_Id: 'x' })
    for (const name of Object.keys(stored)) expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/)
    expect(Object.keys(stored)).toHaveLength(7)
  })

  test('what Azure gives back reads as the names given, in lower case as Azure compares them', () => {
    const given = { mtime: '1', 'content-id': 'abc', 'a.b': '1', '9lives': '2', 'été': '3', 'x-amz-thing': '4' }
    // Azure answers with the names as stored; the SDK may hand them back in any case.
    const back = Object.fromEntries(Object.entries(toAzureMetadata(given)!).map(([k, v]) => [k.toUpperCase(), v]))
    expect(fromAzureMetadata(back)).toEqual(given)
  })

  test('a name that already looks like a spelled one round-trips too', () => {
    const given = { soakerhex_6162: 'not a spelling', other: 'v' }
    expect(fromAzureMetadata(toAzureMetadata(given))).toEqual(given)
  })

  test('no metadata stays none', () => {
    expect(toAzureMetadata(undefined)).toBeUndefined()
    expect(fromAzureMetadata(undefined)).toBeUndefined()
  })
})

import { describe, expect, test } from 'vitest'
import { UsageError } from '../../src/errors.js'
import { parseAzureUri } from '../../src/providers/azure/uri.js'
import { thrown } from '../support/thrown.js'

describe('parseAzureUri', () => {
  test.each<[string, { container: string; key: string }]>([
    ['az://data', { container: 'data', key: '' }],
    ['az://data/', { container: 'data', key: '' }],
    ['az://data/models/v1/', { container: 'data', key: 'models/v1/' }],
    ['az://my-container-1/a//b', { container: 'my-container-1', key: 'a//b' }],
    ['az://abc/été/データ', { container: 'abc', key: 'été/データ' }],
    ['AZ://abc/Key', { container: 'abc', key: 'Key' }],
    [`az://${'c'.repeat(63)}/k`, { container: 'c'.repeat(63), key: 'k' }],
    ['az://$web/index.html', { container: '$web', key: 'index.html' }],
  ])('%s names a container and a key', (raw, expected) => {
    expect(parseAzureUri(raw)).toEqual(expected)
  })

  test.each([
    ['s3://bucket/x', /^Expected an Azure URI like az:\/\/container\/prefix, got `s3:\/\/bucket\/x`$/],
    ['az:/data', /^Expected an Azure URI like az:\/\/container\/prefix, got `az:\/data`$/],
    ['az://', /container name of 3-63 .*got `az:\/\/`$/],
    ['az://ab/x', /container name of 3-63 .*got `az:\/\/ab\/x`$/],
    [`az://${'c'.repeat(64)}`, /container name of 3-63 /],
    ['az://Data/x', /container name of 3-63 .*got `az:\/\/Data\/x`$/],
    ['az://my--data', /single hyphens/],
    ['az://-data', /container name/],
    ['az://data-', /container name/],
    ['az://my_data', /container name/],
  ])('%s is refused', (raw, message) => {
    expect(thrown(() => parseAzureUri(raw), UsageError).message).toMatch(message)
  })
})

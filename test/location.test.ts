import { describe, expect, test } from 'vitest'
import { UsageError } from '../src/errors.js'
import { parseLocation, type Location } from '../src/location.js'
import { thrown } from './support/thrown.js'

describe('parseLocation', () => {
  test.each<[string, Location]>([
    ['s3://bucket', { kind: 's3', bucket: 'bucket', key: '', uri: 's3://bucket' }],
    ['s3://bucket/', { kind: 's3', bucket: 'bucket', key: '', uri: 's3://bucket/' }],
    ['s3://bucket/a/b', { kind: 's3', bucket: 'bucket', key: 'a/b', uri: 's3://bucket/a/b' }],
    ['s3://bucket/prefix/', { kind: 's3', bucket: 'bucket', key: 'prefix/', uri: 's3://bucket/prefix/' }],
    ['s3://my.bucket-1_x/k', { kind: 's3', bucket: 'my.bucket-1_x', key: 'k', uri: 's3://my.bucket-1_x/k' }],
    ['S3://Bucket/Key', { kind: 's3', bucket: 'Bucket', key: 'Key', uri: 'S3://Bucket/Key' }],
    ['s3://abc/a//b/../c', { kind: 's3', bucket: 'abc', key: 'a//b/../c', uri: 's3://abc/a//b/../c' }],
    ['s3://abc/été/データ', { kind: 's3', bucket: 'abc', key: 'été/データ', uri: 's3://abc/été/データ' }],
    [`s3://${'b'.repeat(255)}/k`, { kind: 's3', bucket: 'b'.repeat(255), key: 'k', uri: `s3://${'b'.repeat(255)}/k` }],
  ])('%s is an S3 location', (raw, expected) => {
    expect(parseLocation(raw)).toEqual(expected)
  })

  test.each<[string, Location]>([
    ['gs://my-bucket', { kind: 'gs', bucket: 'my-bucket', key: '', uri: 'gs://my-bucket' }],
    ['gs://my.bucket_1/a/b/', { kind: 'gs', bucket: 'my.bucket_1', key: 'a/b/', uri: 'gs://my.bucket_1/a/b/' }],
    ['hf://gpt2-org/gpt2', { kind: 'hf', bucket: 'gpt2-org/gpt2', repo: { type: 'model', id: 'gpt2-org/gpt2' }, key: '', uri: 'hf://gpt2-org/gpt2' }],
    ['hf://models/o/m/onnx/model.onnx', { kind: 'hf', bucket: 'o/m', repo: { type: 'model', id: 'o/m' }, key: 'onnx/model.onnx', uri: 'hf://models/o/m/onnx/model.onnx' }],
    ['hf://datasets/o/d.v2/train/', { kind: 'hf', bucket: 'o/d.v2', repo: { type: 'dataset', id: 'o/d.v2' }, key: 'train/', uri: 'hf://datasets/o/d.v2/train/' }],
    ['hf://spaces/o/app', { kind: 'hf', bucket: 'o/app', repo: { type: 'space', id: 'o/app' }, key: '', uri: 'hf://spaces/o/app' }],
    ['hf://o/m@v1.0/config.json', { kind: 'hf', bucket: 'o/m', repo: { type: 'model', id: 'o/m', revision: 'v1.0' }, key: 'config.json', uri: 'hf://o/m@v1.0/config.json' }],
    ['hf://o/m@refs%2Fpr%2F3', { kind: 'hf', bucket: 'o/m', repo: { type: 'model', id: 'o/m', revision: 'refs/pr/3' }, key: '', uri: 'hf://o/m@refs%2Fpr%2F3' }],
  ])('%s is a Google Cloud Storage or Hugging Face location', (raw, expected) => {
    expect(parseLocation(raw)).toEqual(expected)
  })

  test.each(['./dir', '/abs', '/abs/path/', 'dir', 'dir/sub', '.', '..', 's3', './s3:/x', 'C:\\data', 'C:/data'])(
    '%s is a local path, kept as written', (raw) => {
      expect(parseLocation(raw)).toEqual({ kind: 'local', path: raw, uri: raw })
    })

  // Names that only start with the letters s3 are ordinary directories, not mistyped URIs.
  test.each(['s3-backup', 's3data', 's3_mirror/x'])('%s is a local path, not a mistyped S3 URI', (raw) => {
    expect(parseLocation(raw)).toEqual({ kind: 'local', path: raw, uri: raw })
  })

  test.each([
    ['s3://', /Expected an S3 URI like s3:\/\/bucket\/prefix.*got `s3:\/\/`$/],
    ['s3:///key', /Expected an S3 URI like s3:\/\/bucket\/prefix.*got `s3:\/\/\/key`$/],
    ['s3:/bucket', /^Expected an S3 URI like s3:\/\/bucket\/prefix, got `s3:\/bucket`$/],
    ['s3:bucket', /^Expected an S3 URI like s3:\/\/bucket\/prefix, got `s3:bucket`$/],
    ['s3//bucket', /^Expected an S3 URI like s3:\/\/bucket\/prefix, got `s3\/\/bucket`$/],
    ['s3://a', /bucket name of 3-255 .*got `s3:\/\/a`$/],
    ['s3://ab/x', /bucket name of 3-255 .*got `s3:\/\/ab\/x`$/],
    [`s3://${'b'.repeat(256)}`, /bucket name of 3-255 .*got `s3:\/\/b+`$/],
    ['s3://bad bucket/x', /bucket name of 3-255 .*got `s3:\/\/bad bucket\/x`$/],
    ['s3://-bucket/x', /got `s3:\/\/-bucket\/x`$/],
    ['ftp://x/y', /^Expected a location like s3:\/\/bucket\/prefix, az:\/\/container\/prefix, gs:\/\/bucket\/prefix, hf:\/\/owner\/repo or a local path, got `ftp:\/\/x\/y` \(scheme `ftp:` is not supported\)$/],
    ['gs://x/y', /^Expected a Google Cloud Storage URI like gs:\/\/bucket\/prefix with a bucket name of 3-63 .*got `gs:\/\/x\/y`$/],
    ['gs://My_Bucket/y', /got `gs:\/\/My_Bucket\/y`$/],
    ['gs:/bucket', /^Expected a Google Cloud Storage URI like gs:\/\/bucket\/prefix, got `gs:\/bucket`$/],
    ['hf://', /^Expected a Hugging Face URI like hf:\/\/owner\/repo.*got `hf:\/\/`$/],
    ['hf://gpt2', /^Expected a Hugging Face URI .*got `hf:\/\/gpt2`$/],
    ['hf://datasets/owner', /got `hf:\/\/datasets\/owner`$/],
    ['hf://owner/repo@/x', /got `hf:\/\/owner\/repo@\/x`$/],
    ['hf://own er/repo', /got `hf:\/\/own er\/repo`$/],
    ['https://example.com/x', /got `https:\/\/example.com\/x` \(scheme `https:` is not supported\)$/],
  ])('%s is rejected with a message naming it', (raw, message) => {
    const err = thrown(() => parseLocation(raw), UsageError)
    expect(err.message).toMatch(message)
    expect(err.code).toBe('SOAKER_USAGE')
  })

  test('an empty string is rejected, saying it was empty', () => {
    expect(thrown(() => parseLocation(''), UsageError).message)
      .toBe('Expected a location like s3://bucket/prefix, az://container/prefix, gs://bucket/prefix, hf://owner/repo or a local path, got an empty string')
  })

  test.each(['dir\0evil', 's3://bucket/a\0b'])('%j, with a NUL, is rejected with the input escaped', (raw) => {
    const err = thrown(() => parseLocation(raw), UsageError)
    expect(err.message).toBe(`Expected a location without NUL characters, got \`${JSON.stringify(raw)}\``)
    expect(err.message).not.toContain('\0')
  })
})

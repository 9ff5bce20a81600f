import { join } from 'node:path'
import { inspect } from 'node:util'
import { describe, expect, test } from 'vitest'
import { dir, load, revealed, secrets, secretsDir } from './fixtures/job-files.js'

const allFour = `download_root: /data
download_items:
  - type: s3
    name: weights
    endpoint_url_file: secrets/endpoint
    access_key_id_file: secrets/key
    secret_key_file: secrets/secret
    buckets:
      - name: my-bucket
        items:
          - folder: data
            target_path: local/data
            glob: "**/*.csv"
          - file: readme.txt
            target_path: local/readme.txt
  - type: gcs
    application_credentials_file: secrets/gcs.json
    project: my-project
    buckets:
      - name: gcs-bucket
        items:
          - folder: .
            target_path: gcs/all
  - type: azure-blob
    name: blobs
    connection_string_file: secrets/azure
    containers:
      - name: test
        items:
          - file: subdir/file02.txt
            target_path: azure/single.txt
          - folder: subdir/
            target_path: azure/sub
  - type: hf
    repo_id: TinyLlama/TinyLlama-1.1B-Chat-v1.0
    files: [README.md, config.json]
  - type: hf
    name: tokenizer
    repo_id: owner/data-set
    repo_type: dataset
    revision: v1.0
    token_file: secrets/hf
    target_path: datasets/tok
`

describe('loadJob: a valid file', () => {
  test('s3, gcs, azure-blob and hf items with secrets in files become plain items with absolute targets', async () => {
    const job = await load(allFour)
    expect(job.file).toMatch(/^job-\d+\.yaml$/)
    expect(job.downloadRoot).toBe('/data')
    const f = job.file
    const s3 = { type: 's3', endpointUrl: 'http://127.0.0.1:7480', accessKeyId: `revealed:${secrets.key}`, secretAccessKey: `revealed:${secrets.secret}` }
    const gcs = { type: 'gcs', credentialsFile: join(secretsDir, 'gcs.json'), project: 'my-project' }
    const azure = { type: 'azure-blob', connectionString: `revealed:${secrets.azure}` }
    const tiny = { type: 'hf', repo: { type: 'model', id: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0' } }
    const tok = { type: 'hf', repo: { type: 'dataset', id: 'owner/data-set', revision: 'v1.0' }, token: `revealed:${secrets.hf}` }
    expect(job.items.map(revealed)).toEqual([
      { label: `${f}:11 weights my-bucket/data`, line: 11, name: 'weights', provider: s3, bucket: 'my-bucket', key: 'data', mode: 'folder', glob: '**/*.csv', target: '/data/local/data' },
      { label: `${f}:14 weights my-bucket/readme.txt`, line: 14, name: 'weights', provider: s3, bucket: 'my-bucket', key: 'readme.txt', mode: 'file', target: '/data/local/readme.txt' },
      { label: `${f}:22 download_items[1] gcs-bucket`, line: 22, name: 'download_items[1]', provider: gcs, bucket: 'gcs-bucket', key: '', mode: 'folder', glob: '**/*', target: '/data/gcs/all' },
      { label: `${f}:30 blobs test/subdir/file02.txt`, line: 30, name: 'blobs', provider: azure, bucket: 'test', key: 'subdir/file02.txt', mode: 'file', target: '/data/azure/single.txt' },
      { label: `${f}:32 blobs test/subdir`, line: 32, name: 'blobs', provider: azure, bucket: 'test', key: 'subdir', mode: 'folder', glob: '**/*', target: '/data/azure/sub' },
      { label: `${f}:36 download_items[3] TinyLlama/TinyLlama-1.1B-Chat-v1.0/README.md`, line: 36, name: 'download_items[3]', provider: tiny, bucket: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', key: 'README.md', mode: 'file', target: '/data/TinyLlama/TinyLlama-1.1B-Chat-v1.0/README.md' },
      { label: `${f}:36 download_items[3] TinyLlama/TinyLlama-1.1B-Chat-v1.0/config.json`, line: 36, name: 'download_items[3]', provider: tiny, bucket: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', key: 'config.json', mode: 'file', target: '/data/TinyLlama/TinyLlama-1.1B-Chat-v1.0/config.json' },
      { label: `${f}:37 tokenizer owner/data-set`, line: 37, name: 'tokenizer', provider: tok, bucket: 'owner/data-set', key: '', mode: 'folder', glob: '**/*', target: '/data/datasets/tok' },
    ])
  })

  test('no secret value appears when the job is printed, as JSON or with util.inspect', async () => {
    const job = await load(allFour)
    for (const printed of [JSON.stringify(job), inspect(job, { depth: 20, showHidden: true }), job.items.map((i) => i.label).join('\n')]) {
      for (const value of Object.values(secrets)) expect(printed).not.toContain(value)
    }
    expect(JSON.stringify(job.items[0]!.provider)).toContain('"secretAccessKey":"[secret]"')
  })

  test('inline values, no download_root (the working directory), and an absolute target path', async () => {
    const job = await load(`download_items:
  - type: s3
    endpoint_url: https://s3.example.com
    access_key_id: id
    secret_key: key
    region: eu-west-1
    buckets:
      - name: b
        items:
          - file: x.bin
            target_path: out/x.bin
          - file: y.bin
            target_path: /abs/y.bin
`)
    expect(job.downloadRoot).toBe(dir)
    expect(job.items.map((i) => i.target)).toEqual([join(dir, 'out/x.bin'), '/abs/y.bin'])
    expect(revealed(job.items[0]!)).toMatchObject({ provider: { endpointUrl: 'https://s3.example.com', accessKeyId: 'revealed:id', secretAccessKey: 'revealed:key', region: 'eu-west-1' } })
  })

  test('a relative download_root resolves against the working directory, as Kaiwo\'s does', async () => {
    const job = await load('download_root: test/output\ndownload_items:\n  - type: hf\n    repo_id: gpt2\n')
    expect(job.downloadRoot).toBe(join(dir, 'test/output'))
    expect(job.items).toMatchObject([{ bucket: 'gpt2', key: '', mode: 'folder', target: join(dir, 'test/output/gpt2') }])
  })

  test('s3 without keys (a public bucket) and azure-blob with AZURE_STORAGE_CONNECTION_STRING from the environment', async () => {
    const job = await load(`download_items:
  - type: s3
    buckets: [{ name: public, items: [{ folder: ., target_path: p }] }]
  - type: azure-blob
    containers: [{ name: c, items: [{ folder: ., target_path: a }] }]
`, { AZURE_STORAGE_CONNECTION_STRING: secrets.azure })
    expect(job.items.map(revealed)).toMatchObject([
      { provider: { type: 's3' }, bucket: 'public' },
      { provider: { type: 'azure-blob', connectionString: `revealed:${secrets.azure}` }, bucket: 'c' },
    ])
    expect(job.items[0]!.provider).toEqual({ type: 's3', endpointUrl: undefined, accessKeyId: undefined, secretAccessKey: undefined, region: undefined })
  })

  test('empty buckets and item lists are accepted, as Kaiwo accepts them', async () => {
    const job = await load('download_items:\n  - type: gcs\n    buckets: []\n  - type: s3\n    buckets:\n      - name: b\n        items: []\n')
    expect(job.items).toEqual([])
  })
})

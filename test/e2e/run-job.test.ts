// `soaker run job.yaml` end to end: the real CLI running a Kaiwo-format job file whose items
// come from four stores at once: S3 (the test server, Ceph radosgw in CI), Azure Blob (Azurite),
// Google Cloud Storage (soaker's JSON API test server, scripts/support/gcs-server.ts) and the
// Hugging Face Hub (soaker's test Hub, scripts/support/hf-hub.ts). Every credential is read
// from a secret file; the environment has none.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { ContainerClient } from '@azure/storage-blob'
import { Storage } from '@google-cloud/storage'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startAzurite, type TestAzurite } from '../../scripts/support/azurite.js'
import { startGcsEmulator, type TestGcs } from '../../scripts/support/gcs-emulator.js'
import { startHfHub, type TestHfHub } from '../../scripts/support/hf-hub.js'
import { body, client, freshBucket, md5, readState, s3, soaker, soakerEnv, tempDir, treeOf } from './helpers.js'

const MiB = 1024 * 1024

let azurite: TestAzurite
let gcs: TestGcs
let hub: TestHfHub
beforeAll(async () => {
  [azurite, gcs, hub] = await Promise.all([startAzurite(), startGcsEmulator(), startHfHub()])
})
afterAll(async () => { await Promise.all([azurite?.stop(), gcs?.stop(), hub?.stop()]) })

/** No credentials of any store in the environment: the job file's secret files must do. */
const jobEnv = (): NodeJS.ProcessEnv => soakerEnv({
  AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AZURE_STORAGE_CONNECTION_STRING: undefined,
  STORAGE_EMULATOR_HOST: gcs.host, HF_ENDPOINT: hub.url, HF_TOKEN: undefined,
})

let count = 0
const unique = (): string => `job${process.pid}-${count++}`

/** Secret files as Kubernetes mounts them (a trailing newline included), in a directory of their own. */
function secretFiles(): string {
  const dir = tempDir('secrets')
  writeFileSync(join(dir, 's3-endpoint'), `${s3.endpoint}\n`)
  writeFileSync(join(dir, 's3-key'), `${s3.accessKeyId}\n`)
  writeFileSync(join(dir, 's3-secret'), `${s3.secretAccessKey}\n`)
  writeFileSync(join(dir, 'azure'), `${azurite.connectionString}\n`)
  writeFileSync(join(dir, 'hf-token'), 'hf_job_token_3f9a1c\n')
  return dir
}

async function putS3(bucket: string, files: Record<string, Buffer>): Promise<void> {
  for (const [key, data] of Object.entries(files)) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }))
}

describe('soaker run job.yaml', () => {
  test('a job mixing s3, azure-blob, gcs and hf items downloads every item byte for byte; the second run transfers nothing; no secret shows', async () => {
    const bucket = await freshBucket()
    const s3Files = { 'data/a.csv': body(1000), 'data/deep/b.csv': body(20 * MiB + 5), 'data/skip.txt': body(10), 'readme.txt': body(77) }
    await putS3(bucket, s3Files)
    const container = new ContainerClient(azurite.connectionString, unique())
    await container.create()
    const azFiles = { 'eval/x.jsonl': body(5000), 'eval/y/z.jsonl': body(9 * MiB) }
    for (const [k, v] of Object.entries(azFiles)) await container.getBlockBlobClient(k).uploadData(v)
    const gcsBucket = unique()
    gcs.createBucket(gcsBucket)
    const storage = new Storage({ apiEndpoint: gcs.host, projectId: 'test' })
    const gcsFiles = { 'tok/vocab.json': body(3000), 'tok/merges.txt': body(12 * MiB) }
    for (const [k, v] of Object.entries(gcsFiles)) await storage.bucket(gcsBucket).file(k).save(v, { resumable: false })
    const repo = `${unique()}/model`
    hub.tokens.add('hf_job_token_3f9a1c')
    hub.createRepo(repo, { private: true, readers: ['hf_job_token_3f9a1c'] })
    const hfFiles = { 'config.json': Buffer.from('{"layers": 2}'), 'model.safetensors': body(10 * MiB + 1), 'other.bin': body(100) }
    hub.commit(repo, hfFiles)

    const secrets = secretFiles()
    const root = tempDir('root')
    const jobFile = join(tempDir('job'), 'job.yaml')
    writeFileSync(jobFile, `download_root: ${root}
download_items:
  - type: s3
    name: weights
    endpoint_url_file: ${secrets}/s3-endpoint
    access_key_id_file: ${secrets}/s3-key
    secret_key_file: ${secrets}/s3-secret
    buckets:
      - name: ${bucket}
        items:
          - folder: data
            target_path: local/data
            glob: "**/*.csv"
          - file: readme.txt
            target_path: local/readme.txt
  - type: azure-blob
    connection_string_file: ${secrets}/azure
    containers:
      - name: ${container.containerName}
        items:
          - folder: eval
            target_path: eval
  - type: gcs
    buckets:
      - name: ${gcsBucket}
        items:
          - folder: tok
            target_path: tokenizer
  - type: hf
    repo_id: ${repo}
    token_file: ${secrets}/hf-token
    files: [config.json, model.safetensors]
    target_path: reference
`)
    const state = join(tempDir(), 'job.db')
    const r = await soaker(['run', jobFile, '--state', state], jobEnv())
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(await treeOf(root)).toEqual({
      'local/data/a.csv': md5(s3Files['data/a.csv']),
      'local/data/deep/b.csv': md5(s3Files['data/deep/b.csv']),
      'local/readme.txt': md5(s3Files['readme.txt']),
      'eval/x.jsonl': md5(azFiles['eval/x.jsonl']),
      'eval/y/z.jsonl': md5(azFiles['eval/y/z.jsonl']),
      'tokenizer/vocab.json': md5(gcsFiles['tok/vocab.json']),
      'tokenizer/merges.txt': md5(gcsFiles['tok/merges.txt']),
      'reference/config.json': md5(hfFiles['config.json']),
      'reference/model.safetensors': md5(hfFiles['model.safetensors']),
    })
    // The big objects of every store came in ranged parts, recorded in the one state database.
    const job = await readState(state)
    const partsOf = (suffix: string): number =>
      [...job.parts].filter(([key]) => key.endsWith(suffix)).reduce((n, [, parts]) => n + parts.size, 0)
    expect([partsOf('deep/b.csv'), partsOf('y/z.jsonl'), partsOf('merges.txt'), partsOf('model.safetensors')]).toEqual([3, 2, 2, 2])
    expect(job.counts.done.objects).toBe(9)

    const again = await soaker(['run', jobFile, '--state', state], jobEnv())
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied.*9 skipped/)

    // No secret in the output of either run, nor anywhere in the state database's bytes.
    const db = readFileSync(state).toString('latin1') + (() => { try { return readFileSync(`${state}-wal`).toString('latin1') } catch { return '' } })()
    for (const secret of [s3.secretAccessKey, s3.accessKeyId, 'hf_job_token_3f9a1c', 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq']) {
      expect(r.stdout + r.stderr + again.stdout + again.stderr).not.toContain(secret)
      expect(db).not.toContain(secret)
    }
  })

  test('an item that cannot be read is reported and the others still arrive; exit status 1', async () => {
    const bucket = await freshBucket()
    await putS3(bucket, { 'good/one.bin': body(100) })
    const secrets = secretFiles()
    const root = tempDir('root')
    const jobFile = join(tempDir('job'), 'job.yaml')
    writeFileSync(jobFile, `download_root: ${root}
download_items:
  - type: s3
    name: missing
    endpoint_url_file: ${secrets}/s3-endpoint
    access_key_id_file: ${secrets}/s3-key
    secret_key_file: ${secrets}/s3-secret
    buckets:
      - name: no-such-bucket-${unique()}
        items:
          - folder: x
            target_path: nothing
  - type: s3
    name: present
    endpoint_url_file: ${secrets}/s3-endpoint
    access_key_id_file: ${secrets}/s3-key
    secret_key_file: ${secrets}/s3-secret
    buckets:
      - name: ${bucket}
        items:
          - folder: good
            target_path: good
`)
    const r = await soaker(['run', jobFile, '--state', join(tempDir(), 's.db')], jobEnv())
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/job\.yaml:\d+ missing .*no-such-bucket-.*(does not exist|NoSuchBucket)/i)
    expect(await treeOf(root)).toEqual({ 'good/one.bin': expect.any(String) })
  })

  test('a bad job file is refused before anything is contacted, naming the file, line and field; exit status 2', async () => {
    const jobFile = join(tempDir('job'), 'job.yaml')
    writeFileSync(jobFile, `download_items:
  - type: s4
    buckets: []
  - type: s3
    buckets:
      - name: b
        items:
          - folder: a
            file: b
            target_path: t
`)
    const r = await soaker(['run', jobFile], jobEnv())
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${jobFile}:2: download_items[0].type: expected one of \`s3\`, \`gcs\`, \`azure-blob\`, \`hf\`, got \`s4\``)
    expect(r.stderr).toMatch(new RegExp(`${jobFile.replace(/[.]/g, '\\.')}:8: download_items\\[1\\]\\.buckets\\[0\\]\\.items\\[0\\]`))
    expect(r.stderr).toContain('SOAKER_JOB_FILE')
  })

  test('--max-workers bounds the transfers in flight; a bad value is refused', async () => {
    const bucket = await freshBucket()
    await putS3(bucket, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`many/${i}.bin`, body(50_000)])))
    const secrets = secretFiles()
    const root = tempDir('root')
    const jobFile = join(tempDir('job'), 'job.yaml')
    writeFileSync(jobFile, `download_root: ${root}
download_items:
  - type: s3
    endpoint_url_file: ${secrets}/s3-endpoint
    access_key_id_file: ${secrets}/s3-key
    secret_key_file: ${secrets}/s3-secret
    buckets:
      - name: ${bucket}
        items:
          - folder: many
            target_path: many
`)
    const state = join(tempDir(), 's.db')
    const r = await soaker(['run', jobFile, '--state', state, '--max-workers', '2', '--tune-interval', '0.05', '--max-speed', '4'], jobEnv())
    expect(r.code).toBe(0)
    expect(Object.keys(await treeOf(root))).toHaveLength(40)
    const { samples } = await readState(state)
    expect(samples.length).toBeGreaterThan(3)
    expect(Math.max(...samples.map((s) => s.target))).toBeLessThanOrEqual(2)
    expect(Math.max(...samples.map((s) => s.inFlight))).toBeLessThanOrEqual(2)

    const bad = await soaker(['run', jobFile, '--max-workers', '0'], jobEnv())
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/Expected `--max-workers` to be an integer >= 1, got `0`/)
  })
})

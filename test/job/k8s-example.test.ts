// The Kubernetes example's job (examples/k8s/configmap.yaml) is a valid job file: it loads, with
// its secret files standing in for the mounted Secrets, into the items the example describes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { expect, test } from 'vitest'
import { loadJob } from '../../src/job/job-file.js'

const example = fileURLToPath(new URL('../../examples/k8s/', import.meta.url))

test('examples/k8s/configmap.yaml holds a job that loads into its six items', async () => {
  const configMap = parse(readFileSync(join(example, 'configmap.yaml'), 'utf8')) as { data: Record<string, string> }
  const dir = mkdtempSync(join(tmpdir(), 'soaker-k8s-'))
  // Every file the job names under /secrets, as the pod mounts them (secrets.yaml's keys).
  const secrets: Record<string, string> = {
    's3/endpoint': 'https://s3.us-east-1.amazonaws.com\n', 's3/access-key-id': 'AKIAEXAMPLE\n', 's3/secret-key': 'secret\n',
    'azure/connection-string': 'UseDevelopmentStorage=true\n', 'gcs/key.json': '{"type": "service_account"}\n',
  }
  for (const [path, value] of Object.entries(secrets)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), value)
  }
  const jobFile = join(dir, 'job.yaml')
  writeFileSync(jobFile, configMap.data['job.yaml']!.replaceAll('/secrets/', `${dir}/`))
  const job = await loadJob(jobFile)
  expect(job.downloadRoot).toBe('/data')
  expect(job.items.map((i) => [i.provider.type, i.bucket, i.key, i.mode, i.target])).toEqual([
    ['s3', 'models', 'llama/v3', 'folder', '/data/weights'],
    ['s3', 'models', 'llama/v3/config.json', 'file', '/data/weights/config.json'],
    ['azure-blob', 'datasets', 'eval/2026-10', 'folder', '/data/eval'],
    ['gcs', 'shared-tokenizers', 'llama3', 'folder', '/data/tokenizer'],
    ['hf', 'openai-community/gpt2', 'config.json', 'file', '/data/reference/gpt2/config.json'],
    ['hf', 'openai-community/gpt2', 'tokenizer.json', 'file', '/data/reference/gpt2/tokenizer.json'],
  ])
})

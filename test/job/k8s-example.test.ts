// The Kubernetes example's job (examples/k8s/configmap.yaml) is a valid job file: it loads, with
// its secret files standing in for the mounted Secrets, into the items the example describes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, parseAllDocuments } from 'yaml'
import { expect, test } from 'vitest'
import { buildProgram } from '../../src/cli/main.js'
import { resolveCopyOptions } from '../../src/cli/options.js'
import { defaultStatePath } from '../../src/engine/copy.js'
import { assertCopyable } from '../../src/engine/transfer.js'
import { loadJob } from '../../src/job/job-file.js'
import { parseLocation } from '../../src/location.js'

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

interface EnvVar {
  name: string
  value?: string
  valueFrom?: { secretKeyRef: { name: string; key: string } }
}
interface IndexedJob {
  kind: string
  spec: {
    completionMode: string
    completions: number
    parallelism: number
    template: { spec: { containers: Array<{ args: string[]; env: EnvVar[]; volumeMounts: Array<{ mountPath: string }> }> } }
  }
}

test('examples/k8s/indexed-job.yaml: an Indexed Job whose command line soaker parses, in the pod of index K, as shard K of its completions, each with a state of its own on the volume', async () => {
  const job = parse(readFileSync(join(example, 'indexed-job.yaml'), 'utf8')) as IndexedJob
  expect(job.kind).toBe('Job')
  expect(job.spec.completionMode).toBe('Indexed')
  const shards = job.spec.completions
  expect(job.spec.parallelism).toBe(shards)
  const [container] = job.spec.template.spec.containers
  // The Secret keys it reads are those secrets.yaml makes; their values stand in as placeholders here.
  const secrets = new Map(parseAllDocuments(readFileSync(join(example, 'secrets.yaml'), 'utf8'))
    .map((d) => d.toJS() as { metadata: { name: string }; stringData: Record<string, string> })
    .map((d) => [d.metadata.name, d.stringData]))
  const env: Record<string, string> = {}
  for (const v of container!.env) {
    const ref = v.valueFrom?.secretKeyRef
    if (ref) expect(secrets.get(ref.name)?.[ref.key], `${ref.name}/${ref.key}`).toBeDefined()
    env[v.name] = v.value ?? secrets.get(ref!.name)![ref!.key]!
  }
  expect(env.SOAKER_SHARDS).toBe(String(shards))

  const states = new Set<string>()
  for (let index = 0; index < shards; index++) {
    let given: { sources: string[]; dst: string; raw: Record<string, string | undefined> } | undefined
    const program = buildProgram(async (sources, dst, raw) => { given = { sources, dst, raw }; return 0 }, async () => 1)
    await program.parseAsync(container!.args, { from: 'user' })
    expect(given).toBeDefined()
    // Kubernetes sets JOB_COMPLETION_INDEX in each pod of an Indexed Job.
    const options = resolveCopyOptions(given!.raw, { ...env, JOB_COMPLETION_INDEX: String(index) })
    expect(options.shard).toEqual({ index, count: shards })
    const [sources, destination] = [given!.sources.map(parseLocation), parseLocation(given!.dst)]
    assertCopyable(sources, destination)
    const state = defaultStatePath(sources[0]!.uri, destination.uri, options.shard, { XDG_STATE_HOME: env.XDG_STATE_HOME })
    expect(container!.volumeMounts.some((m) => state.startsWith(`${m.mountPath}/`) && destination.uri.startsWith(`${m.mountPath}/`))).toBe(true)
    states.add(state)
  }
  expect(states.size).toBe(shards)
})

test('examples/k8s/fleet-job.yaml: workers whose command line soaker parses into a copy between buckets shared through the PostgreSQL it starts, the password from a mounted pgpass file', async () => {
  const docs = parseAllDocuments(readFileSync(join(example, 'fleet-job.yaml'), 'utf8')).map((d) => d.toJS() as FleetDoc)
  const job = docs.find((d) => d.kind === 'Job')!
  expect(job.spec.parallelism).toBeGreaterThan(1)
  expect(job.spec.completions).toBeUndefined() // a work queue: done when the workers are
  const pod = job.spec.template.spec
  const [container] = pod.containers
  const env = Object.fromEntries(container!.env.map((v) => [v.name, v.value ?? '']))
  let given: { sources: string[]; dst: string; raw: Record<string, string | undefined> } | undefined
  const program = buildProgram(async (sources, dst, raw) => { given = { sources, dst, raw }; return 0 }, async () => 1)
  await program.parseAsync(container!.args, { from: 'user' })
  const options = resolveCopyOptions(given!.raw, env)
  const state = new URL(options.state!)
  expect(state.protocol).toBe('postgres:')
  expect(state.password).toBe('') // never in the pod's spec
  const [sources, destination] = [given!.sources.map(parseLocation), parseLocation(given!.dst)]
  assertCopyable(sources, destination)
  expect([sources[0]!.kind, destination.kind]).toEqual(['s3', 's3'])
  // The pgpass file in the mounted Secret matches the URL.
  const mountOf = (path: string) => container!.volumeMounts.find((m) => path.startsWith(`${m.mountPath}/`))
  const secretVolume = pod.volumes.find((v) => v.name === mountOf(env.PGPASSFILE!)?.name)!
  const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === secretVolume.secret!.secretName)!
  const pgpass = secret.stringData![env.PGPASSFILE!.slice(mountOf(env.PGPASSFILE!)!.mountPath.length + 1)]!
  expect(pgpass.split(':').slice(0, 4)).toEqual([state.hostname, state.port, state.pathname.slice(1), state.username])
  // The PostgreSQL it starts answers at the URL's host and port.
  const service = docs.find((d) => d.kind === 'Service')!
  expect(service.metadata.name).toBe(state.hostname)
  expect(service.spec.ports![0]!.port).toBe(Number(state.port))
})

interface FleetDoc {
  kind: string
  metadata: { name: string }
  stringData?: Record<string, string>
  spec: {
    parallelism?: number
    completions?: number
    ports?: Array<{ port: number }>
    template: { spec: {
      containers: Array<{ args: string[]; env: Array<{ name: string; value?: string }>; volumeMounts: Array<{ name: string; mountPath: string }> }>
      volumes: Array<{ name: string; persistentVolumeClaim?: unknown; secret?: { secretName: string } }>
    } }
  }
}

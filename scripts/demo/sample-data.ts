import type { S3Client } from '@aws-sdk/client-s3'
import { putMultipart, putObject, randomBody } from '../support/seed.js'
import { forEachLimit, md5, seededRandom } from './util.js'

const KiB = 1024
const MiB = 1024 * KiB

/** One object to create, its key relative to the demo prefix. */
export interface SampleObject {
  key: string
  size: number
  /** Uploaded with multipart (parts of `multipartPartSize`) rather than one PUT. */
  multipart: boolean
}

/** What was written, so the download can be checked against it byte for byte. */
export interface Expected {
  size: number
  md5: string
}

/** The part size of the multipart uploads; also the AWS CLI's default. */
export const multipartPartSize = 8 * MiB
/** PUTs in flight while seeding: enough to keep s3rver busy without queueing in the SDK. */
const seedConcurrency = 16

// Names that trip up careless code: accents, CJK, emoji and spaces, in folders named likewise.
const unicodeKeys = [
  'café/ünïcode-名前.txt',
  'données/résumé été 2024.md',
  '日本語/ファイル-1.txt',
  'emoji/🚀 launch-notes.json',
]
const logServices = ['api', 'worker', 'web']

/** A size spread evenly on a log scale between `min` and `max`, so small sizes are as common as large. */
function logUniform(random: () => number, min: number, max: number): number {
  return Math.round(Math.exp(Math.log(min) + random() * (Math.log(max) - Math.log(min))))
}

/**
 * The size of the `i`th small file. The tier goes by index rather than by chance, so every run has
 * the same mix: of every 25 files, 2 are empty, 1 is a few MiB, 6 are 64 KiB–1 MiB, 16 are smaller.
 */
function sampleSize(random: () => number, i: number): number {
  const tier = i % 25
  if (tier < 2) return 0
  if (tier === 2) return logUniform(random, 1 * MiB, 5 * MiB)
  if (tier < 9) return logUniform(random, 64 * KiB, 1 * MiB)
  return logUniform(random, 1, 64 * KiB)
}

/** A key in one of a few nested "directories"; `i` keeps it unique. */
function sampleKey(random: () => number, i: number): string {
  const n = String(i).padStart(4, '0')
  const pick = random()
  if (pick < 0.4) {
    const month = String(1 + Math.floor(random() * 12)).padStart(2, '0')
    return `images/${random() < 0.5 ? 2023 : 2024}/${month}/img-${n}.jpg`
  }
  if (pick < 0.65) return `logs/${logServices[Math.floor(random() * logServices.length)]}/run-${n}.log`
  if (pick < 0.85) return `data/shards/part-${n}.parquet`
  if (pick < 0.95) return `docs/guide/section-${n}.md`
  return `deep/a/b/c/d/e/f/leaf-${n}.txt`
}

/**
 * The demo's sample tree: `count` files (a few empty, most under 64 KiB, some up to 1 MiB, a few of
 * 1–5 MiB) plus two multipart objects of more than 200 MiB. The same on every run.
 */
export function planSample(count: number): SampleObject[] {
  const random = seededRandom(20240611)
  const objects: SampleObject[] = unicodeKeys.map((key) => ({ key, size: logUniform(random, 10, 4 * KiB), multipart: false }))
  for (let i = objects.length; i < count; i++) {
    objects.push({ key: sampleKey(random, i), size: sampleSize(random, i), multipart: false })
  }
  // Sizes that are not a multiple of the part size, so the last part of each is a short one.
  objects.push({ key: 'models/llm-7b/shard-1-of-2.safetensors', size: 200 * MiB + 123_457, multipart: true })
  objects.push({ key: 'models/llm-7b/shard-2-of-2.safetensors', size: 216 * MiB + 1, multipart: true })
  return objects
}

/**
 * Creates every object of `plan` under `prefix` and returns the MD5 of each, by key relative to
 * the prefix. Small objects go 16 at a time; the large ones go one after the other beside them,
 * so at most one 200 MiB body is in memory and it is dropped once uploaded.
 */
export async function seedSample(
  client: S3Client,
  bucket: string,
  prefix: string,
  plan: SampleObject[],
): Promise<Map<string, Expected>> {
  const expected = new Map<string, Expected>()
  const put = async (object: SampleObject): Promise<void> => {
    const body = randomBody(object.size)
    expected.set(object.key, { size: object.size, md5: md5(body) })
    if (object.multipart) await putMultipart(client, bucket, `${prefix}/${object.key}`, body, multipartPartSize)
    else await putObject(client, bucket, `${prefix}/${object.key}`, body)
  }
  await Promise.all([
    forEachLimit(plan.filter((o) => !o.multipart), seedConcurrency, put),
    forEachLimit(plan.filter((o) => o.multipart), 1, put),
  ])
  return expected
}

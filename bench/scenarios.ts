import type { S3Client } from '@aws-sdk/client-s3'
import type { BenchOptions, ScenarioName } from './args.js'
import { seedManySmall, seedOneBig, type Dataset } from './dataset.js'

const KiB = 1024
const MiB = 1024 * KiB

/** Peak RSS soaker aims to stay under in every scenario; printed next to its RSS, never enforced. */
export const soakerRssTargetMiB = 200

export interface Scenario {
  name: ScenarioName
  /** What the data is, for the report. */
  description: string
  unit: 'objects/s' | 'MB/s'
  /** Least soaker ÷ rclone throughput aimed for; printed next to the ratio, never enforced. */
  targetVsRclone: number
  /** Creates `bucket` and puts the scenario's objects in it, once; every run reads the same data. */
  seed(client: S3Client, bucket: string): Promise<Dataset>
  /** Throughput of delivering `dataset` in `wallSeconds`, in `unit`. */
  throughput(dataset: Dataset, wallSeconds: number): number
}

/** The scenarios with the sizes `options` asks for (the defaults are the published ones). */
export function scenarios(options: Pick<BenchOptions, 'smallObjects' | 'bigMiB'>): Record<ScenarioName, Scenario> {
  const bigBytes = options.bigMiB * MiB
  return {
    small: {
      name: 'small',
      description: `${options.smallObjects.toLocaleString('en-US')} objects of 16 KiB`,
      unit: 'objects/s',
      targetVsRclone: 1.5,
      seed: (client, bucket) => seedManySmall(client, bucket, 'small', options.smallObjects, 16 * KiB),
      throughput: (dataset, wallSeconds) => dataset.files.length / wallSeconds,
    },
    big: {
      name: 'big',
      description: `one ${bigBytes % (1024 * MiB) === 0 ? `${bigBytes / (1024 * MiB)} GiB` : `${options.bigMiB} MiB`} object in 8 MiB parts`,
      unit: 'MB/s',
      targetVsRclone: 1.3,
      seed: (client, bucket) => seedOneBig(client, bucket, 'big', 'blob.bin', bigBytes, 8 * MiB),
      // MB here is 10^6 bytes, as network rates are quoted.
      throughput: (dataset, wallSeconds) => dataset.totalBytes / 1e6 / wallSeconds,
    },
  }
}

// What the global setup hands to every test file through inject('s3').
import 'vitest'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The temp dir outside the run's own (test/setup/temp-global.ts), for what outlasts a run. */
    sharedTmp: string
    s3: { kind: 'ceph' | 's3rver'; endpoint: string; accessKeyId: string; secretAccessKey: string; region: string; bucketPrefix: string }
  }
}

// What the global setups hand to every test file through inject().
import 'vitest'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The temp dir outside the run's own (test/setup/temp-global.ts), for what outlasts a run. */
    sharedTmp: string
    /** A PostgreSQL server of the run's own (test/setup/postgres-global.ts); the URL holds a superuser's password. */
    postgres: { url: string }
    s3: { kind: 'ceph' | 's3rver'; endpoint: string; accessKeyId: string; secretAccessKey: string; region: string; bucketPrefix: string }
  }
}

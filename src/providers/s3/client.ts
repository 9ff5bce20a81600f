import http from 'node:http'
import https from 'node:https'
import { S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { MissingCredentialsError } from '../../errors.js'
import type { S3Transport } from './lean-transport.js'

export interface S3Settings {
  endpointUrl?: string
  region?: string
  profile?: string
  /** Keys given explicitly (a job file's); without them the SDK's default chain finds credentials. */
  credentials?: { accessKeyId: string; secretAccessKey: string }
  /** Seconds to wait for a TCP connection before the request fails (and is retried). */
  connectTimeout: number
  /**
   * Seconds a socket may stay silent mid-request before the request fails (and is retried): the
   * backstop for the calls the engine does not watch itself (listings, HEADs, completions).
   * @default 35
   */
  idleTimeout?: number
  /** Upper bound of sockets per host; the pool never has more requests in flight than this. */
  maxSockets: number
}

/**
 * The region: the flag, else whatever the SDK's own chain finds (AWS_REGION, the profile's
 * config), else us-east-1, which is also what S3-compatible stores expect.
 */
async function resolveRegion(settings: S3Settings): Promise<string> {
  if (settings.region) return settings.region
  const probe = new S3Client({ profile: settings.profile })
  try {
    return await probe.config.region()
  } catch {
    return 'us-east-1'
  } finally {
    probe.destroy()
  }
}

/** An S3 client and the sockets its requests go through (FastS3's too, without the SDK's handler). */
export interface S3Connection {
  client: S3Client
  transport: S3Transport
}

export async function createS3Connection(settings: S3Settings): Promise<S3Connection> {
  const agentOptions = { keepAlive: true, maxSockets: settings.maxSockets, maxFreeSockets: settings.maxSockets }
  const transport: S3Transport = {
    httpAgent: new http.Agent(agentOptions), httpsAgent: new https.Agent(agentOptions),
    connectTimeoutMs: Math.round(settings.connectTimeout * 1000),
    // A socket silent this long mid-request is dead; the request fails and is retried.
    socketTimeoutMs: Math.round((settings.idleTimeout ?? 35) * 1000),
  }
  const client = new S3Client({
    region: await resolveRegion(settings),
    // Credentials come from the SDK's default chain: env vars, shared files, SSO, web identity,
    // instance metadata. `profile` selects a named profile in that chain.
    profile: settings.profile,
    credentials: settings.credentials,
    endpoint: settings.endpointUrl,
    // S3-compatible stores rarely have wildcard DNS for virtual-hosted buckets.
    forcePathStyle: settings.endpointUrl !== undefined,
    // soaker's own retry policy decides, counts and honours Retry-After; the SDK must not retry too.
    maxAttempts: 1,
    // Flexible checksums differ between S3-compatible stores: uploads send one only where the
    // operation requires it; responses that carry one are verified.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_SUPPORTED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: transport.connectTimeoutMs,
      // (requestTimeout would only warn, and only until the headers arrive.)
      socketTimeout: transport.socketTimeoutMs,
      httpAgent: transport.httpAgent,
      httpsAgent: transport.httpsAgent,
    }),
  })
  return { client, transport }
}

/** Resolves credentials once, up front, so that a missing one is one clear error, not N failures. */
export async function checkCredentials(client: S3Client, profile: string | undefined): Promise<void> {
  try {
    await client.config.credentials()
  } catch (err) {
    const why = (err as Error).message
    if (/sso/i.test(why) && /expired|refresh/i.test(why)) {
      throw new MissingCredentialsError(
        `The SSO session of ${profile ? `profile \`${profile}\`` : 'the default profile'} has expired: ` +
          `run \`aws sso login${profile ? ` --profile ${profile}` : ''}\` and try again`,
        { cause: err },
      )
    }
    const where = profile ? `profile \`${profile}\`` : 'the default chain'
    throw new MissingCredentialsError(
      `No AWS credentials found in ${where} (looked at AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ` +
        `the shared config and credentials files, SSO, web identity and instance metadata): ${why}. ` +
        'Set the variables, or pass --profile NAME.',
      { cause: err },
    )
  }
}

import { createHmac, hash } from 'node:crypto'

/** The keys a request is signed with, as the SDK's credential chain resolves them. */
export interface SigningCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

/** A request to sign: `path` already encoded as it goes on the wire. */
export interface RequestToSign {
  method: string
  path: string
  query?: Record<string, string>
  headers: Record<string, string>
}

// Headers that proxies may add, drop or rewrite on the way, so no signature covers them (the
// same set the SDK's signer leaves out).
const unsignable = new Set([
  'authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma',
  'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id',
])

/** RFC 3986 encoding, as SigV4 wants for query keys and values: encodeURIComponent plus `!'()*`. */
export function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

/** The canonical query string of SigV4, which is also the query sent: pairs sorted by encoded key. */
export function canonicalQuery(query: Record<string, string> | undefined): string {
  if (query === undefined) return ''
  return Object.keys(query).map((k) => [escapeUri(k), escapeUri(query[k]!)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&')
}

/**
 * AWS Signature Version 4 (the header form, service `s3`) for the requests FastS3 sends itself.
 * The SDK's signer cost 92 µs of the main thread's CPU per request in a run of 2,000 small GETs
 * (perf), and 21 µs warm: every request awaits its credentials and region, derives a cache key
 * for its signing key with an extra HMAC and runs each digest through a wrapper object. This one resolves the credentials per request (the
 * SDK's provider caches them and renews them before they expire), keeps the day's signing key
 * until the day, region or secret changes, and takes three one-shot digests (bench/sigv4.ts).
 *
 * The payload is whatever `x-amz-content-sha256` says, which the caller sets (UNSIGNED-PAYLOAD).
 */
export class SigV4 {
  private key: { day: string; secret: string; inner: Buffer; outer: Buffer } | undefined

  constructor(private readonly region: string, private readonly credentials: () => Promise<SigningCredentials>) {}

  /** Adds `x-amz-date`, the session token where there is one, and `authorization` to `r.headers`. */
  async sign(r: RequestToSign, now = new Date()): Promise<void> {
    const creds = await this.credentials()
    const stamp = now.toISOString().replace(/[-:]|\.\d{3}/g, '') // 20261205T120000Z
    const day = stamp.slice(0, 8)
    const headers = r.headers
    headers['x-amz-date'] = stamp
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken
    // Names in lower case, as the server reads them: metadata copied from another store may
    // carry capitals (x-amz-meta-MyKey).
    const values = new Map<string, string>()
    for (const name of Object.keys(headers)) {
      const n = name.toLowerCase()
      if (unsignable.has(n) || n.startsWith('proxy-') || n.startsWith('sec-')) continue
      values.set(n, headers[name]!.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').trim())
    }
    const names = [...values.keys()].sort()
    let canonicalHeaders = ''
    for (const n of names) canonicalHeaders += `${n}:${values.get(n)}\n`
    const signed = names.join(';')
    const canonical = `${r.method}\n${r.path}\n${canonicalQuery(r.query)}\n${canonicalHeaders}\n${signed}\n${headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD'}`
    const scope = `${day}/${this.region}/s3/aws4_request`
    const toSign = `AWS4-HMAC-SHA256\n${stamp}\n${scope}\n${hash('sha256', canonical)}`
    const key = this.signingKey(day, creds.secretAccessKey)
    // HMAC-SHA256 (RFC 2104) from two one-shot hashes: a Hash or Hmac object costs more than its digest.
    const signature = hash('sha256', Buffer.concat([key.outer, hash('sha256', Buffer.concat([key.inner, Buffer.from(toSign)]), 'buffer')]))
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`
  }

  /**
   * The key of `day` (HMACs of the date, region, service and terminator, from the secret), as
   * the two padded blocks an HMAC with it hashes first: the key XOR 0x36, and XOR 0x5c.
   */
  private signingKey(day: string, secret: string): { inner: Buffer; outer: Buffer } {
    const k = this.key
    if (k !== undefined && k.day === day && k.secret === secret) return k
    let key: Buffer | string = `AWS4${secret}`
    for (const part of [day, this.region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest()
    const block = Buffer.alloc(64) // SHA-256's block; the 32-byte key is padded with zeros
    ;(key as Buffer).copy(block)
    this.key = { day, secret, inner: block.map((b) => b ^ 0x36) as Buffer, outer: block.map((b) => b ^ 0x5c) as Buffer }
    return this.key
  }
}

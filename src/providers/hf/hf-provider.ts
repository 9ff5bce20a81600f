import { Readable } from 'node:stream'
import { datasetInfo, listFiles, modelInfo, pathsInfo, spaceInfo, type ListFileEntry, type RepoId } from '@huggingface/hub'
import { AccessDeniedError, NotFoundError, type SoakerError, SourceChangedError, UsageError } from '../../errors.js'
import { attemptSignal, callOnce, type ObjectDetails, type ObjectInfo, type Provider, type ReadOptions, type ReadResult, type RetryCalls } from '../provider.js'
import { HfHttpError, mapHfCheckError, mapHfError, networkError, type HfWhere } from './errors.js'
import type { HfRepo } from './uri.js'

export interface HfProviderOptions {
  repo: HfRepo
  env: NodeJS.ProcessEnv
  /** A token given explicitly (a job file's secret); it wins over HF_TOKEN. None at all: anonymous. */
  token?: string
  /** Wraps each listing page request and the revision lookup (the engine passes its retry policy). */
  retry?: RetryCalls
}

/** The commit a run reads: a branch or tag resolved once, so that every read sees one snapshot. */
interface Snapshot {
  sha: string
  /**
   * The snapshot's date (the revision endpoint's `lastModified`): every file's modification time.
   * The tree gives a file's own last commit only with `expand`, which the Hub answers 50 entries
   * a page instead of 1,000, under a rate limit of a few hundred API calls per 5 minutes.
   */
  date: Date | undefined
  gated: boolean
}

/** Where an LFS file's bytes are: the CDN URL the Hub redirected to, and the SHA-256 the Hub named. */
interface CdnLocation { url: URL; etag: string | undefined; until: number }

const defaultEndpoint = 'https://huggingface.co'
// The Hub signs CDN URLs for about an hour; one is reused for a few minutes only, well inside that.
const locationTtlMs = 5 * 60_000
const maxLocations = 1000
const maxRedirects = 5
const redirectStatus = [301, 302, 303, 307, 308]

/** `"abc"`, `W/"abc"` → `abc`, as huggingface_hub normalises the Hub's ETags. */
const normalizeEtag = (etag: string | null): string | undefined => etag?.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined
/** Each path segment percent-encoded; `/` stays. */
const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/')

/**
 * A repository on the Hugging Face Hub (or a mirror at HF_ENDPOINT), read only. Metadata comes
 * through @huggingface/hub (listFiles, pathsInfo, the revision endpoint); bytes come from the
 * `resolve` URL with a Range header, fetched here because the library's downloads take no range
 * and no abort signal. An LFS file's ETag is its SHA-256 (`lfs.oid`), a plain file's its git
 * blob id, which the engine checks the bytes against (etagDigest 'content-id').
 */
export class HfProvider implements Provider {
  readonly name = 'hf'
  readonly capabilities = { rangedReads: true, uploadPartInfo: false, etagDigest: 'content-id' as const }
  /** HF_ENDPOINT or https://huggingface.co, without a trailing slash. */
  readonly endpoint: string
  private readonly origin: string
  private readonly repo: HfRepo
  private readonly repoId: RepoId
  private readonly token: string | undefined
  private readonly retry: RetryCalls
  private snapshot: Promise<Snapshot> | undefined
  /** LFS files' CDN URLs by key, for the next parts of the same file. */
  private readonly locations = new Map<string, CdnLocation>()
  /** Keys whose first read is on its way to the Hub: other parts wait for its redirect. */
  private readonly resolving = new Map<string, Promise<void>>()

  private constructor(options: HfProviderOptions) {
    this.repo = options.repo
    this.repoId = { type: options.repo.type, name: options.repo.id }
    this.endpoint = (options.env.HF_ENDPOINT || defaultEndpoint).replace(/\/+$/, '')
    this.origin = new URL(this.endpoint).origin
    this.token = options.token || options.env.HF_TOKEN || undefined
    this.retry = options.retry ?? callOnce
  }

  /** @huggingface/hub reads no environment: HF_ENDPOINT and HF_TOKEN are read here and passed on. */
  static create(options: HfProviderOptions): HfProvider {
    const endpoint = options.env.HF_ENDPOINT
    if (endpoint && !/^https?:\/\/[^/]/i.test(endpoint)) {
      throw new UsageError(`Expected HF_ENDPOINT to be a URL like https://huggingface.co, got \`${endpoint}\``)
    }
    return new HfProvider(options)
  }

  /** `hf://[datasets/|spaces/]owner/repo[@revision]`, as the user wrote the repository. */
  get uri(): string {
    const type = this.repo.type === 'model' ? '' : `${this.repo.type}s/`
    const revision = this.repo.revision !== undefined ? `@${encodeURIComponent(this.repo.revision)}` : ''
    return `hf://${type}${this.repo.id}${revision}`
  }

  private where(key?: string): HfWhere {
    return { repo: this.uri, revision: this.repo.revision ?? 'main', endpoint: this.endpoint, anonymous: this.token === undefined, key }
  }

  /**
   * A fetch for the library: the token as a Bearer header (set here rather than through the
   * library, which refuses tokens not starting with `hf_`, as a mirror's may), the abort signal
   * (the library takes none), and every answer that is not a success thrown as an HfHttpError;
   * a retried one throws what mapHfError makes of its failures, for the retry policy to judge.
   */
  private fetcher(signal: AbortSignal, retried: boolean): typeof fetch {
    const once = async (input: string | URL | Request, init?: RequestInit, attempt?: AbortSignal): Promise<Response> => {
      const headers = new Headers(init?.headers)
      // Only to the Hub itself, though a Link header may name another host.
      if (this.token && new URL(input instanceof Request ? input.url : input).origin === this.origin) headers.set('authorization', `Bearer ${this.token}`)
      let res: Response
      try {
        res = await fetch(input, { ...init, headers, signal: attemptSignal(signal, attempt) })
      } catch (err) {
        throw networkError(err, this.endpoint)
      }
      if (!res.ok) throw await HfHttpError.from(res)
      return res
    }
    const mapped = (input: string | URL | Request, init?: RequestInit, attempt?: AbortSignal): Promise<Response> =>
      once(input, init, attempt).catch((err: unknown) => { throw mapHfError(err, this.where()) })
    return retried ? (input, init) => this.retry((attempt) => mapped(input, init, attempt)) : once
  }

  /** The pinned snapshot, resolved on first use; a failed lookup is tried again by the next caller. */
  private pin(signal: AbortSignal): Promise<Snapshot> {
    this.snapshot ??= this.resolveRevision(signal).catch((err: unknown) => {
      this.snapshot = undefined
      throw err
    })
    return this.snapshot
  }

  private async resolveRevision(signal: AbortSignal): Promise<Snapshot> {
    const params = {
      name: this.repo.id, revision: this.repo.revision ?? 'main', hubUrl: this.endpoint,
      fetch: this.fetcher(signal, true), additionalFields: ['sha' as const],
    }
    try {
      const info = this.repo.type === 'dataset' ? await datasetInfo(params)
        : this.repo.type === 'space' ? await spaceInfo(params)
          : await modelInfo(params)
      const date = info.updatedAt instanceof Date && !Number.isNaN(info.updatedAt.getTime()) ? info.updatedAt : undefined
      return { sha: info.sha, date, gated: 'gated' in info && Boolean(info.gated) }
    } catch (err) {
      throw mapHfError(err, this.where())
    }
  }

  /**
   * Resolves the revision to the commit every later call reads. A gated repository read without a
   * token fails here, once, rather than on every file.
   */
  async check(signal: AbortSignal): Promise<void> {
    let snapshot: Snapshot
    try {
      snapshot = await this.pin(signal)
    } catch (err) {
      throw mapHfCheckError(err, this.where())
    }
    if (snapshot.gated && this.token === undefined) {
      throw new AccessDeniedError(`${this.uri} is gated: accept its conditions on ${this.endpoint} and set HF_TOKEN to a token of that account`)
    }
  }

  /**
   * The Hub's tree lists in an order of its own, so the walk goes one directory at a time: each
   * directory's entries (every page of them) are sorted, a subdirectory sorting as `name/`, and
   * subdirectories are walked where they fall. Keys come out in byte order, and memory holds the
   * entries of the directories on the current path, never the whole repository.
   */
  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    const snapshot = await this.pin(signal)
    const slash = prefix.lastIndexOf('/')
    yield* this.walk(slash >= 0 ? prefix.slice(0, slash) : '', prefix, snapshot, signal)
  }

  private async *walk(dir: string, prefix: string, snapshot: Snapshot, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    for (const entry of await this.directory(dir, snapshot, signal)) {
      if (entry.type === 'directory') {
        if ((entry.path + '/').startsWith(prefix)) yield* this.walk(entry.path, prefix, snapshot, signal)
      } else if (entry.type === 'file' && entry.path.startsWith(prefix)) {
        yield this.info(entry, snapshot)
      }
    }
  }

  /** One directory's entries in byte order; none where the directory does not exist (or is a file). */
  private async directory(dir: string, snapshot: Snapshot, signal: AbortSignal): Promise<ListFileEntry[]> {
    const entries: Array<{ entry: ListFileEntry; sortKey: Buffer }> = []
    try {
      for await (const entry of listFiles({
        repo: this.repoId, path: dir ? encodePath(dir) : undefined, revision: snapshot.sha, recursive: false,
        hubUrl: this.endpoint, fetch: this.fetcher(signal, true),
      })) {
        entries.push({ entry, sortKey: Buffer.from(entry.type === 'directory' ? entry.path + '/' : entry.path) })
      }
    } catch (err) {
      if (err instanceof NotFoundError) return [] // the Hub's EntryNotFound
      throw mapHfError(err, this.where())
    }
    // UTF-8 byte order, the order S3 lists keys in (JavaScript's UTF-16 order differs above U+FFFF).
    return entries.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey)).map((e) => e.entry)
  }

  private info(entry: Pick<ListFileEntry, 'path' | 'size' | 'oid' | 'lfs'>, snapshot: Snapshot): ObjectInfo {
    return { key: entry.path, size: entry.lfs?.size ?? entry.size, etag: entry.lfs?.oid ?? entry.oid, lastModified: snapshot.date }
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectDetails> {
    const snapshot = await this.pin(signal)
    try {
      const [entry] = (await pathsInfo({
        repo: this.repoId, paths: [key], revision: snapshot.sha, hubUrl: this.endpoint, fetch: this.fetcher(signal, false),
      })).filter((e) => e.path === key && e.type === 'file')
      // The Hub leaves paths that do not exist out of its answer rather than failing.
      if (entry === undefined) throw new HfHttpError(404, 'EntryNotFound', 'Entry not found', `${this.endpoint}/paths-info`)
      return { ...this.info(entry, snapshot), encrypted: false }
    } catch (err) {
      throw mapHfError(err, this.where(key))
    }
  }

  private resolveUrl(sha: string, key: string): string {
    const type = this.repo.type === 'model' ? '' : `${this.repo.type}s/`
    return `${this.endpoint}/${type}${this.repo.id}/resolve/${sha}/${encodePath(key)}`
  }

  /**
   * GET of the file's `resolve` URL at the pinned commit, redirects followed by hand: an LFS file's
   * SHA-256 (X-Linked-Etag) is on the Hub's 302 and nowhere else (the CDN's own ETag is another
   * value), and the token, like undici's redirects do, is not sent to another origin (a CDN's
   * signed URL would refuse it). A plain file's ETag is on the Hub's own final answer.
   * The CDN URL an LFS file was sent to serves its later parts too: the Hub counts every resolve
   * against a rate limit (a few thousand per 5 minutes), and a big file has hundreds of parts.
   */
  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    const snapshot = await this.pin(options.signal)
    try {
      // Another part of this file is on its way to the Hub: its redirect serves this part too.
      // (No await when none is: the check and the registration below must happen in one turn.)
      const pending = this.resolving.get(key)
      if (pending) await pending
      const known = this.location(key)
      if (known) {
        const res = await this.get(known.url, options, false)
        // A signed URL that expired or was revoked is a 4xx: ask the Hub again.
        if (res.status < 400 || res.status >= 500) return await this.answer(res, known.etag, options, key)
        await res.body?.cancel()
        this.locations.delete(key)
      }
      let resolved!: () => void
      const resolving = new Promise<void>((r) => { resolved = r })
      this.resolving.set(key, resolving)
      try {
        return await this.resolve(key, snapshot, options)
      } finally {
        if (this.resolving.get(key) === resolving) this.resolving.delete(key)
        resolved()
      }
    } catch (err) {
      throw mapHfError(err, this.where(key))
    }
  }

  private async resolve(key: string, snapshot: Snapshot, options: ReadOptions): Promise<ReadResult> {
    let url = new URL(this.resolveUrl(snapshot.sha, key))
    const hub = url.origin
    let etag: string | undefined
    for (let hop = 0; ; hop++) {
      const res = await this.get(url, options, url.origin === hub)
      if (url.origin === hub) etag = normalizeEtag(res.headers.get('x-linked-etag')) ?? etag
      if (!redirectStatus.includes(res.status) || !res.headers.has('location')) {
        return await this.answer(res, url.origin === hub ? etag ?? normalizeEtag(res.headers.get('etag')) : etag, options, key)
      }
      await res.body?.cancel()
      if (hop >= maxRedirects) throw new Error(`${this.uri}/${key}: more than ${maxRedirects} redirects from ${hub}`)
      const next = new URL(res.headers.get('location')!, url)
      if (url.origin === hub && next.origin !== hub) this.remember(key, { url: next, etag, until: Date.now() + locationTtlMs })
      url = next
    }
  }

  private location(key: string): CdnLocation | undefined {
    const known = this.locations.get(key)
    if (known !== undefined && known.until < Date.now()) this.locations.delete(key)
    return known !== undefined && known.until >= Date.now() ? known : undefined
  }

  private remember(key: string, location: CdnLocation): void {
    this.locations.delete(key)
    this.locations.set(key, location)
    // Files in flight need their location; older ones go first (a Map iterates in insertion order).
    if (this.locations.size > maxLocations) this.locations.delete(this.locations.keys().next().value!)
  }

  /** One GET without following redirects; the token only where `withToken` (the Hub's own origin). */
  private async get(url: URL, { range, signal }: ReadOptions, withToken: boolean): Promise<Response> {
    const headers: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end}` } : {}
    if (this.token && withToken) headers.authorization = `Bearer ${this.token}`
    try {
      return await fetch(url, { headers, redirect: 'manual', signal })
    } catch (err) {
      throw networkError(err, url.origin)
    }
  }

  /** The read's result from the final answer, once it is known to be the right bytes of the right file. */
  private async answer(res: Response, etag: string | undefined, { range, ifMatch }: ReadOptions, key: string): Promise<ReadResult> {
    if (!res.ok) throw await HfHttpError.from(res)
    if (ifMatch !== undefined && etag !== undefined && etag !== ifMatch) {
      await res.body?.cancel()
      throw new SourceChangedError(`${this.uri}/${key} changed while it was being copied (its ETag no longer matches)`)
    }
    await this.checkRange(res, range, key)
    const size = Number(res.headers.get('content-length') ?? NaN)
    const origin = new URL(res.url || this.endpoint).origin
    const body = nodeBody(res, (err) => mapHfError(networkError(err, origin), this.where(key)))
    return { body, details: { etag, size: Number.isFinite(size) ? size : 0, encrypted: false } }
  }

  /** A server that ignores Range answers 200 with the whole file: taking it for the part would corrupt it. */
  private async checkRange(res: Response, range: ReadOptions['range'], key: string): Promise<void> {
    if (range === undefined) return
    const m = /^bytes (\d+)-(\d+)\//.exec(res.headers.get('content-range') ?? '')
    if (res.status === 206 && m && Number(m[1]) === range.start && Number(m[2]) === range.end) return
    await res.body?.cancel()
    throw new Error(`${this.uri}/${key}: asked for bytes ${range.start}-${range.end}, got HTTP ${res.status} with Content-Range \`${res.headers.get('content-range') ?? ''}\``)
  }

  /** Rejects with UsageError: soaker reads from the Hub and never writes to it. */
  async write(key: string, _body: Buffer, _signal: AbortSignal): Promise<void> {
    throw new UsageError(`Uploads to the Hugging Face Hub are not supported: ${this.uri}/${key} can only be a source`)
  }

  close(): void {
    // Nothing to release: fetch keeps idle keep-alive sockets that do not hold the process open.
  }
}

/** The response body as a Node stream of Buffers, its failures mid-way as `map` makes them. */
function nodeBody(res: Response, map: (err: unknown) => SoakerError): Readable {
  const body = res.body
  async function* chunks(): AsyncIterable<Buffer> {
    if (body === null) return
    try {
      for await (const chunk of body) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    } catch (err) {
      throw map(err)
    }
  }
  return Readable.from(chunks(), { objectMode: false })
}

import { createHash } from 'node:crypto'
import { ShardMismatchError } from '../errors.js'
import type { Shard } from '../options.js'
import type { ShardRow } from '../state/store.js'

/**
 * The function that assigns keys to static shards (`--shard K/N`), by the name every sharded
 * state database records: a key belongs to shard
 *
 *   (the first 8 bytes of SHA-256 of the key's UTF-8 bytes, as a big-endian unsigned integer) mod N
 *
 * In Python: `int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], 'big') % n`. It depends on
 * the key alone, never on the listing's order or the machine, so every key is in exactly one shard.
 * The key is an object's key in its bucket (container, repository), whatever prefix was given;
 * for a local source, a file's path relative to the directory given, `/`-separated (one file
 * given alone: its name). Downloads filter their listings in copy-sources.ts (listingOf),
 * uploads and copies between stores in upload-copy.ts: every listing is planned through one
 * of the two.
 *
 * A name never changes its function: the shards of one job may run different soaker versions,
 * and a shard resumed by a newer one must keep its keys. Another function gets another name, and
 * a state database sharded with the old one is refused (checkShard).
 *
 * Why SHA-256 rather than a cheaper hash: each of its bits depends on every byte of the key, so
 * keys that differ in one character (`img_000001.jpg`, `img_000002.jpg`) spread evenly whatever
 * N, a power of 2 included. FNV-1a 64, the usual cheap choice (0.25 µs a key here), is weak just
 * there: its low k bits depend only on the low k bits of each byte, and N = 2^k reads only those.
 * SHA-256 costs about 2 µs a key on this machine (Node 20, 2 cores; most of it making the hash
 * object), 2 CPU-seconds per million keys, which each shard spends on every key of the source:
 * a twelfth of what planning costs a key the shard keeps (a state lookup and a row written, 25 µs
 * here), and run on keys that arrive 1,000 to a listing round trip.
 */
export const shardHash = 'sha256-64'

/** The shard of `key` among `count` shards (see shardHash). */
export function shardOf(key: string, count: number): number {
  const digest = createHash('sha256').update(key, 'utf8').digest()
  return Number(digest.readBigUInt64BE(0) % BigInt(count))
}

/** `K/N`, as `--shard` takes it. */
export function shardName(shard: Shard): string {
  return `${shard.index}/${shard.count}`
}

/** What a run of `shard` copies, for its log. */
export function shardNote(shard: Shard): string {
  return `shard ${shardName(shard)}: only the objects whose keys ${shardHash} assigns to it`
}

/**
 * The items whose key (`keyOf`) belongs to `shard`, in their order: a listing of one shard.
 * Without a shard, `items` itself, at no cost per item.
 */
export function onlyShard<T>(items: AsyncIterable<T>, shard: Shard | undefined, keyOf: (item: T) => string): AsyncIterable<T> {
  if (shard === undefined) return items
  const { index, count } = shard
  return (async function* () {
    for await (const item of items) if (shardOf(keyOf(item), count) === index) yield item
  })()
}

/** What a state database keeps of its shard (SqliteStateStore has these). */
export interface ShardRecord {
  /** The shard its first run recorded, if it recorded one. */
  recordedShard(): ShardRow | undefined
  /** Whether a run was ever recorded: a state with runs and no shard holds every object. */
  hasRuns(): boolean
  recordShard(row: ShardRow): void
}

/** How a state's objects were chosen, in the words of the messages below. */
function describe(row: ShardRow | undefined): string {
  return row === undefined ? 'every object (made by runs without --shard)' : `the objects of shard ${shardName(row)} (--shard ${shardName(row)})`
}

/**
 * Refuses, with ShardMismatchError, a state database whose rows are another set of objects than
 * the run's: another shard's, every object's for a run of one shard, one shard's for a run of
 * every object, or a shard assigned by another hash function. A state no run has used yet is
 * the run's; `record` (a run that writes) records its shard there.
 */
export function checkShard(state: ShardRecord, shard: Shard | undefined, path: string, record: boolean): void {
  const recorded = state.recordedShard()
  const used = recorded !== undefined || state.hasRuns()
  if (!used) {
    if (record && shard !== undefined) state.recordShard({ ...shard, hash: shardHash })
    return
  }
  if (recorded !== undefined && recorded.hash !== shardHash) {
    throw new ShardMismatchError(`The state database \`${path}\` was sharded by \`${recorded.hash}\`, which this soaker does not know ` +
      `(it assigns keys by \`${shardHash}\`): run it with the soaker that made it, or give this run another --state`)
  }
  const same = recorded === undefined ? shard === undefined : shard !== undefined && recorded.index === shard.index && recorded.count === shard.count
  if (same) return
  const run = shard === undefined ? 'this run is of every object (no --shard)' : `this run is shard ${shardName(shard)}`
  const fix = recorded === undefined ? '' : ` pass --shard ${shardName(recorded)} to continue it, or`
  throw new ShardMismatchError(`The state database \`${path}\` holds ${describe(recorded)}, but ${run}:${fix} ` +
    'give this run a state of its own (leave --state out: each shard has its own by default)')
}

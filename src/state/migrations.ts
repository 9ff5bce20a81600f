/** Numbered schema steps; `PRAGMA user_version` records how many have run. Never edit one that shipped. */
export const migrations: string[] = [
  // 1: objects, their finished parts, and runs.
  `CREATE TABLE objects (
     key TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     etag TEXT,
     last_modified INTEGER,
     status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'skipped', 'failed')),
     reason TEXT,
     error_code TEXT,
     part_size INTEGER,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX objects_status ON objects (status);
   CREATE TABLE parts (
     key TEXT NOT NULL,
     idx INTEGER NOT NULL,
     md5 TEXT,
     PRIMARY KEY (key, idx)
   ) WITHOUT ROWID;
   CREATE TABLE runs (
     id INTEGER PRIMARY KEY,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     status TEXT NOT NULL,
     source TEXT NOT NULL,
     destination TEXT NOT NULL
   );`,
  // 2: what the concurrency controller measured and decided, interval by interval.
  `CREATE TABLE samples (
     run_id INTEGER NOT NULL,
     at INTEGER NOT NULL,
     target INTEGER NOT NULL,
     in_flight INTEGER NOT NULL,
     bytes_per_second INTEGER NOT NULL,
     throttles INTEGER NOT NULL,
     errors INTEGER NOT NULL
   );`,
  // 3: what each run achieved, for `soaker status`.
  `ALTER TABLE runs ADD COLUMN copied INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE runs ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE runs ADD COLUMN transferred INTEGER NOT NULL DEFAULT 0;`,
  // 4: uploads (the multipart upload id of a file, the remote listing compared against) and the
  // mtime a download gave its file when the object carried one in its metadata.
  `ALTER TABLE objects ADD COLUMN upload_id TEXT;
   ALTER TABLE objects ADD COLUMN file_mtime INTEGER;
   CREATE INDEX objects_status_size ON objects (status, size, key);
   CREATE INDEX objects_status_key ON objects (status, key);
   CREATE TABLE remote_objects (
     key TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     etag TEXT
   ) WITHOUT ROWID;`,
  // 5: how far each unfinished downloaded part has durably arrived, so that a kill loses seconds,
  // not parts: a row (key, idx, bytes) says the part's first `bytes` bytes are synced to the partial file.
  `CREATE TABLE part_progress (
     key TEXT NOT NULL,
     idx INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     PRIMARY KEY (key, idx)
   ) WITHOUT ROWID;`,
  // 6: how many sources had requests in flight at once in each interval (a run of several
  // sources shares one pool).
  `ALTER TABLE samples ADD COLUMN sources INTEGER NOT NULL DEFAULT 1;`,
  // 7: `soaker check`'s verdicts, each with the versions (size, ETag, mtime) of both sides it was
  // reached on, so that a check run again (or after an interruption) compares only what changed.
  `CREATE TABLE checks (
     key TEXT PRIMARY KEY,
     src_version TEXT NOT NULL,
     dst_version TEXT NOT NULL,
     same INTEGER NOT NULL,
     size_only INTEGER NOT NULL,
     detail TEXT NOT NULL
   ) WITHOUT ROWID;`,
  // 8: work is claimed from the store (StateStore.claim). `claim` of a pending row: NULL, not
  // planned since the run began (an object gone from the source stays so); 0, planned and ready;
  // 1, claimed by the run. The indexes serve the claim in each order, and replace those of
  // pending scans.
  `ALTER TABLE objects ADD COLUMN claim INTEGER;
   DROP INDEX objects_status_size;
   DROP INDEX objects_status_key;
   CREATE INDEX objects_claimable_key ON objects (status, claim, key);
   CREATE INDEX objects_claimable_size ON objects (status, claim, size, key);`,
  // 9: the progress of unfinished parts is not the store's to keep: the local provider checkpoints
  // the parts it receives in the log of each upload (<state>-parts/ beside the database).
  `DROP TABLE part_progress;`,
  // 10: the static shard (--shard K/N) whose objects alone the job holds, and the name of the hash
  // that assigned them (engine/shard.ts); no row: every object. A run of another shard is refused.
  `CREATE TABLE shard (
     only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
     shard_index INTEGER NOT NULL,
     shard_count INTEGER NOT NULL,
     hash TEXT NOT NULL
   );`,
]

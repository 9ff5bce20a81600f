import type { ObjectRow, ObjectStatus } from './store.js'

/** An objects row as a store's database gives it: its column names, the key as the store keeps it (text, or bytes). */
export interface ObjectColumns<Key> {
  key: Key
  size: number
  etag: string | null
  last_modified: number | null
  status: ObjectStatus
  reason: string | null
  error_code: string | null
  part_size: number | null
  upload_id: string | null
  file_mtime: number | null
}

/** The row `r` with its key as `key` (decoded by the store). */
export function objectRowOf(r: ObjectColumns<unknown>, key: string): ObjectRow {
  return {
    key, size: r.size, etag: r.etag, lastModified: r.last_modified, status: r.status,
    reason: r.reason, errorCode: r.error_code, partSize: r.part_size, uploadId: r.upload_id, fileMtime: r.file_mtime,
  }
}

/**
 * The object key of a file entry, or the prefix of a folder entry, as written in a job file.
 * Kaiwo joins them to the bucket as paths, so `./data`, `data/` and `/data` all mean the folder
 * `data`, and `.` (or an empty folder) means the whole bucket. A `..` segment would make a key
 * relative to something outside the bucket, so it is refused.
 */
export function toKey(raw: string, mode: 'file' | 'folder'): { key: string } | { problem: string } {
  const what = mode === 'file' ? 'an object key like dir/name.txt' : 'a folder like data/2024 (or . for everything)'
  if (raw.includes('\0')) return { problem: `expected ${what}, got a value with a NUL character` }
  let key = raw.replace(/^(?:\.?\/)+/, '')
  if (key === '.') key = ''
  if (mode === 'folder') key = key.replace(/\/+$/, '')
  if (key.split('/').includes('..')) return { problem: `expected ${what} without \`..\`, got \`${raw}\`` }
  if (mode === 'file' && (key === '' || key.endsWith('/'))) return { problem: `expected ${what}, got ${raw === '' ? 'an empty string' : `\`${raw}\``}` }
  return { key }
}

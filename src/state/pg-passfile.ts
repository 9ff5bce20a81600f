import { readFile, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { errorCode, errorMessage } from '../errors.js'

/** What a password file entry is matched against: the connection as it will be made. */
export interface PassfileTarget {
  host: string
  port: number
  database: string
  user: string
}

/** The password file libpq reads: `passfile` of the URL, else PGPASSFILE, else ~/.pgpass. */
export function passfilePath(fromUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return fromUrl || env.PGPASSFILE || join(env.HOME || homedir(), '.pgpass')
}

/**
 * The password for `target` in the password file at `path` (libpq's format: lines of
 * `host:port:database:user:password`, `*` matching anything, `\:` and `\\` escaped, `#` comments;
 * the first line that matches wins; `localhost` also matches a Unix socket). Undefined when the
 * file is absent or no line matches.
 *
 * libpq ignores a file that its group or others may read; Kubernetes mounts a Secret readable by
 * the pod's group (fsGroup), so here only a file that others may read is ignored, with `warn`
 * saying why: a password readable by every user of a machine is not one to send.
 */
export async function passwordFromFile(path: string, target: PassfileTarget,
  warn: (message: string) => void): Promise<string | undefined> {
  let text: string
  try {
    const s = await stat(path)
    if (!s.isFile()) {
      warn(`the password file \`${path}\` is not a plain file: not read`)
      return undefined
    }
    if ((s.mode & 0o007) !== 0) {
      warn(`the password file \`${path}\` may be read by any user (mode ${(s.mode & 0o777).toString(8)}): not read; ` +
        'make it 0600 (chmod 600, or defaultMode: 0440 for a Kubernetes Secret)')
      return undefined
    }
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') warn(`cannot read the password file \`${path}\`: ${errorMessage(err)}`)
    return undefined
  }
  const socket = target.host.startsWith('/')
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue
    const fields = splitEntry(line)
    if (fields.length < 5) continue
    // The password ends at the next unescaped colon, as libpq reads it.
    const [host, port, database, user, password] = fields as [string, string, string, string, string]
    const hostMatches = host === '*' || host === target.host || (socket && host === 'localhost')
    if (hostMatches && (port === '*' || Number(port) === target.port) && (database === '*' || database === target.database) &&
      (user === '*' || user === target.user)) {
      return password
    }
  }
  return undefined
}

/** The fields of a line, split at unescaped colons, with `\x` read as `x`. */
function splitEntry(line: string): string[] {
  const fields: string[] = []
  let field = ''
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === '\\' && i + 1 < line.length) field += line[++i]
    else if (c === ':') {
      fields.push(field)
      field = ''
    } else field += c
  }
  fields.push(field)
  return fields
}

import { readFile } from 'node:fs/promises'
import { inspect } from 'node:util'

const hidden = '[secret]'

/**
 * A secret value (access key, connection string, token). It prints as `[secret]` however it is
 * printed (template string, JSON, console.log, util.inspect), so a log line or a state row that
 * includes a job item by accident cannot leak it: the value sits in a private field, and only
 * `reveal()` returns it, at the one place that hands it to a provider's client.
 */
export class Secret {
  readonly #value: string
  constructor(value: string) {
    this.#value = value
  }

  reveal(): string {
    return this.#value
  }

  toString(): string {
    return hidden
  }

  toJSON(): string {
    return hidden
  }

  [inspect.custom](): string {
    return hidden
  }
}

export type SecretFileResult = { value: string } | { problem: string }

/**
 * Reads a secret from a file, the way Kubernetes mounts secrets. Surrounding whitespace is trimmed
 * (such files usually end with a newline), as the Kaiwo downloader trims it. The problem, when
 * there is one, names the file and what is wrong with it, never its content.
 */
export async function readSecretFile(path: string): Promise<SecretFileResult> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    return { problem: `expected a readable file, got \`${path}\` (${unreadable(err)})` }
  }
  const value = text.trim()
  if (value === '') return { problem: `expected a file holding a value, got \`${path}\`, which is empty` }
  return { value }
}

/** Why a file cannot be read, in words (the errno code in parentheses for searching). */
export function unreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  switch (code) {
    case 'ENOENT': return 'no such file, ENOENT'
    case 'EACCES':
    case 'EPERM': return `permission denied, ${code}`
    case 'EISDIR': return 'a directory, EISDIR'
    case 'ENOTDIR': return 'a parent is not a directory, ENOTDIR'
    default: return code ?? (err as Error).message
  }
}

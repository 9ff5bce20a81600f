import type { Logger } from '../../src/engine/logger.js'

/** A logger that keeps what it was told, as `<level> <message>` lines: for assertions and failure messages. */
export function keptLog(): Logger & { lines: string[] } {
  const lines: string[] = []
  const at = (level: string) => (m: string): void => { lines.push(`${level} ${m}`) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Logger {
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

/** Lines of `level` and above, written with `write` (stderr by default). */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const at = (l: LogLevel) => (message: string): void => {
    if (order[l] >= order[level]) write(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} ${message}`)
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

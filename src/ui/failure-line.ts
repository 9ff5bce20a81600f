import { escapeControls } from '../providers/local/keys.js'

/**
 * One failure as the summary and `soaker status` list it. Keys are untrusted and may hold
 * control characters (a refused key is listed too), so none is printed raw.
 */
export function failureLine(f: { key: string; errorCode: string | null; reason: string | null }): string {
  return `  ${escapeControls(f.key)}: ${escapeControls(f.reason ?? 'unknown')} [${f.errorCode ?? '?'}]`
}

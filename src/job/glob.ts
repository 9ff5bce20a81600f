import picomatch from 'picomatch'

// The Kaiwo downloader hands a folder entry's glob to pathlib-style globbing (cloudpathlib's
// CloudPath.glob) relative to the folder: `*` stays within one path segment, `**` spans any number
// of them (zero included, so `**/*` also matches files directly in the folder), and names starting
// with a dot are not special. `dot: true` gives picomatch the same view of dotfiles.
// `strictBrackets` makes an unbalanced `[` or `{` an error instead of a literal character, so a
// typo is reported when the job file is loaded rather than silently matching nothing.
const options: picomatch.PicomatchOptions = { dot: true, strictBrackets: true }

/** The default glob of a folder entry: every object under the folder, at any depth. */
export const everything = '**/*'

/**
 * A predicate telling whether a key relative to its folder (`sub/x.csv`, no leading slash) matches
 * `glob`. Throws on a glob that globProblem rejects; validate job files with globProblem first.
 */
export function globMatcher(glob: string): (relativeKey: string) => boolean {
  if (glob === everything) return () => true
  return picomatch(glob, options)
}

/** Why `glob` cannot be used, as `expected …, got …`; undefined when it can. */
export function globProblem(glob: string): string | undefined {
  if (glob === '') return 'expected a glob like **/*.csv, got an empty string'
  if (glob.startsWith('/')) return `expected a glob relative to the folder, got \`${glob}\``
  if (glob.split('/').includes('..')) return `expected a glob that stays inside the folder, got \`${glob}\``
  try {
    picomatch.makeRe(glob, options)
  } catch (err) {
    const closing = /Missing closing: "(.)"/.exec((err as Error).message)?.[1]
    return `expected a glob like **/*.csv, got \`${glob}\` (${closing !== undefined ? `no closing \`${closing}\`` : (err as Error).message})`
  }
  return undefined
}

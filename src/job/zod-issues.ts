import type { z } from 'zod'
import { itemTypes, secretFields } from './job-schema.js'
import type { FieldPath } from './yaml-source.js'

/** A schema problem before it has a line: the field's path, and whether its key or its value is meant. */
export interface PathProblem {
  path: FieldPath
  at: 'key' | 'value'
  message: string
}

/**
 * Zod's issues in soaker's message shape, `expected …, got …`. A value is shown only when it is a
 * short scalar of a field that is not secret; otherwise only its kind is named.
 */
export function pathProblems(issue: z.core.$ZodIssue, prefix: FieldPath, knownAt: (path: FieldPath) => readonly string[]): PathProblem[] {
  const path = [...prefix, ...(issue.path as (string | number)[])]
  const one = (message: string, at: 'key' | 'value' = 'value'): PathProblem[] => [{ path, at, message }]
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return one(`expected ${kind(issue.expected)} (required), got nothing`)
      return one(`expected ${kind(issue.expected)}, got ${shown(issue.input, path)}`)
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({ path: [...path, k], at: 'key', message: `expected a known field, got \`${k}\`${suggestion(k, knownAt(path))}` }))
    case 'invalid_union': {
      if ((issue as { note?: string }).note !== 'No matching discriminator') return one(issue.message)
      const given = (issue.input as Record<string, unknown> | undefined)?.type
      const got = given === undefined ? 'nothing' : shown(given, path)
      return one(`expected one of ${itemTypes.map((t) => `\`${t}\``).join(', ')}, got ${got}`)
    }
    case 'invalid_value':
      return one(`expected one of ${issue.values.map((v) => `\`${String(v)}\``).join(', ')}, got ${shown(issue.input, path)}`)
    case 'too_small':
      if (issue.origin === 'array') return one(`expected at least ${issue.minimum} ${Number(issue.minimum) === 1 ? 'entry' : 'entries'}, got an empty list`)
      if (issue.origin === 'string') return one('expected a non-empty string, got an empty one')
      return one(issue.message)
    case 'custom':
      return one(issue.message)
    default:
      return one(issue.message)
  }
}

function kind(expected: string): string {
  switch (expected) {
    case 'object': return 'a map'
    case 'array': return 'a list'
    case 'string': return 'a string'
    case 'number': return 'a number'
    case 'boolean': return 'true or false'
    default: return expected
  }
}

/** How a wrong value is shown: its kind, plus the value itself when short, scalar and not secret. */
function shown(value: unknown, path: FieldPath): string {
  if (value === null) return 'an empty value'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a map'
  const secret = path.some((s) => typeof s === 'string' && secretFields.has(s))
  const noun = typeof value === 'string' ? 'a string' : typeof value === 'number' ? 'a number' : typeof value === 'boolean' ? 'a boolean' : typeof value
  const text = String(value)
  if (secret || text.length > 80) return noun
  return typeof value === 'string' ? `\`${text}\`` : `${noun} \`${text}\``
}

/** ` (did you mean \`target_path\`?)` when one known field is a likely intended spelling. */
export function suggestion(key: string, known: readonly string[]): string {
  let best: string | undefined
  let bestDistance = Infinity
  for (const k of known) {
    const d = distance(key.toLowerCase(), k)
    if (d < bestDistance) [best, bestDistance] = [k, d]
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? ` (did you mean \`${best}\`?)` : ''
}

/** Edit distance with adjacent transpositions (`targte` → `target` is 1). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

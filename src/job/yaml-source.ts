import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml'

export type FieldPath = readonly (string | number)[]

/** A problem at a line, before it is tied to a field. */
export interface LineProblem {
  line: number
  message: string
}

/** A YAML text parsed with every node's position kept, so that a field's path leads to its line. */
export interface YamlSource {
  /** The document as plain data (undefined when it has syntax errors). */
  data: unknown
  /** Syntax errors, each with its line; data is undefined when there is any. */
  problems: LineProblem[]
  /**
   * The line of the field at `path`: of its key when `at` is 'key', else of its value. A path that
   * goes further than the document (a missing field) gives the line of the deepest node it reaches.
   */
  lineOf(path: FieldPath, at?: 'key' | 'value'): number
}

export function parseYaml(text: string): YamlSource {
  const counter = new LineCounter()
  // prettyErrors off: the pretty form quotes the offending source line, which may hold a secret.
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false })
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : counter.linePos(offset).line)
  const lineOf = (path: FieldPath, at: 'key' | 'value' = 'value') => lineAt(offsetOf(doc, path, at))
  const problems = doc.errors.map((e) => ({ line: lineAt(e.pos[0]), message: `expected valid YAML, got a syntax error: ${e.message}` }))
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) {
        problems.push({ line: lineAt(alias.range?.[0]), message: `expected valid YAML, got the alias \`*${alias.source}\` with no anchor \`&${alias.source}\` before it` })
      }
    },
  })
  if (problems.length > 0) return { data: undefined, problems, lineOf }
  try {
    return { data: doc.toJS({ maxAliasCount: 1000 }), problems, lineOf }
  } catch (err) {
    // An alias expanding into too many nodes (a "billion laughs" file).
    return { data: undefined, problems: [{ line: 1, message: `expected valid YAML, got ${(err as Error).message}` }], lineOf }
  }
}

function offsetOf(doc: Document, path: FieldPath, at: 'key' | 'value'): number | undefined {
  let node: unknown = doc.contents
  let offset = (node as Node | null)?.range?.[0]
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc)
    let next: unknown
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === segment)
      if (pair === undefined) break
      if (i === path.length - 1 && at === 'key') return (pair.key as Node | null)?.range?.[0] ?? offset
      next = pair.value ?? pair.key
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment]
    }
    const start = (next as Node | null | undefined)?.range?.[0]
    if (start === undefined) break
    node = next
    offset = start
  }
  return offset
}

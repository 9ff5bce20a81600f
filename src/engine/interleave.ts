/**
 * Takes items from several async iterables in turn: the next item comes from the next source,
 * round-robin, that has one ready, so a source whose listing is slow holds none of the others
 * back and a source with much work does not starve the rest. At most `open` sources are being
 * iterated at once; the next one starts when one ends. An error of a source ends the whole
 * iteration (each source reports what it can survive itself); the open sources are closed.
 */
export async function* interleave<T>(sources: Iterable<AsyncIterable<T>>, open: number): AsyncIterable<T> {
  const waiting = sources[Symbol.iterator]()
  const active: Array<{ it: AsyncIterator<T>; next?: Promise<IteratorResult<T>> }> = []
  const startMore = (): void => {
    while (active.length < open) {
      const r = waiting.next()
      if (r.done) return
      active.push({ it: r.value[Symbol.asyncIterator]() })
    }
  }
  let turn = 0
  try {
    startMore()
    while (active.length > 0) {
      for (const a of active) a.next ??= a.it.next()
      // Already settled promises settle a race in the order given: start after the last served.
      const order = [...active.slice(turn), ...active.slice(0, turn)]
      const { a, r } = await Promise.race(order.map((a) => a.next!.then((r) => ({ a, r }))))
      a.next = undefined
      const i = active.indexOf(a)
      if (r.done) {
        active.splice(i, 1)
        startMore()
        turn = active.length > 0 ? i % active.length : 0
        continue
      }
      turn = (i + 1) % active.length
      yield r.value
    }
  } finally {
    // Sources asked for an item that will not be taken are closed once it comes.
    await Promise.all(active.map(async (a) => { await a.next?.catch(() => undefined); await a.it.return?.() }))
  }
}

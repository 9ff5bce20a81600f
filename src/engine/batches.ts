/**
 * Groups the items of `items` into arrays of at most `max`, never waiting for more than is ready:
 * a batch ends when it has `max` items, or when the next item is not there by the next turn of
 * the event loop (a listing waiting for its next page). The state store is then asked about a
 * page of keys at once, and the first objects of a slow listing are not held back.
 */
export async function* batches<T>(items: AsyncIterable<T>, max: number): AsyncIterable<T[]> {
  const it = items[Symbol.asyncIterator]()
  let next: Promise<IteratorResult<T>> | undefined
  try {
    for (;;) {
      const first = await (next ?? it.next())
      next = undefined
      if (first.done) return
      const batch = [first.value]
      const turn = new Promise<'turn'>((resolve) => setImmediate(resolve, 'turn'))
      while (batch.length < max) {
        next = it.next()
        let r
        try {
          r = await Promise.race([next, turn])
        } catch (err) {
          next = undefined
          yield batch // the items before the error, then the error
          throw err
        }
        if (r === 'turn') break // not ready: the next batch starts with it
        next = undefined
        if (r.done) {
          yield batch
          return
        }
        batch.push(r.value)
      }
      yield batch
    }
  } finally {
    next?.catch(() => undefined) // a consumer that stopped early does not see what came after
  }
}

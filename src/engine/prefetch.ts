/**
 * Runs `source` ahead of its consumer into a buffer of at most `max` items, so that a slow step
 * upstream (a listing page, a planning decision) overlaps with the work downstream. An error
 * upstream reaches the consumer after the items before it.
 */
export async function* prefetch<T>(source: AsyncIterable<T>, max: number): AsyncIterable<T> {
  const buffer: T[] = []
  let head = 0
  let ended = false
  let failure: { err: unknown } | undefined
  let stopped = false
  let wakeConsumer: (() => void) | undefined
  let wakeProducer: (() => void) | undefined
  const nudge = (): void => { wakeConsumer?.(); wakeConsumer = undefined }

  const pump = (async () => {
    try {
      for await (const item of source) {
        if (stopped) return
        buffer.push(item)
        nudge()
        while (buffer.length - head >= max && !stopped) await new Promise<void>((r) => { wakeProducer = r })
      }
    } catch (err) {
      failure = { err }
    } finally {
      ended = true
      nudge()
    }
  })()

  try {
    for (;;) {
      if (head < buffer.length) {
        const item = buffer[head++]!
        if (head > 1024 && head * 2 > buffer.length) { buffer.splice(0, head); head = 0 }
        wakeProducer?.()
        wakeProducer = undefined
        yield item
        continue
      }
      if (ended) {
        if (failure) throw failure.err
        return
      }
      await new Promise<void>((r) => { wakeConsumer = r })
    }
  } finally {
    stopped = true
    wakeProducer?.()
    await pump
  }
}

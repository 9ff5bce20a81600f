import { expect } from 'vitest'

/** The error of class `type` that `fn` throws; fails the test if it throws nothing or something else. */
export function thrown<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(type)
    return err as E
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`)
}

import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, test, vi } from 'vitest'
import { LocalWriteError } from '../../src/errors.js'
import { LocalProvider } from '../../src/providers/local/local-provider.js'
import { tempDir } from '../e2e/helpers.js'

// A disk that fills up: no small file system can be mounted without root, so writes fail as a
// full one fails them, with the errno the kernel gives (ENOSPC), once `disk.full` is set.
const disk = vi.hoisted(() => ({ full: false }))
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  const writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    if (disk.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
    return (fs.writeSync as (...a: unknown[]) => number)(...args)
  }) as typeof fs.writeSync
  return { ...fs, default: { ...fs, writeSync }, writeSync }
})

const signal = new AbortController().signal

describe('LocalProvider on a full disk', () => {
  test('put and uploadPart reject with LocalWriteError, errno ENOSPC (the run stops on it); put leaves no partial file', async () => {
    const root = tempDir('local-enospc')
    const p = new LocalProvider(root)
    const id = await p.multipart.create('big.bin', { size: 2048, partSize: 1024, signal })
    disk.full = true
    try {
      const put = await p.put('a.bin', Readable.from([Buffer.alloc(100)]), { size: 100, signal }).catch((e: unknown) => e)
      expect(put).toBeInstanceOf(LocalWriteError)
      expect((put as LocalWriteError).errno).toBe('ENOSPC')
      expect((put as LocalWriteError).message).toMatch(/the destination disk is full \(ENOSPC\)/)
      const part = await p.multipart.uploadPart('big.bin', id, 1, Buffer.alloc(1024), { size: 1024, signal }).catch((e: unknown) => e)
      expect(part).toBeInstanceOf(LocalWriteError)
      expect((part as LocalWriteError).errno).toBe('ENOSPC')
    } finally {
      disk.full = false
    }
    expect(existsSync(join(root, 'a.bin'))).toBe(false)
    expect(readdirSync(join(root, '.soaker', 'partial')).filter((f) => !f.includes('big.bin'))).toEqual([])
    expect(await p.multipart.listParts('big.bin', id, signal)).toEqual([]) // the failed part is not logged
    await p.multipart.abort('big.bin', id, signal)
  })
})

import { describe, expect, test } from 'vitest'
import { globMatcher, globProblem } from '../../src/job/glob.js'

describe('globMatcher', () => {
  test.each([
    ['**/*', 'x.csv', true],
    ['**/*', 'a/b/c.bin', true],
    ['**/*', '.hidden', true],
    ['**/*', 'a/.git/config', true],
    ['**/*.csv', 'x.csv', true],
    ['**/*.csv', 'a/b/x.csv', true],
    ['**/*.csv', 'x.csv.gz', false],
    ['**/*.csv', '.x.csv', true],
    ['*.csv', 'x.csv', true],
    ['*.csv', 'a/x.csv', false],
    ['sub/*', 'sub/x', true],
    ['sub/*', 'sub/y/x', false],
    ['sub/**', 'sub/y/x', true],
    ['{a,b}/*.json', 'b/c.json', true],
    ['{a,b}/*.json', 'c/c.json', false],
    ['model-*.safetensors', 'model-00001-of-00002.safetensors', true],
    ['[ab].txt', 'a.txt', true],
    ['[ab].txt', 'c.txt', false],
    ['*.CSV', 'x.csv', false],
  ])('%s against %s is %s', (glob, key, expected) => {
    expect(globMatcher(glob)(key)).toBe(expected)
  })
})

describe('globProblem', () => {
  test.each(['**/*', '*.csv', 'a/**/b/*.bin', '{a,b}', '[!x]*'])('%s is a usable glob', (glob) => {
    expect(globProblem(glob)).toBeUndefined()
  })

  test.each([
    ['', 'expected a glob like **/*.csv, got an empty string'],
    ['/abs/*.csv', 'expected a glob relative to the folder, got `/abs/*.csv`'],
    ['../*.csv', 'expected a glob that stays inside the folder, got `../*.csv`'],
    ['[abc', 'expected a glob like **/*.csv, got `[abc` (no closing `]`)'],
    ['{a,b', 'expected a glob like **/*.csv, got `{a,b` (no closing `}`)'],
  ])('%j is refused: %s', (glob, message) => {
    expect(globProblem(glob)).toBe(message)
  })
})

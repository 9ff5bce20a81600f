import { describe, expect, test } from 'vitest'
import { loadJob } from '../../src/job/job-file.js'
import { maxIssues } from '../../src/job/job-error.js'
import { dir, problems, secrets } from './fixtures/job-files.js'

/** An s3 item whose one bucket holds `entries` (YAML lines at the items' indentation). */
const s3With = (...entries: string[]) => `download_root: /data
download_items:
  - type: s3
    buckets:
      - name: b
        items:
${entries.map((e) => `          ${e}`).join('\n')}
`

describe('loadJob refuses a job file, naming the file, the line and the field', () => {
  test('an unknown type', async () => {
    expect(await problems('download_items:\n  - type: s4\n    buckets: []\n')).toEqual([
      'job.yaml:2: download_items[0].type: expected one of `s3`, `gcs`, `azure-blob`, `hf`, got `s4`',
    ])
  })

  test('a missing type', async () => {
    expect(await problems('download_items:\n  - name: x\n    buckets: []\n')).toEqual([
      'job.yaml:2: download_items[0].type: expected one of `s3`, `gcs`, `azure-blob`, `hf`, got nothing',
    ])
  })

  test('both folder and file in one entry, and neither', async () => {
    expect(await problems(s3With('- folder: data', '  file: readme.txt', '  target_path: x', '- target_path: y'))).toEqual([
      'job.yaml:7: download_items[0].buckets[0].items[0]: expected exactly one of `folder` or `file`, got both',
      'job.yaml:10: download_items[0].buckets[0].items[1]: expected exactly one of `folder` or `file`, got neither',
    ])
  })

  test('a missing secret file, and one that cannot be read (a directory), named by path, never by content', async () => {
    const lines = await problems(`download_items:
  - type: s3
    access_key_id_file: secrets/nope
    secret_key_file: /etc
    buckets: []
`)
    expect(lines).toEqual([
      'job.yaml:3: download_items[0].access_key_id_file: expected a readable file, got `DIR/secrets/nope` (no such file, ENOENT)',
      'job.yaml:4: download_items[0].secret_key_file: expected a readable file, got `/etc` (a directory, EISDIR)',
    ])
  })

  test('an empty secret file', async () => {
    expect(await problems('download_items:\n  - type: azure-blob\n    connection_string_file: secrets/empty\n    containers: []\n')).toEqual([
      'job.yaml:3: download_items[0].connection_string_file: expected a file holding a value, got `DIR/secrets/empty`, which is empty',
    ])
  })

  test('a value given both inline and as a file', async () => {
    expect(await problems(`download_items:
  - type: s3
    access_key_id: id
    secret_key: inline
    secret_key_file: secrets/secret
    buckets: []
  - type: hf
    repo_id: a/b
    token: t
    token_file: secrets/hf
`)).toEqual([
      'job.yaml:5: download_items[0].secret_key_file: expected one of `secret_key` or `secret_key_file`, got both',
      'job.yaml:10: download_items[1].token_file: expected one of `token` or `token_file`, got both',
    ])
  })

  test('one key of a pair without the other', async () => {
    expect(await problems('download_items:\n  - type: s3\n    access_key_id_file: secrets/key\n    buckets: []\n')).toEqual([
      'job.yaml:2: download_items[0]: expected `secret_key` or `secret_key_file` along with `access_key_id` (both keys, or neither for a public bucket), got only `access_key_id`',
    ])
  })

  test('azure-blob without a connection string anywhere', async () => {
    expect(await problems('download_items:\n  - type: azure-blob\n    containers: []\n')).toEqual([
      'job.yaml:2: download_items[0]: expected `connection_string` or `connection_string_file` (or AZURE_STORAGE_CONNECTION_STRING in the environment), got none',
    ])
  })

  test('two items writing the same target path, across download items', async () => {
    expect(await problems(`download_root: /data
download_items:
  - type: s3
    buckets:
      - name: b
        items:
          - file: readme.txt
            target_path: local/readme.txt
  - type: azure-blob
    connection_string_file: secrets/azure
    containers:
      - name: c
        items:
          - file: other.txt
            target_path: ./local/../local/readme.txt
`)).toEqual([
      'job.yaml:15: download_items[1].containers[0].items[0].target_path: expected a target no other item writes, got `/data/local/readme.txt`, which download_items[0].buckets[0].items[0] (line 7) writes too',
    ])
  })

  test('two Hugging Face items writing the same files', async () => {
    expect(await problems('download_items:\n  - type: hf\n    repo_id: a/b\n    files: [config.json, config.json]\n')).toEqual([
      'job.yaml:4: download_items[0].files[1]: expected a target no other item writes, got `DIR/a/b/config.json`, which download_items[0].files[0] (line 4) writes too',
    ])
  })

  test('a target inside another item\'s file', async () => {
    expect(await problems(s3With('- file: model', '  target_path: m', '- folder: extra', '  target_path: m/extra'))).toEqual([
      'job.yaml:10: download_items[0].buckets[0].items[1].target_path: expected a target outside other items\' files, got `/data/m/extra`, inside `/data/m`, the file of download_items[0].buckets[0].items[0] (line 7)',
    ])
  })

  test('target paths escaping download_root: relative, and absolute outside it', async () => {
    expect(await problems(s3With('- folder: a', '  target_path: ../x', '- file: b', '  target_path: /etc/b', '- file: c', '  target_path: /data/ok/c'))).toEqual([
      'job.yaml:8: download_items[0].buckets[0].items[0].target_path: expected a path inside download_root `/data`, got `../x`',
      'job.yaml:10: download_items[0].buckets[0].items[1].target_path: expected a path inside download_root `/data`, got `/etc/b`',
    ])
  })

  test('a target path escaping the working directory when there is no download_root', async () => {
    expect(await problems('download_items:\n  - type: hf\n    repo_id: a/b\n    target_path: ../../up\n')).toEqual([
      'job.yaml:4: download_items[0].target_path: expected a path inside the working directory `DIR` (the file has no download_root), got `../../up`',
    ])
  })

  test('a YAML syntax error, with its line, and nothing else checked', async () => {
    expect(await problems('download_items:\n  - type: s3\n    buckets: [\n      name: b\n  - type: hf\n')).toEqual([
      'job.yaml:5: expected valid YAML, got a syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ])
  })

  test('a key given twice', async () => {
    expect(await problems('download_items:\n  - type: hf\n    repo_id: a/b\n    repo_id: a/c\n')).toEqual([
      'job.yaml:4: expected valid YAML, got a syntax error: Map keys must be unique',
    ])
  })

  test('an alias without its anchor', async () => {
    expect(await problems('download_items:\n  - *item\n')).toEqual([
      'job.yaml:2: expected valid YAML, got the alias `*item` with no anchor `&item` before it',
    ])
  })

  test('unknown fields, with the likely intended one suggested', async () => {
    expect(await problems(`downlaod_root: /data
download_items:
  - type: s3
    secret_key_flie: secrets/secret
    buckets:
      - name: b
        items:
          - file: a
            targte_path: a
`)).toEqual([
      'job.yaml:1: downlaod_root: expected a known field, got `downlaod_root` (did you mean `download_root`?)',
      'job.yaml:4: download_items[0].secret_key_flie: expected a known field, got `secret_key_flie` (did you mean `secret_key_file`?)',
      'job.yaml:8: download_items[0].buckets[0].items[0].target_path: expected a string (required), got nothing',
      'job.yaml:9: download_items[0].buckets[0].items[0].targte_path: expected a known field, got `targte_path` (did you mean `target_path`?)',
    ])
  })

  test('an unknown field with nothing close to it', async () => {
    expect(await problems('download_items:\n  - type: gcs\n    credentials: x\n    buckets: []\n')).toEqual([
      'job.yaml:3: download_items[0].credentials: expected a known field, got `credentials`',
    ])
  })

  test('wrong types', async () => {
    expect(await problems(`download_root: 3
download_items:
  - type: hf
    name: [a]
    repo_id: a/b
    files: model.bin
  - type: gcs
    buckets: {}
  - type: s3
    buckets:
      - name: b
        items:
          - file:
            target_path: x
`)).toEqual([
      'job.yaml:1: download_root: expected a string, got a number `3`',
      'job.yaml:4: download_items[0].name: expected a string, got a list',
      'job.yaml:6: download_items[0].files: expected a list, got `model.bin`',
      'job.yaml:8: download_items[1].buckets: expected a list, got a map',
      'job.yaml:13: download_items[2].buckets[0].items[0].file: expected a string, got an empty value',
    ])
  })

  test('a secret of the wrong type is described without its value', async () => {
    expect(await problems('download_items:\n  - type: s3\n    access_key_id: 12345\n    secret_key: true\n    buckets: []\n')).toEqual([
      'job.yaml:3: download_items[0].access_key_id: expected a string, got a number',
      'job.yaml:4: download_items[0].secret_key: expected a string, got a boolean',
    ])
  })

  test('an empty download_items, a missing one, an empty file, and a file that is not a map', async () => {
    expect(await problems('download_root: /data\ndownload_items: []\n')).toEqual(['job.yaml:2: download_items: expected at least 1 entry, got an empty list'])
    expect(await problems('download_root: /data\n')).toEqual(['job.yaml:1: download_items: expected a list (required), got nothing'])
    expect(await problems('# nothing yet\n')).toEqual(['job.yaml:1: expected a map with `download_items`, got an empty file'])
    expect(await problems('- type: s3\n')).toEqual(['job.yaml:1: expected a map, got a list'])
  })

  test('an invalid repo_id, revision or repo_type', async () => {
    expect(await problems(`download_items:
  - type: hf
    repo_id: owner/repo/extra
  - type: hf
    repo_id: has space/x
  - type: hf
    repo_id: a/b
    repo_type: modle
    revision: ""
`)).toEqual([
      'job.yaml:3: download_items[0].repo_id: expected a Hugging Face repository id like owner/name, got `owner/repo/extra`',
      'job.yaml:5: download_items[1].repo_id: expected a Hugging Face repository id like owner/name, got `has space/x`',
      'job.yaml:8: download_items[2].repo_type: expected one of `model`, `dataset`, `space`, got `modle`',
      'job.yaml:9: download_items[2].revision: expected a non-empty string, got an empty one',
    ])
  })

  test('an empty bucket name, and one with a slash', async () => {
    expect(await problems('download_items:\n  - type: gcs\n    buckets:\n      - name: ""\n        items: []\n      - name: a/b\n        items: []\n')).toEqual([
      'job.yaml:4: download_items[0].buckets[0].name: expected a bucket or container name, got an empty one',
      'job.yaml:6: download_items[0].buckets[1].name: expected a bucket or container name without `/` or spaces, got `a/b`',
    ])
  })

  test('a bad glob, a glob on a file entry, and keys leaving the bucket', async () => {
    expect(await problems(s3With('- folder: a', '  target_path: a', '  glob: "[abc"', '- file: b', '  target_path: b', '  glob: "*"', '- folder: ../up', '  target_path: c', '- file: sub/', '  target_path: d'))).toEqual([
      'job.yaml:9: download_items[0].buckets[0].items[0].glob: expected a glob like **/*.csv, got `[abc` (no closing `]`)',
      'job.yaml:12: download_items[0].buckets[0].items[1].glob: expected `glob` only on a folder entry, got it on a file entry',
      'job.yaml:13: download_items[0].buckets[0].items[2].folder: expected a folder like data/2024 (or . for everything) without `..`, got `../up`',
      'job.yaml:15: download_items[0].buckets[0].items[3].file: expected an object key like dir/name.txt, got `sub/`',
    ])
  })

  test('a credentials file that is not JSON, and an endpoint that is not a URL', async () => {
    expect(await problems(`download_items:
  - type: gcs
    application_credentials_file: secrets/not-json
    buckets: []
  - type: s3
    endpoint_url: minio:9000
    buckets: []
  - type: s3
    endpoint_url_file: secrets/key
    buckets: []
`)).toEqual([
      'job.yaml:3: download_items[0].application_credentials_file: expected a service account key in JSON, got `DIR/secrets/not-json`, which is not JSON',
      'job.yaml:6: download_items[1].endpoint_url: expected an http:// or https:// URL, got `minio:9000`',
      'job.yaml:9: download_items[2].endpoint_url_file: expected an http:// or https:// URL, got something else in the file',
    ])
  })

  test('a job file that cannot be read', async () => {
    const err = await loadJob('missing.yaml', { cwd: dir, env: {} }).then(() => undefined, (e: Error) => e)
    expect(err?.message).toBe('missing.yaml: expected a readable job file, got no such file, ENOENT')
  })
})

describe('loadJob reports every problem of a file at once', () => {
  test('problems of several items, in line order, while valid items are still checked for secrets and targets', async () => {
    expect(await problems(`download_root: /data
download_items:
  - type: s3
    access_key_id_file: secrets/nope
    secret_key_file: secrets/secret
    buckets:
      - name: b
        items:
          - file: x
            target_path: ../x
  - type: s4
  - type: hf
    repo_id: bad id
`)).toEqual([
      'job.yaml:4: download_items[0].access_key_id_file: expected a readable file, got `DIR/secrets/nope` (no such file, ENOENT)',
      'job.yaml:10: download_items[0].buckets[0].items[0].target_path: expected a path inside download_root `/data`, got `../x`',
      'job.yaml:11: download_items[1].type: expected one of `s3`, `gcs`, `azure-blob`, `hf`, got `s4`',
      'job.yaml:13: download_items[2].repo_id: expected a Hugging Face repository id like owner/name, got `bad id`',
    ])
  })

  test(`at most ${maxIssues} problems are listed, then how many more there are`, async () => {
    const items = Array.from({ length: 25 }, () => '  - type: nope').join('\n')
    const lines = await problems(`download_items:\n${items}\n`)
    expect(lines).toHaveLength(maxIssues + 1)
    expect(lines[0]).toBe('job.yaml:2: download_items[0].type: expected one of `s3`, `gcs`, `azure-blob`, `hf`, got `nope`')
    expect(lines.at(-1)).toBe('job.yaml: … and 5 more problems')
  })

  test('no message holds a secret, whatever is wrong around it', async () => {
    const lines = await problems(`download_root: /data
download_items:
  - type: s3
    access_key_id: ${secrets.key}
    secret_key: ${secrets.secret}
    secret_key_file: secrets/secret
    endpoint_url: [${secrets.secret}]
    buckets: []
  - type: azure-blob
    connection_string: not a connection string ${secrets.secret}
    containers: []
  - type: azure-blob
    connection_string: [${secrets.azure}]
    containers: []
`)
    expect(lines).toEqual([
      'job.yaml:6: download_items[0].secret_key_file: expected one of `secret_key` or `secret_key_file`, got both',
      'job.yaml:7: download_items[0].endpoint_url: expected a string, got a list',
      'job.yaml:10: download_items[1].connection_string: expected a connection string like AccountName=…;AccountKey=…, got something else',
      'job.yaml:13: download_items[2].connection_string: expected a string, got a list',
    ])
    for (const value of Object.values(secrets)) expect(lines.join('\n')).not.toContain(value)
  })
})

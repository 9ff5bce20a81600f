import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import { client, cpArgs, freshBucket, md5, s3, soaker, soakerEnv, tempDir, treeOf } from './helpers.js'

/** An environment with no keys in variables: credentials come only from the files under `home`. */
function profileEnv(home: string): NodeJS.ProcessEnv {
  return soakerEnv({
    HOME: home, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined,
    AWS_CONFIG_FILE: join(home, '.aws', 'config'), AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'),
  })
}

describe('soaker cp --profile', () => {
  test('a named profile from the shared credentials file is used', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'p/a', 'a')
    const home = tempDir('home')
    mkdirSync(join(home, '.aws'))
    writeFileSync(join(home, '.aws', 'credentials'), `[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[lab]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`)
    writeFileSync(join(home, '.aws', 'config'), '[profile lab]\nregion = us-east-1\n')
    const dest = tempDir()
    const r = await soaker([...cpArgs(`s3://${bucket}/p`, dest, join(tempDir(), 's.db')), '--profile', 'lab'], profileEnv(home))
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ a: md5('a') })
    // Without --profile the default profile's wrong keys are used, and refused.
    const denied = await soaker(cpArgs(`s3://${bucket}/p`, tempDir(), join(tempDir(), 's.db')), profileEnv(home))
    expect(denied.code).toBe(1)
    expect(denied.stderr).toContain('SOAKER_ACCESS_DENIED')
  })

  test('a profile that does not exist: exit 1 naming it', async () => {
    const home = tempDir('home')
    mkdirSync(join(home, '.aws'))
    writeFileSync(join(home, '.aws', 'config'), '[default]\nregion = us-east-1\n')
    const r = await soaker([...cpArgs('s3://bucket/p', tempDir(), join(tempDir(), 's.db')), '--profile', 'nosuch'], profileEnv(home))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/No AWS credentials found in profile `nosuch`/)
  })

  test('an SSO profile whose session has expired: exit 1 telling the user to run aws sso login', async () => {
    const home = tempDir('home')
    const startUrl = 'https://example.awsapps.com/start'
    mkdirSync(join(home, '.aws', 'sso', 'cache'), { recursive: true })
    writeFileSync(join(home, '.aws', 'config'), [
      '[profile dev]', `sso_start_url = ${startUrl}`, 'sso_region = us-east-1', 'sso_account_id = 123456789012', 'sso_role_name = Reader', 'region = us-east-1', '',
    ].join('\n'))
    // The SDK's token cache for a legacy SSO profile: named after the SHA-1 of the start URL.
    const cache = join(home, '.aws', 'sso', 'cache', `${createHash('sha1').update(startUrl).digest('hex')}.json`)
    writeFileSync(cache, JSON.stringify({ startUrl, region: 'us-east-1', accessToken: 'expired-token', expiresAt: '2020-01-01T00:00:00Z' }))
    const r = await soaker([...cpArgs('s3://bucket/p', tempDir(), join(tempDir(), 's.db')), '--profile', 'dev'], profileEnv(home))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('The SSO session of profile `dev` has expired: run `aws sso login --profile dev` and try again')
  })
})

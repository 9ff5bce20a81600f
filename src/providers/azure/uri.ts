import { UsageError } from '../../errors.js'

/** Azure's container naming rule: 3-63 of a-z, 0-9 and single hyphens, a letter or digit at each end. */
const containerRe = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$/
/** Containers Azure itself names: the account's root, static websites, analytics logs. */
const systemContainers = ['$root', '$web', '$logs']

/** Parses `az://container[/key]`; the key may be empty or a prefix. Rejects with UsageError. */
export function parseAzureUri(raw: string): { container: string; key: string } {
  const m = /^az:\/\/([^/]*)(?:\/(.*))?$/is.exec(raw)
  if (!m) throw new UsageError(`Expected an Azure URI like az://container/prefix, got \`${raw}\``)
  const container = m[1]!
  if (!containerRe.test(container) && !systemContainers.includes(container)) {
    throw new UsageError(`Expected an Azure URI like az://container/prefix with a container name of 3-63 lower-case letters, digits or single hyphens, got \`${raw}\``)
  }
  return { container, key: m[2] ?? '' }
}

/**
 * Azure takes as metadata names only C# identifiers (a letter or `_`, then letters, digits and
 * `_`), and compares them without case. Other stores take more: S3's `x-amz-meta-content-id`,
 * rclone's and users' names with `-` or `.`. Such a name is kept under an identifier that spells
 * it in hex (`soakerhex_<UTF-8 bytes in hex>`), which reads back as the original name: metadata
 * survives a copy into Azure and back out, and no name Azure refuses fails the object.
 */
const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/
const hexPrefix = 'soakerhex_'
const encoded = /^soakerhex_((?:[0-9a-f]{2})+)$/

/** Metadata as Azure stores it: every name an identifier. */
export function toAzureMetadata(metadata: Record<string, string> | undefined): Record<string, string> | undefined {
  if (metadata === undefined) return undefined
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(metadata)) {
    out[identifier.test(name) && !encoded.test(name.toLowerCase()) ? name : hexPrefix + Buffer.from(name, 'utf8').toString('hex')] = value
  }
  return out
}

/** Metadata as Azure gives it back, names in lower case, with the names toAzureMetadata spelled in hex restored. */
export function fromAzureMetadata(metadata: Record<string, string> | undefined): Record<string, string> | undefined {
  if (metadata === undefined) return undefined
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(metadata)) {
    const lower = name.toLowerCase()
    const hex = encoded.exec(lower)?.[1]
    out[hex === undefined ? lower : Buffer.from(hex, 'hex').toString('utf8')] = value
  }
  return out
}

import { startListingServer } from './scripts/support/listing-server.js'
const s = await startListingServer({ keys: Number(process.argv[2] ?? 20000), bucket: 'many' })
console.log(s.url)
setInterval(() => {}, 1 << 30)

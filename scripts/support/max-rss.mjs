// Preloaded with `node --import ./scripts/support/max-rss.mjs bin/soaker.js …`: as the process
// exits, writes its peak resident set size in KiB (getrusage's ru_maxrss, all threads) to the
// file named by SOAKER_MAX_RSS_FILE. Needs no /usr/bin/time and measures the one process itself.
import { writeFileSync } from 'node:fs'

const file = process.env.SOAKER_MAX_RSS_FILE
if (file) process.on('exit', () => writeFileSync(file, `${process.resourceUsage().maxRSS}\n`))

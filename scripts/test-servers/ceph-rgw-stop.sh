#!/bin/bash
# Stops exactly the PIDs recorded by ceph-rgw-start.sh (only if the PID still runs our ceph.conf).
BASE=${CEPH_BASE:-${TMPDIR:-/tmp}/soaker-ceph}; CONF=$BASE/ceph.conf; PIDS=$BASE/pids
[ -s "$PIDS" ] || { echo "nothing to stop"; exit 0; }
ours=""
for p in $(tac "$PIDS" | awk '{print $1}'); do      # reverse start order: rgw, osd, mgr, mon
  grep -qs -- "$CONF" /proc/$p/cmdline && kill -TERM $p && ours="$ours $p" && echo "TERM $p"
done
# wait until they are really gone (an exiting memstore OSD has an empty cmdline for a while)
for i in $(seq 1 60); do left=""; for p in $ours; do [ -d /proc/$p ] && left="$left $p"; done
  [ -z "$left" ] && break; sleep 0.25; done
for p in $left; do kill -KILL $p 2>/dev/null && echo "KILL $p"; done
rm -f "$PIDS"; echo stopped

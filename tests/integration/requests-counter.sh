# The aggregating counter (include/joules/ingest.h, JoulesCounter) through the real joulesd:
# a process in service A adds 1,000,000 counts from 4 threads at a steady pace while a process in
# service B adds 300,000 of another metric from 2 threads; after joules_counter_flush every count
# is stored on its sender's unit, none lost and none doubled, in far fewer datagrams than counts
# (at most one per 100 ms per counter, plus the first and the flush).
# Needs root and a cgroup2 mount (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require

SEND=$JOULES_TESTS_BIN/counter-send
db=$SCRATCH/joules.db
sock=$SCRATCH/ingest.sock
ua=t-joules-$$-ctr-a.service
ub=t-joules-$$-ctr-b.service
cg_unit "$ua"
cg_unit "$ub"

"$JOULESD" --config /dev/null --db "$db" --interval 200ms --energy-source model --events none \
  --cgroup-root "$CG_ROOT" --ingest-socket "$sock" 2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
wait_for_file "$sock" 5 || { cat "$SCRATCH/joulesd.err" >&2; fail "no ingest socket"; }

t0=$(date +%s%N)
# 1,000 counts per thread then 1 ms: about 2 s for A at full speed here, longer when loaded
JOULES_INGEST_SOCKET=$sock cg_spawn "$ua" "$SEND" --threads 4 --counts 1000000 --pace-us 1000 \
  --linger-ms 1000
a=$CG_LAST_PID
JOULES_INGEST_SOCKET=$sock cg_spawn "$ub" "$SEND" --name orders --threads 2 --counts 300000 \
  --pace-us 1000 --linger-ms 1000
b=$CG_LAST_PID
wait "$a" || fail "sender in $ua failed"
wait "$b" || fail "sender in $ub failed"
secs=$(awk -v t="$(($(date +%s%N) - t0))" 'BEGIN { print t / 1e9 }')
sleep 0.6 # two more ticks
kill -TERM "$jd"
wait "$jd" || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not stop cleanly"; }

plain=$(plain_db "$db") # its packed ticks as plain rows, now that joulesd stopped
q() { sqlite3 -separator ' ' "$plain" "$@"; }
count() { # count UNIT METRIC
  q "SELECT COALESCE(SUM(r.count), 0) FROM unit_requests r JOIN units u ON u.id = r.unit_id
     JOIN request_metrics m ON m.id = r.metric_id WHERE u.name = '$1' AND m.name = '$2'"
}
ra=$(count "$ua" requests)
ob=$(count "$ub" orders)
others=$(q "SELECT COALESCE(SUM(r.count), 0) FROM unit_requests r JOIN units u ON u.id = r.unit_id
  WHERE u.name NOT IN ('$ua', '$ub')")
read -r acc rej mal < <(q "SELECT SUM(accepted), SUM(rejected), SUM(malformed) FROM ingest_stats")
note "A: $ra requests, B: $ob orders, elsewhere: $others; $acc datagram lines in ${secs}s"
awk -v v="$ra" 'BEGIN { exit !(v == 1000000) }' || fail "$ua has $ra requests, expected 1000000"
awk -v v="$ob" 'BEGIN { exit !(v == 300000) }' || fail "$ub has $ob orders, expected 300000"
awk -v v="$others" 'BEGIN { exit !(v == 0) }' || fail "$others counts landed on other units"
[ "$rej" -eq 0 ] && [ "$mal" -eq 0 ] || fail "rejected $rej, malformed $mal"
# one datagram per 100 ms per counter, the first and the flush: far fewer than the counts
max=$(awk -v s="$secs" 'BEGIN { printf "%d", 2 * (s * 10 + 2) + 4 }')
[ "$acc" -le "$max" ] || fail "$acc datagrams for two counters over ${secs}s (at most $max expected)"
note "ok"

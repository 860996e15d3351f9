# Requests counted from an access log by the real joulesd: lines written before it starts are not
# counted, a filter keeps the 2xx lines, rotation by rename (logrotate) and by truncation
# (copytruncate) lose nothing that was written after the previous read. Needs no root.
source "$JOULES_SRC/tests/lib.sh"

sys=$SCRATCH/sys
db=$SCRATCH/joules.db
log=$SCRATCH/access.log
unit=t-joules-$$-log.service

"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:20 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done

hit() { # hit N CODE: N log lines with that status
  local i
  for ((i = 0; i < $1; i++)); do
    echo "127.0.0.1 - - [27/Nov/2026:03:00:00 +0000] \"GET /$i HTTP/1.1\" $2 12 \"-\" \"wrk\""
  done >>"$log"
}
hit 50 200 # before the daemon: not counted

cat >"$SCRATCH/joulesd.conf" <<CONF
[ingest]
socket =

[requests "$unit"]
access_log = $log
access_log_filter = " 2[0-9][0-9] [0-9]+ "
CONF
"$JOULESD" --config "$SCRATCH/joulesd.conf" --db "$db" --interval 200ms --sysfs-root "$sys" \
  --energy-source powercap --events none --idle-power 5 2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
# joulesd logs this once it holds the log's end: only lines written after it count
wait_for_line "$SCRATCH/joulesd.err" "counting lines of .*access.log" ||
  { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not open the access log"; }
# (from a copy made at each look, the ticks packed or not as plain rows; removed once read)
counted() {
  local plain
  plain=$(plain_db "$db")
  sqlite3 "$plain" "SELECT COALESCE(SUM(r.count), 0) FROM unit_requests r
    JOIN units u ON u.id = r.unit_id WHERE u.name = '$unit'" 2>/dev/null || echo 0
  rm -f "$plain"
}
# wait_counted N: until the history holds N lines (a loaded machine delays ticks, never loses them)
wait_counted() {
  local i
  for ((i = 0; i < 600; i++)); do
    awk -v g="$(counted)" -v n="$1" 'BEGIN { exit !(g >= n) }' && return 0
    sleep 0.05
  done
  fail "the history holds $(counted) lines after 30 s, expected $1 by now"
}
hit 30 200
hit 7 404 # filtered out
sleep 0.5
hit 10 201
mv "$log" "$log.1" # logrotate: rename, then the server reopens
hit 20 200
sleep 0.5
hit 5 200
# read before the truncation (lines written between a read and a truncation are lost)
wait_counted 65
: >"$log" # copytruncate
hit 3 204
wait_counted 68
sleep 0.5 # nothing more comes
kill -TERM "$jd"
wait "$jd" || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not stop cleanly"; }
cat "$SCRATCH/joulesd.err" >&2

got=$(counted)
# 30 + 10 + 20 + 5 + 3
note "counted $got lines for $unit (expected 68)"
awk -v g="$got" 'BEGIN { exit !(g == 68) }' || fail "counted $got lines, expected 68"
note "ok"

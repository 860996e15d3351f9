# The tick journal as its readers meet it: joulesd on the RAPL simulator (20 W) at 250 ms ticks,
# committing every 3 s (each tick appended to DATABASE-ticks until then). Sampled every 0.4 s
# through two commit cycles:
#   - joules-exporter serves every tick at once: its last tick is never more than a few ticks
#     old, its host counter never goes down, and between the first and last scrape it grew by the
#     simulated 20 W over the time its ticks cover, while the committed history lagged behind
#     (so the journal is what it read);
#   - joules top's window ends at the last commit: every frame covers the whole window asked for;
#   - a stop commits everything and leaves the journal empty.
# Needs curl and sqlite3 (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-net.sh"
for c in curl sqlite3 jq; do command -v "$c" >/dev/null || skip "no $c"; done
EXPORTER=$JOULES_BIN/joules-exporter

sys=$SCRATCH/sys
db=$SCRATCH/j.db
"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:20 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

"$JOULESD" --db "$db" --interval 250ms --sysfs-root "$sys" --energy-source powercap --events none \
  --ingest-socket '' --commit-interval 3s 2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
wait_for_tick "$db" || fail "joulesd stored no tick"
[ -e "$db-ticks" ] || fail "no journal beside the history"

free_port PORT
"$EXPORTER" --db "$db" --listen "127.0.0.1:$PORT" 2>"$SCRATCH/exporter.log" &
ex=$!
CLEANUP+=("kill $ex 2>/dev/null; wait $ex 2>/dev/null")
for _ in $(seq 300); do
  curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$PORT/metrics" 2>/dev/null && break
  sleep 0.1
done
sleep 4 # a commit with more than the 2 s window behind it

metric() { awk -v m="$1" '$1 == m { print $2 }' "$SCRATCH/metrics"; }
first_e= first_t= prev_e=0 lagged=0
for i in $(seq 16); do
  curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$SCRATCH/metrics" || fail "scrape $i"
  now=$(date +%s.%N)
  e=$(metric joules_host_energy_joules_total)
  t=$(metric joules_last_tick_timestamp_seconds)
  [ -n "$e" ] && [ -n "$t" ] || fail "scrape $i: no host counter or last tick"
  committed=$(sqlite3 "$db" 'SELECT MAX(ts_us) / 1e6 FROM ticks')
  # fresh between commits: a few 250 ms ticks at most (this script shares a busy machine)
  awk -v n="$now" -v t="$t" 'BEGIN { exit !(n - t < 1.5) }' ||
    fail "scrape $i: the exporter's last tick is $(awk -v n="$now" -v t="$t" 'BEGIN { print n - t }') s old"
  awk -v t="$t" -v c="$committed" 'BEGIN { exit !(t - c > 0.5) }' && lagged=$((lagged + 1))
  awk -v e="$e" -v p="$prev_e" 'BEGIN { exit !(e >= p) }' || fail "scrape $i: counter went from $prev_e to $e"
  prev_e=$e
  [ -n "$first_e" ] || { first_e=$e; first_t=$t; }
  last_e=$e last_t=$t
  # top's frame is a whole window whatever the moment of the commit cycle
  "$JOULES" --db "$db" top --once --json --window 2s >"$SCRATCH/top.json" || fail "joules top $i"
  secs=$(jq .seconds "$SCRATCH/top.json")
  awk -v s="$secs" 'BEGIN { exit !(s >= 1.7 && s <= 2.3) }' || fail "top frame $i covers $secs s of a 2 s window"
  sleep 0.4
done
w=$(awk -v a="$first_e" -v b="$last_e" -v s="$first_t" -v t="$last_t" 'BEGIN { printf "%.4f", (b - a) / (t - s) }')
within "$w" 20 2 || fail "the exporter's counter grew $w W over its ticks, simulated 20 W"
[ "$lagged" -ge 3 ] || fail "only $lagged of 16 scrapes were ahead of the committed history (journal not read?)"
note "exporter: $w W between scrapes; $lagged of 16 scrapes ahead of the last commit"

kill -TERM $jd
wait $jd || fail "joulesd did not stop cleanly"
[ ! -s "$db-ticks" ] || fail "the journal is not empty after a clean stop"
n=$(sqlite3 "$db" 'SELECT COUNT(*) FROM ticks')
note "ok: $n ticks committed"

# joules run, end to end: the real joulesd reading the RAPL simulator (40 W), a real HTTP server
# in a real cgroup service, wrk as the load generator.
#   (a) joules run --unit WEB -- wrk ...: requests equal to wrk's own count, the service's energy
#       equal to the history's for the printed window, the host's energy that of the simulator;
#   (b) --requests-from ingest: the server's own counts through the ingest socket;
#   (c) without --unit, the command's own process tree in system.slice/joules-run-PID.scope: its
#       energy is all the energy that unit ever got, and the cgroup is gone afterwards;
#   (d) without a daemon writing the history, joules run says so and exits 1.
# Needs root, a cgroup2 mount and wrk (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require
command -v wrk >/dev/null || skip "no wrk (apt-get install wrk)"

sys=$SCRATCH/sys
db=$SCRATCH/joules.db
sock=$SCRATCH/ingest.sock
web=t-joules-$$-web.service

"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:40 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

"$JOULESD" --db "$db" --interval 200ms --sysfs-root "$sys" --energy-source powercap \
  --cgroup-root "$CG_ROOT" --events none --idle-power 10 --ingest-socket "$sock" \
  2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
wait_for_file "$sock" 5 || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not start"; }

cg_unit "$web"
cg_spawn "$web" "$JOULES_TESTS_BIN/http-server" --port-file "$SCRATCH/port" \
  --ingest-socket "$sock" --busy-us 20
wait_for_file "$SCRATCH/port" 5 || fail "http-server did not start"
url=http://127.0.0.1:$(cat "$SCRATCH/port")/
sleep 0.5

q() { sqlite3 -separator ' ' "$db" "$@"; }
# unit_energy_between UNIT FROM_US TO_US: the history's own sum, in J (from a copy made now, its
# packed ticks as plain rows: joulesd is writing the history)
unit_energy_between() {
  local plain
  plain=$(plain_db "$db")
  db=$plain q "SELECT printf('%.6f', COALESCE(SUM(e.active_uj + e.idle_uj), 0) / 1e6) FROM unit_energy e
     JOIN ticks t ON t.id = e.tick_id JOIN units u ON u.id = e.unit_id
     WHERE u.name = '$1' AND t.ts_us > $2 AND t.ts_us <= $3"
}

# (a) wrk against the service; wrk's output goes to stderr with --json
"$JOULES" --db "$db" run --json --unit "$web" -- wrk -t1 -c4 -d3s "$url" \
  >"$SCRATCH/run-a.json" 2>"$SCRATCH/run-a.err" || { cat "$SCRATCH/run-a.err" >&2; fail "(a) joules run"; }
cat "$SCRATCH/run-a.json" >&2
wrk_n=$(awk '/requests in/ { print $1 }' "$SCRATCH/run-a.err")
[ -n "$wrk_n" ] && [ "$wrk_n" -gt 1000 ] || fail "(a) wrk's output did not reach stderr: $(cat "$SCRATCH/run-a.err")"
j() { jq -r "$1" "$SCRATCH/$2"; }
[ "$(j .requests run-a.json)" = "$wrk_n" ] || fail "(a) requests $(j .requests run-a.json), wrk says $wrk_n"
[ "$(j .unit run-a.json)" = "$web" ] || fail "(a) unit"
[ "$(j .estimated run-a.json)" = false ] || fail "(a) estimated"
e=$(j .energy_j run-a.json)
awk -v e="$e" 'BEGIN { exit !(e > 0) }' || fail "(a) no energy for $web"
from=$(j .window_from_us run-a.json)
to=$(j .window_to_us run-a.json)
hist=$(unit_energy_between "$web" "$from" "$to")
within "$e" "$hist" 0.0001 || fail "(a) energy $e J differs from the history's $hist J for the window"
# joules services over the printed window gives the same figure
"$JOULES" --db "$db" services --json --since "$(j .window_from run-a.json)" \
  --until "$(j .window_to run-a.json)" >"$SCRATCH/svc-a.json" || fail "(a) joules services"
se=$(jq -r --arg u "$web" '.units[] | select(.unit == $u) | .energy_j' "$SCRATCH/svc-a.json")
within "$e" "$se" 0.0001 || fail "(a) joules run says $e J, joules services $se J for the same window"
jpr=$(j .j_per_request run-a.json)
awk -v a="$jpr" -v e="$e" -v n="$wrk_n" 'BEGIN { d = a - e / n; exit !(d < 1e-12 && d > -1e-12) }' ||
  fail "(a) j_per_request $jpr != $e / $wrk_n"
dur=$(j .duration_s run-a.json)
win=$(j .window_s run-a.json)
awk -v d="$dur" -v w="$win" 'BEGIN { exit !(d >= 3 && w >= d && w <= d + 0.5) }' ||
  fail "(a) duration $dur s, window $win s"
# the simulator draws 40 W: the host's energy over the window says so
host=$(j .host_energy_j run-a.json)
within "$host" "$(awk -v w="$win" 'BEGIN { print 40 * w }')" 3 || fail "(a) host energy $host J over $win s is not 40 W"
note "(a) wrk $wrk_n requests, $web $e J over $win s (window), $jpr J/request, host $host J"

# (b) the server's own counts through the ingest socket
"$JOULES" --db "$db" run --json --unit "$web" --requests-from ingest -- wrk -t1 -c4 -d2s "$url" \
  >"$SCRATCH/run-b.json" 2>"$SCRATCH/run-b.err" || fail "(b) joules run"
wrk_b=$(awk '/requests in/ { print $1 }' "$SCRATCH/run-b.err")
ing=$(j .requests run-b.json)
note "(b) ingest counted $ing requests for $web, wrk $wrk_b"
# the server's count: what wrk counted, plus the few in flight when wrk stopped, minus at most a
# last batch whose datagram reached joulesd after the closing tick (within 1%)
awk -v i="$ing" -v w="$wrk_b" 'BEGIN { exit !(i >= w * 0.99 && i <= w * 1.01 + 10) }' ||
  fail "(b) ingest requests $ing, wrk $wrk_b"
[ "$(j .requests_from run-b.json)" = ingest ] || fail "(b) requests_from"

# (c) the command's own process tree
# bash's `times` prints the CPU its children used: what the scope must have been charged, whatever
# the load on this machine lets the burner reach
"$JOULES" --db "$db" run --json --cgroup-root "$CG_ROOT" -- bash -c \
  "'$JOULES_TESTS_BIN/burn' --duty 0.5 --seconds 2; times >'$SCRATCH/times-c'" \
  >"$SCRATCH/run-c.json" 2>"$SCRATCH/run-c.err" || { cat "$SCRATCH/run-c.err" >&2; fail "(c) joules run"; }
cat "$SCRATCH/run-c.json" >&2
scope=$(j .unit run-c.json)
[[ $scope == joules-run-*.scope ]] || fail "(c) unit $scope"
[ ! -d "$CG_ROOT/system.slice/$scope" ] || fail "(c) $scope was not removed"
ec=$(j .energy_j run-c.json)
all=$(unit_energy_between "$scope" 0 9223372036854775807)
within "$ec" "$all" 0.0001 || fail "(c) energy $ec J, but the unit got $all J in all"
plain=$(plain_db "$db")
cpu=$(db=$plain q "SELECT SUM(e.cpu_ns) FROM unit_energy e JOIN units u ON u.id = e.unit_id WHERE u.name = '$scope'")
# all of the burner's CPU was seen in the scope (none lost to a baseline): its own user + system
# time (the second line of `times`, "0m0.503s 0m0.002s"), plus a little for bash itself
child_ns=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
  printf "%.0f", t * 1e9 }' "$SCRATCH/times-c")
awk -v c="$cpu" -v b="$child_ns" 'BEGIN { exit !(b > 0.3e9 && c > 0.95 * b && c < 1.05 * b + 50e6) }' ||
  fail "(c) $scope used $cpu ns of CPU, the burner $child_ns ns"
awk -v e="$ec" 'BEGIN { exit !(e > 0) }' || fail "(c) no energy"
[ "$(j .requests run-c.json)" = null ] || fail "(c) requests should be null"
note "(c) $scope: $ec J, $cpu ns CPU"

# (e) a joulesd that commits every 3 s (each tick in its journal until then): the window is the
# same whole ticks, found in the journal as they come, and its energy is read once committed
db_e=$SCRATCH/commit.db
"$JOULESD" --db "$db_e" --interval 200ms --sysfs-root "$sys" --energy-source powercap \
  --cgroup-root "$CG_ROOT" --events none --idle-power 10 --ingest-socket '' \
  --commit-interval 3s 2>"$SCRATCH/joulesd-e.err" &
jde=$!
CLEANUP+=("kill $jde 2>/dev/null; wait $jde 2>/dev/null")
wait_for_tick "$db_e" || fail "(e) joulesd stored no tick"
sleep 1
"$JOULES" --db "$db_e" run --json --unit "$web" -- wrk -t1 -c4 -d2s "$url" \
  >"$SCRATCH/run-e.json" 2>"$SCRATCH/run-e.err" || { cat "$SCRATCH/run-e.err" >&2; fail "(e) joules run"; }
dur=$(j .duration_s run-e.json)
win=$(j .window_s run-e.json)
awk -v d="$dur" -v w="$win" 'BEGIN { exit !(d >= 2 && w >= d && w <= d + 0.5) }' ||
  fail "(e) duration $dur s, window $win s"
ee=$(j .energy_j run-e.json)
hist=$(db=$db_e unit_energy_between "$web" "$(j .window_from_us run-e.json)" "$(j .window_to_us run-e.json)")
within "$ee" "$hist" 0.0001 || fail "(e) energy $ee J differs from the history's $hist J for the window"
awk -v e="$ee" 'BEGIN { exit !(e > 0) }' || fail "(e) no energy for $web"
kill -TERM "$jde"
wait "$jde" || fail "(e) joulesd did not stop cleanly"
note "(e) commit interval 3 s: $ee J over $win s (window), duration $dur s"

# the table output
"$JOULES" --db "$db" run --unit "$web" -- wrk -t1 -c2 -d1s "$url" >"$SCRATCH/run-t.out" 2>&1 ||
  fail "table run failed"
grep -q "requests .* (from wrk)" "$SCRATCH/run-t.out" || fail "table lacks requests: $(cat "$SCRATCH/run-t.out")"
grep -q "Requests/sec" "$SCRATCH/run-t.out" || fail "wrk's own output did not reach the terminal"

# a failing command's exit code is passed on
set +e
"$JOULES" --db "$db" run --unit "$web" -- sh -c 'exit 7' >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 7 ] || fail "exit code $rc, expected the command's 7"

# a unit that drew nothing in the window (a typo) is exit code 3
set +e
"$JOULES" --db "$db" run --unit "no-such-$$.service" -- true >/dev/null 2>"$SCRATCH/run-typo.err"
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "exit code $rc for a unit that drew nothing, expected 3"
grep -q "drew no energy" "$SCRATCH/run-typo.err" || fail "no word on the unit that drew nothing"

# (d) no daemon
kill -TERM "$jd"
wait "$jd" || fail "joulesd did not stop cleanly"
sleep 2 # more than 3 intervals + 1 s since the last tick
set +e
"$JOULES" --db "$db" run -- true >"$SCRATCH/run-d.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "(d) exit code $rc without a daemon"
grep -q "no joulesd is writing" "$SCRATCH/run-d.out" || fail "(d) message: $(cat "$SCRATCH/run-d.out")"
note "ok"

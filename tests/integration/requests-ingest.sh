# Requests through the ingest socket, end to end: real processes in real cgroup services
# (system.slice/*.service under the cgroup v2 mount), the real joulesd, a real SQLite history.
#   (a) a process in service A sends 1,000 counts (through include/joules/ingest.h): all land on A;
#   (b) a non-root process in service B tags A's name: every such line is rejected and counted,
#       while its untagged lines count for B itself;
#   (c) malformed datagrams (binary junk, 64 KiB lines, negative, non-numeric, NaN values) leave
#       the daemon running and are counted;
#   (d) root may count for another unit with a tag; sample rates scale; other names kept apart;
#   (e) a non-root process in a trusted unit (a load balancer, [ingest] trusted_units) may tag;
#   joules status and joules services show the figures.
# Needs root and a cgroup2 mount (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"

SEND=$JOULES_TESTS_BIN/ingest-send
sys=$SCRATCH/sys
db=$SCRATCH/joules.db
chmod 0711 "$SCRATCH" # the unprivileged sender must reach the socket
mkdir -m 0755 "$SCRATCH/run"
sock=$SCRATCH/run/ingest.sock
ua=t-joules-$$-req-a.service
ub=t-joules-$$-req-b.service
uc=t-joules-$$-req-lb.service
printf '[ingest]\ntrusted_units = other.service %s\n' "$uc" >"$SCRATCH/joulesd.conf"

"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:30:50000000 --interval-ms 5 \
  >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

cg_unit "$ua"
cg_unit "$ub"
cg_unit "$uc"

"$JOULESD" --config "$SCRATCH/joulesd.conf" --db "$db" --interval 200ms --sysfs-root "$sys" --energy-source powercap \
  --cgroup-root "$CG_ROOT" --events none --idle-power 10 --ingest-socket "$sock" \
  2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
wait_for_file "$sock" 5 || { cat "$SCRATCH/joulesd.err" >&2; fail "no ingest socket"; }
[ "$(stat -c %a "$sock")" = 660 ] || fail "socket mode $(stat -c %a "$sock"), expected 660"
chmod 0666 "$sock" # this test's unprivileged sender has no joules group
sleep 0.5

# (a) 1,000 counts from inside service A, one datagram each, then 500 lines in batches of 50.
cg_spawn "$ua" "$SEND" --socket "$sock" --count 1000 --linger-ms 1500
a1=$CG_LAST_PID
# (b) a non-root process in service B: 100 lines tagged with A's name, 40 of its own.
cg_spawn "$ub" setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$SEND" --socket "$sock" --count 100 --per-dgram 10 --line "requests:1|c|#unit:$ua" --linger-ms 1500
b1=$CG_LAST_PID
cg_spawn "$ub" setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$SEND" --socket "$sock" --count 40 --per-dgram 4 --linger-ms 1500
b2=$CG_LAST_PID
# (c) junk, from service B as well.
cg_spawn "$ub" "$SEND" --socket "$sock" --junk --linger-ms 1500
b3=$CG_LAST_PID
# (d) root in no unit may count for A; a sample rate; another metric name.
"$SEND" --socket "$sock" --count 5 --line "requests:1|c|@0.1|#unit:$ua" --linger-ms 500 >/dev/null
cg_spawn "$ua" "$SEND" --socket "$sock" --count 500 --per-dgram 50 --line "requests:1|c" --linger-ms 1500
a2=$CG_LAST_PID
cg_spawn "$ua" "$SEND" --socket "$sock" --count 7 --line "orders:3|c" --linger-ms 1500
a3=$CG_LAST_PID
# (e) the trusted load balancer counts 30 for A
cg_spawn "$uc" setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$SEND" --socket "$sock" --count 30 --per-dgram 3 --line "requests:1|c|#unit:$ua" --linger-ms 1500
c1=$CG_LAST_PID
for p in $a1 $a2 $a3 $b1 $b2 $b3 $c1; do wait "$p" || fail "sender $p failed"; done
sleep 0.6 # two more ticks
kill -0 "$jd" 2>/dev/null || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd died"; }
kill -TERM "$jd"
wait "$jd" || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not stop cleanly"; }
note "joulesd log:"
cat "$SCRATCH/joulesd.err" >&2

plain=$(plain_db "$db") # its packed ticks as plain rows, now that joulesd stopped
q() { sqlite3 -separator ' ' "$plain" "$@"; }
count() { # count UNIT METRIC
  q "SELECT COALESCE(SUM(r.count), 0) FROM unit_requests r JOIN units u ON u.id = r.unit_id
     JOIN request_metrics m ON m.id = r.metric_id WHERE u.name = '$1' AND m.name = '$2'"
}
ca=$(count "$ua" requests)
cb=$(count "$ub" requests)
co=$(count "$ua" orders)
note "A: $ca requests, $co orders; B: $cb requests"
# (a) 1000 + 500 from A itself, + 5 x 10 (1 at @0.1) tagged by root, + 30 from the trusted unit
awk -v v="$ca" 'BEGIN { exit !(v == 1580) }' || fail "(a) $ua has $ca requests, expected 1580"
awk -v v="$co" 'BEGIN { exit !(v == 21) }' || fail "(d) $ua has $co orders, expected 21"
# (b) B's own 40 count, the 100 tagged lines do not
awk -v v="$cb" 'BEGIN { exit !(v == 40) }' || fail "(b) $ub has $cb requests, expected 40"
read -r acc rej mal < <(q "SELECT SUM(accepted), SUM(rejected), SUM(malformed) FROM ingest_stats")
note "ingest lines: accepted $acc, rejected $rej, malformed $mal"
[ "$acc" -eq $((1000 + 500 + 5 + 7 + 40 + 30)) ] || fail "accepted $acc"
[ "$rej" -eq 100 ] || fail "(b) rejected $rej, expected 100"
# (c) binary junk (1 or more lines), the 65000-byte line, the oversized datagram, 8 bad lines
[ "$mal" -ge 11 ] || fail "(c) malformed $mal, expected at least 11"
grep -q "malformed" "$SCRATCH/joulesd.err" || fail "(c) no malformed report in the log"
[ "$(grep -c "malformed and" "$SCRATCH/joulesd.err")" -le 1 ] || fail "(c) malformed logged more than once a minute"

# joules status and joules services
"$JOULES" --db "$db" status --json >"$SCRATCH/status.json"
[ "$(jq '.ingest.accepted' "$SCRATCH/status.json")" -eq "$acc" ] || fail "status accepted"
[ "$(jq '.ingest.rejected' "$SCRATCH/status.json")" -eq 100 ] || fail "status rejected"
[ "$(jq '.ingest.malformed' "$SCRATCH/status.json")" -eq "$mal" ] || fail "status malformed"
"$JOULES" --db "$db" status | grep -q "ingest lines.*$acc accepted, 100 rejected, $mal malformed" ||
  fail "status table lacks the ingest line"
"$JOULES" --db "$db" services --since 1h --json >"$SCRATCH/services.json" || fail "joules services"
jq -e --arg u "$ua" '.units[] | select(.unit == $u) | .requests == 1580 and
  (.j_per_request - .energy_j / 1580 | fabs) < 1e-9 and
  (.active_j_per_request - .active_j / 1580 | fabs) < 1e-9' "$SCRATCH/services.json" >/dev/null ||
  fail "services JSON for $ua: $(jq -c --arg u "$ua" '.units[] | select(.unit == $u)' "$SCRATCH/services.json")"
jq -e --arg a "$ua" --arg b "$ub" '[.units[] | select(.unit != $a and .unit != $b)] |
  length > 0 and all(.requests == null and .j_per_request == null and .active_j_per_request == null)' \
  "$SCRATCH/services.json" >/dev/null || fail "units without requests should have null requests"
# (a long unit name has a line of its own, its figures on the next)
"$JOULES" --db "$db" services --since 1h | grep -A1 -F "$ua" | tr '\n' ' ' | grep -q " 1580 " ||
  fail "services table lacks requests"
"$JOULES" --db "$db" services --since 1h | awk 'length > 80 { bad = 1 } END { exit bad }' ||
  fail "services table wider than 80 columns"
[ ! -e "$sock" ] || fail "the socket was not removed at exit"
note "ok"

# Requests scraped from a service's own Prometheus counter: a real HTTP server on loopback (in a
# real cgroup service) serves /metrics from a file the test rewrites; the real joulesd scrapes it
# with libcurl once a second. The counter grows, other status codes are filtered out by the
# matcher code=~"2..", a new series appears, the counter resets (the process "restarted"), and at
# last the server goes away: the failure is logged once, however many scrapes fail. A second
# service never answers its /metrics: each scrape times out after 300 ms, logged once, and the
# tick loop keeps its 200 ms beat all along. The scrapes run in a worker process that holds no
# capability, runs as nobody (joulesd runs as root here) and holds none of joulesd's files; killed,
# it is started again 10 s later.
# Needs root and a cgroup2 mount (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require

sys=$SCRATCH/sys
db=$SCRATCH/joules.db
m=$SCRATCH/metrics
web=t-joules-$$-scrape.service

"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:20 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done

metrics() { # metrics OK_200 OK_201 ERR_500 (201 omitted when empty)
  {
    echo "# HELP http_requests_total Requests served."
    echo "# TYPE http_requests_total counter"
    echo "http_requests_total{code=\"200\",path=\"/a \\\"quoted\\\"\"} $1"
    [ -n "$2" ] && echo "http_requests_total{code=\"201\",path=\"/b\"} $2"
    echo "http_requests_total{code=\"500\",path=\"/a\"} $3"
    echo "http_requests_created{code=\"200\"} 1.7e9"
  } >"$m.tmp"
  mv "$m.tmp" "$m"
}
metrics 100 "" 50

cg_unit "$web"
cg_spawn "$web" "$JOULES_TESTS_BIN/http-server" --port-file "$SCRATCH/port" --metrics-file "$m"
srv=$CG_LAST_PID
wait_for_file "$SCRATCH/port" 5 || fail "http-server did not start"
port=$(cat "$SCRATCH/port")
stuck=t-joules-$$-stuck.service
cg_unit "$stuck"
cg_spawn "$stuck" "$JOULES_TESTS_BIN/http-server" --port-file "$SCRATCH/port-stuck" --hang
wait_for_file "$SCRATCH/port-stuck" 5 || fail "the hanging http-server did not start"
port_stuck=$(cat "$SCRATCH/port-stuck")

cat >"$SCRATCH/joulesd.conf" <<CONF
[ingest]
socket =

[requests "$web"]
scrape_url = http://127.0.0.1:$port/metrics
scrape_metric = http_requests_total{code=~"2.."}
scrape_interval = 1s
scrape_timeout = 500ms

[requests "$stuck"]
scrape_url = http://127.0.0.1:$port_stuck/metrics
scrape_metric = http_requests_total
scrape_interval = 1s
scrape_timeout = 300ms
CONF
"$JOULESD" --config "$SCRATCH/joulesd.conf" --check-config >/dev/null || fail "config rejected"
"$JOULESD" --config "$SCRATCH/joulesd.conf" --dump-config | grep -q "^\[requests \"$web\"\]" ||
  fail "--dump-config lacks the requests section"

"$JOULESD" --config "$SCRATCH/joulesd.conf" --db "$db" --interval 200ms --sysfs-root "$sys" \
  --energy-source powercap --cgroup-root "$CG_ROOT" --events none --idle-power 5 \
  --log-level debug 2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
# Each state lasts 2.2 s: at least one scrape sees it (1 s apart, delayed at most 300 ms by the
# stuck service's timeout on the same thread).
sleep 2.2           # the baseline scrape: 100 (the 500s do not count)
worker=$(pgrep -P "$jd" -f -- --scrape-worker) || fail "no scrape worker under joulesd"
for c in CapInh CapPrm CapEff CapAmb; do
  v=$(awk -v k="$c:" '$1 == k { print $2 }' "/proc/$worker/status")
  [ "$v" = 0000000000000000 ] || fail "the scrape worker holds capabilities: $c $v"
done
wuid=$(awk '/^Uid:/ { print $2 }' "/proc/$worker/status")
[ "$wuid" = 65534 ] || fail "the scrape worker of a joulesd run as root runs as uid $wuid, not nobody"
[ "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$worker/status")" = 1 ] ||
  fail "the scrape worker lacks no_new_privs"
wfds=$(ls -l "/proc/$worker/fd" | awk 'NR > 1 { print $NF }')
grep -q "$db" <<<"$wfds" && fail "the scrape worker holds the history open: $wfds"
note "scrape worker $worker: no capabilities, uid 65534, no_new_privs, fds: $(tr '\n' ' ' <<<"$wfds")"
metrics 150 10 80   # +50, a new 2xx series +10: 60
sleep 2.2
metrics 5 "" 3      # a reset: 5 since (the 201 series is gone with it)
sleep 2.2
metrics 25 "" 9     # +20
sleep 2.2
kill -KILL "$worker" # counted and sent already; joulesd starts another 10 s later
sleep 11
worker2=$(pgrep -P "$jd" -f -- --scrape-worker) || fail "no scrape worker 11 s after the first was killed"
[ "$worker2" != "$worker" ] || fail "the killed scrape worker is still there"
kill -TERM "$srv"   # the service goes away: several scrapes fail
wait "$srv" 2>/dev/null || true
sleep 3.5
kill -0 "$jd" || fail "joulesd died"
kill -TERM "$jd"
wait "$jd" || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not stop cleanly"; }
grep -v debug "$SCRATCH/joulesd.err" >&2

plain=$(plain_db "$db") # its packed ticks as plain rows, now that joulesd stopped
q() { sqlite3 -separator ' ' "$plain" "$@"; }
got=$(q "SELECT COALESCE(SUM(r.count), 0) FROM unit_requests r JOIN units u ON u.id = r.unit_id
         JOIN request_metrics m ON m.id = r.metric_id WHERE u.name = '$web' AND m.name = 'requests'")
note "scraped $got requests for $web (expected 60 + 5 + 20 = 85)"
awk -v g="$got" 'BEGIN { exit !(g == 85) }' || fail "scraped $got requests, expected 85"
n_fail=$(grep -c "warning: scraping http://127.0.0.1:$port/metrics for $web" "$SCRATCH/joulesd.err" || true)
[ "$n_fail" -eq 1 ] || fail "the failure was logged $n_fail times, expected once"
n_stuck=$(grep -c "warning: scraping http://127.0.0.1:$port_stuck/metrics for $stuck: .*[Tt]imeout\|timed out" "$SCRATCH/joulesd.err" || true)
[ "$n_stuck" -eq 2 ] ||
  fail "the stuck service's timeout was logged $n_stuck times, expected once by each worker"
grep -q "the scrape worker (pid $worker) was killed by signal 9" "$SCRATCH/joulesd.err" ||
  fail "joulesd did not say its scrape worker died"
# the tick loop kept its beat while scrapes hung: no gap between ticks much above 200 ms
gap=$(q "SELECT MAX(dt_us) FROM ticks WHERE id > (SELECT MIN(id) FROM ticks)")
note "longest interval between ticks: $gap us"
[ "$gap" -lt 300000 ] || fail "a tick waited $gap us: the scrapes held up the tick loop"
"$JOULES" --db "$db" services --json --since 1h |
  jq -e --arg u "$web" '.units[] | select(.unit == $u) | .requests == 85' >/dev/null ||
  fail "joules services does not show 85 requests for $web"
note "ok"

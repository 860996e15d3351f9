# joules through a real Prometheus, from two hosts to a central store:
#
#   host A: rapl-sim 30 W -> joulesd -> A.db <- joules-exporter :PA ┐ scraped every 1 s by the edge
#   host B: rapl-sim 55 W -> joulesd -> B.db <- joules-exporter :PB ┘ Prometheus (joules.rules.yml
#           loaded), which remote_writes everything to a central Prometheus (remote-write receiver)
#
# Debian's prometheus on loopback, random free ports, queried through the HTTP API:
#   (a) the edge's rate(joules_host_energy_joules_total) per instance is each simulated power
#       within 2%, and the units of each instance add up to its host (counters and watts);
#   (b) joulesd B and exporter A are restarted (Prometheus sees A down) and resets() stays 0;
#   (c) J/request from the recording rule matches `joules services --json` for a real cgroup
#       unit that counted requests through the ingest socket;
#   (d) every rule is healthy, every dashboard variable and panel query (variables substituted)
#       returns data, and the estimated/measured marker says measured;
#   (e) the central store holds both hosts' raw series and every recording rule's series, answers
#       the fleet queries, and evaluating the rules there from the raw series gives the edge's
#       values.
# Needs root and a cgroup2 mount, prometheus, curl and jq (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-net.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require
for c in prometheus curl jq ss; do command -v "$c" >/dev/null || skip "no $c"; done
EXPORTER=$JOULES_BIN/joules-exporter
[ -x "$EXPORTER" ] || fail "no $EXPORTER"
SIM=$JOULES_TESTS_BIN/rapl-sim
started=$(date +%s)

now() { date +%s.%N; }

# query URL PROMQL [TIME]: the result array of an instant query
query() {
  local out
  out=$(curl -fsS --max-time 10 "$1/api/v1/query" --data-urlencode "query=$2" \
    ${3:+--data-urlencode "time=$3"}) || die "query $2 at $1 failed"
  jq -e '.status == "success"' <<<"$out" >/dev/null || die "query $2: $out"
  jq -c '.data.result' <<<"$out"
}
# value URL PROMQL INSTANCE [TIME]: the value of the one series for that instance
value() {
  local r
  r=$(query "$1" "$2" "${4:-}")
  jq -r --arg i "$3" '[.[] | select(.metric.instance == $i)] |
    if length == 1 then .[0].value[1] else "none" end' <<<"$r"
}
# wait_query URL PROMQL SECONDS: until the query returns something
wait_query() {
  local i
  for ((i = 0; i < $3 * 4; i++)); do
    [ "$(query "$1" "$2" | jq length)" -gt 0 ] && return 0
    sleep 0.25
  done
  return 1
}

# --- two hosts ---------------------------------------------------------------------------------
free_port PA
free_port PB
free_port PE
free_port PC
IA=127.0.0.1:$PA
IB=127.0.0.1:$PB
EDGE=http://127.0.0.1:$PE
CENTRAL=http://127.0.0.1:$PC
mkdir -m 0755 "$SCRATCH/run"
sock=$SCRATCH/run/ingest.sock
unit=t-joules-$$-prom.service

# The kernel's usual range (262 kJ): a counter that wraps twice between two readings cannot be
# undone, and on a loaded machine a tick can come seconds late (wraps are host-energy-sim.sh's).
start_sim() { # start_sim NAME PACKAGE_W DRAM_W
  "$SIM" --root "$SCRATCH/sys-$1" --zone "package-0:$2" --zone "dram:$3" \
    --interval-ms 5 >"$SCRATCH/sim-$1.out" 2>"$SCRATCH/sim-$1.log" &
  eval "sim_$1=$!"
  CLEANUP+=("kill \$sim_$1 2>/dev/null; wait \$sim_$1 2>/dev/null")
  for _ in $(seq 200); do grep -q '^ready' "$SCRATCH/sim-$1.out" && return 0; sleep 0.05; done
  die "rapl-sim $1 did not start"
}
start_joulesd() { # start_joulesd NAME INGEST_SOCKET
  "$JOULESD" --db "$SCRATCH/$1.db" --interval 250ms --sysfs-root "$SCRATCH/sys-$1" \
    --energy-source powercap --cgroup-root "$CG_ROOT" --events none --idle-power 5 \
    --ingest-socket "$2" 2>>"$SCRATCH/joulesd-$1.log" &
  eval "jd_$1=$!"
}
start_exporter() { # start_exporter NAME PORT: and waits until it answers
  "$EXPORTER" --db "$SCRATCH/$1.db" --listen "127.0.0.1:$2" 2>>"$SCRATCH/exporter-$1.log" &
  eval "ex_$1=$!"
  for _ in $(seq 300); do # 30 s: machines running many tests at once can be very slow
    curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$2/metrics" 2>/dev/null && return 0
    sleep 0.1
  done
  die "joules-exporter $1 does not answer on port $2"
}
start_sim A 25 5
start_sim B 45 10
CLEANUP+=('kill $jd_A $jd_B 2>/dev/null; wait $jd_A $jd_B 2>/dev/null')
CLEANUP+=('kill $ex_A $ex_B 2>/dev/null; wait $ex_A $ex_B 2>/dev/null')
start_joulesd A "$sock"
start_joulesd B ""
for _ in $(seq 200); do [ -e "$SCRATCH/A.db" ] && [ -e "$SCRATCH/B.db" ] && break; sleep 0.05; done
sleep 0.5 # a few ticks in each history
start_exporter A "$PA"
start_exporter B "$PB"

# A real cgroup unit on host A that counts requests through the ingest socket. First a little work
# and one request, before Prometheus starts: both of the unit's series are then there from the
# first scrape, before the window the J/request rule is checked over (a series born inside a
# window would be extrapolated differently from the other one).
cg_unit "$unit"
cg_spawn "$unit" "$JOULES_TESTS_BIN/burn" --duty 0.5 --seconds 1
b0=$CG_LAST_PID
# (The senders linger: joulesd maps a sender's PID to its unit when it reads the datagram, so the
# sender must still be alive then, however slow the machine.)
cg_spawn "$unit" "$JOULES_TESTS_BIN/ingest-send" --socket "$sock" --count 1 --linger-ms 4000
s0=$CG_LAST_PID
wait "$b0" || die "the first burn failed"

# --- the edge and the central Prometheus -------------------------------------------------------
cat >"$SCRATCH/central.yml" <<EOF
global:
  evaluation_interval: 1s
EOF
cat >"$SCRATCH/edge.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
  external_labels:
    site: edge-1
rule_files:
  - $JOULES_SRC/prometheus/joules.rules.yml
scrape_configs:
  - job_name: joules
    static_configs:
      - targets: ['$IA', '$IB']
remote_write:
  - url: $CENTRAL/api/v1/write
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send: false
EOF
promtool check config "$SCRATCH/edge.yml" >/dev/null || fail "promtool check config edge.yml"
start_prometheus() { # start_prometheus NAME PORT FLAGS...
  local name=$1 port=$2
  shift 2
  prometheus --config.file "$SCRATCH/$name.yml" --storage.tsdb.path "$SCRATCH/tsdb-$name" \
    --web.listen-address "127.0.0.1:$port" --log.level warn "$@" 2>"$SCRATCH/prometheus-$name.log" &
  eval "prom_$name=$!"
  for _ in $(seq 300); do
    curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && return 0
    kill -0 "$(eval echo "\$prom_$name")" 2>/dev/null || die "prometheus $name exited"
    sleep 0.1
  done
  die "prometheus $name is not ready"
}
# The edge first: stopped after the central one, it would wait to flush what it could not send.
prom_edge=""
prom_central=""
CLEANUP+=('for p in $prom_edge $prom_central; do kill $p 2>/dev/null; wait $p 2>/dev/null; done')
start_prometheus central "$PC" --web.enable-remote-write-receiver
start_prometheus edge "$PE" --storage.remote.flush-deadline 1s
wait_query "$EDGE" 'count(up{job="joules"} == 1) == 2' 15 || die "the edge does not scrape both exporters"
scraped=$(now)
note "two hosts scraped by the edge at $EDGE, writing to $CENTRAL ($(($(date +%s) - started)) s)"

# --- (b) restarts: joulesd B (the history goes on), exporter A (Prometheus sees it down) ----------
kill -TERM "$jd_B"
wait "$jd_B" || die "joulesd B did not stop cleanly"
sleep 1
start_joulesd B ""
kill -TERM "$ex_A"
wait "$ex_A" || die "joules-exporter A did not stop cleanly"
sleep 2.5 # at least two failed scrapes
start_exporter A "$PA"
wait_query "$EDGE" "up{instance=\"$IA\"} == 1" 10 || die "exporter A is not scraped again"
restarted=$(now)

# The unit's series (its first work was done before Prometheus started).
wait_query "$EDGE" "joules_unit_requests_total{instance=\"$IA\",unit=\"$unit\"}" 10 ||
  die "no request counter for $unit"
wait_query "$EDGE" "joules_unit_energy_joules_total{instance=\"$IA\",unit=\"$unit\"} > 0" 10 ||
  die "no energy for $unit"
born=$(now)
wait "$s0" || die "the first request failed"

# --- (c) the unit's work: 400 requests ------------------------------------------------------------
# The J/request rule's minute at Q (below) must begin before the work does.
sleep "$(awk -v b="$born" -v r="$restarted" -v n="$(now)" \
  'BEGIN { s = b + 5; if (r + 1 > s) s = r + 1; d = s - n; printf "%.1f", (d > 0 ? d : 0) }')"
phase_from=$(date -u +%Y-%m-%dT%H:%M:%SZ) # whole seconds: the unit has been quiet for seconds
phase_start=$(now)
cg_spawn "$unit" "$JOULES_TESTS_BIN/burn" --duty 0.6 --seconds 4
b1=$CG_LAST_PID
cg_spawn "$unit" "$JOULES_TESTS_BIN/ingest-send" --socket "$sock" --count 400 --per-dgram 4 --linger-ms 2500
s1=$CG_LAST_PID
wait "$b1" || die "the burn failed"
wait "$s1" || die "the requests failed"
sleep 3 # the last ticks stored, and quiet again
phase_to=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Every check is made at one time Q: its 1m windows begin after the restarts and the unit's
# series were born, and before the unit's work began.
Q=$(awk -v b="$born" -v r="$restarted" 'BEGIN { q = b + 62.5; if (r + 57 > q) q = r + 57; printf "%.3f", q }')
awk -v q="$Q" -v r="$restarted" -v f="$phase_start" -v t="$(now)" \
  'BEGIN { exit !(r < q - 56 && f > q - 59 && t < q - 3) }' ||
  die "the restarts or the work took too long for the windows at Q"
wait_s=$(awk -v q="$Q" -v n="$(now)" 'BEGIN { d = q - n + 3; printf "%.1f", (d > 0 ? d : 0) }')
note "waiting ${wait_s} s for the windows at Q"
sleep "$wait_s" # + 3 s: rules evaluated past Q and written to the central store
kill -0 "$jd_A" "$jd_B" "$ex_A" "$ex_B" 2>/dev/null || die "a joulesd or exporter died"
note "longest tick: A $(sqlite3 "$SCRATCH/A.db" 'SELECT MAX(dt_us) / 1e6 FROM ticks') s, B $(sqlite3 "$SCRATCH/B.db" 'SELECT MAX(dt_us) / 1e6 FROM ticks') s (interval 0.25 s)"

# --- (a) power per host, and units that add up to it --------------------------------------------
# A sample is the history as last committed, stamped with the scrape's time: it lags the energy by
# a tick or so, and by seconds when the machine stalls joulesd (seen here: ticks of 1.7 s). So the
# rate over 40 s is taken at six times 3 s apart, and the median compared: one stall moves at
# most two of them (the one whose window ends in it, the one whose window begins in it).
power() { # power URL INSTANCE WINDOW: the median of rate() over WINDOW ending in [Q - 15 s, Q]
  value "$1" "quantile_over_time(0.5, rate(joules_host_energy_joules_total[$3])[15s:3s])" "$2" "$Q"
}
history_power() { # history_power DB: the history's own power over the last 40 s, from its ticks
  sqlite3 "$1" "SELECT SUM(host_uj) * 1.0 / SUM(dt_us), COUNT(*), SUM(host_uj IS NULL) FROM ticks
    WHERE ts_us > ($Q - 40) * 1e6 AND ts_us <= $Q * 1e6"
}
check_power() { # check_power URL INSTANCE WATTS WHERE
  local w db=$SCRATCH/A.db
  [ "$2" = "$IB" ] && db=$SCRATCH/B.db
  w=$(power "$1" "$2" 40s)
  note "$4: rate(joules_host_energy_joules_total[40s]){instance=\"$2\"} = $w W (simulated $3 W; the history: $(history_power "$db" | awk -F'|' '{ printf "%.4f W in %d ticks", $1, $2 }'))"
  within "$w" "$3" 2 || die "$4: $2 draws $w W, not $3 W within 2%"
}
check_power "$EDGE" "$IA" 30 edge
check_power "$EDGE" "$IB" 55 edge
# Over all the time A was scraped, which holds its exporter's restart: scrapes were missed, no
# energy was. (rate() divides by the whole window: it must not begin before the first scrape.)
span=$(awk -v q="$Q" -v s="$scraped" 'BEGIN { printf "%d", q - 15 - s - 1 }')
wa=$(power "$EDGE" "$IA" "${span}s")
within "$wa" 30 2 || die "edge: $IA over ${span} s with the exporter restart: $wa W"
note "edge: $IA over ${span} s with the exporter restart: $wa W"
for i in "$IA" "$IB"; do
  d=$(value "$EDGE" 'sum by (instance) (joules_unit_energy_joules_total) - on (instance) joules_host_energy_joules_total' "$i" "$Q")
  awk -v d="$d" 'BEGIN { exit !(d < 1e-5 && d > -1e-5) }' ||
    die "edge: the units of $i add up to the host counter plus $d J"
  # Watts over the last 40 s from the counters' own increase: exact whatever units were born
  # in the window (a new unit's counter starts at 0 in the history).
  hw=$(value "$EDGE" '(joules_host_energy_joules_total - joules_host_energy_joules_total offset 40s) / 40' "$i" "$Q")
  uw=$(value "$EDGE" '(sum by (instance) (joules_unit_energy_joules_total) - sum by (instance) (joules_unit_energy_joules_total offset 40s)) / 40' "$i" "$Q")
  awk -v a="$uw" -v b="$hw" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }' ||
    die "edge: the units of $i draw $uw W, the host $hw W"
  # The recording rules too, to 2%: rate() cannot count what a unit born inside its window (other
  # tests' cgroups on this machine) had at its first sample, so this holds only when none was.
  born=$(value "$EDGE" 'count by (instance) (joules_unit_energy_joules_total unless on (instance, unit, mode) (joules_unit_energy_joules_total offset 1m))' "$i" "$Q")
  rhw=$(value "$EDGE" 'instance:joules_host_power_watts:rate1m' "$i" "$Q")
  ruw=$(value "$EDGE" 'sum by (instance) (instance_unit:joules_unit_power_watts:rate1m)' "$i" "$Q")
  if [ "$born" = none ]; then
    within "$ruw" "$rhw" 2 || die "edge: by the rules, the units of $i draw $ruw W, the host $rhw W"
  else
    note "edge: $born unit series of $i were born in the last minute: the rules' sum $ruw W against $rhw W not compared"
  fi
  note "edge: the units of $i add up to the host: counters to $d J, $uw W = $hw W; rules $ruw W, $rhw W"
done

# --- (b) the restarts made no reset -------------------------------------------------------------
[ "$(value "$EDGE" 'min_over_time(up[2m])' "$IA" "$Q")" = 0 ] || die "exporter A was never seen down"
runs=$("$JOULES" --db "$SCRATCH/B.db" status --json | jq '.host.runs')
[ "$runs" = 2 ] || die "joulesd B ran $runs times, expected 2"
n=0
for name in $(query "$EDGE" 'count by (__name__) ({__name__=~"joules_.*_total"})' "$Q" | jq -r '.[].metric.__name__'); do
  r=$(query "$EDGE" "sum(resets(${name}[3m]))" "$Q" | jq -r '.[0].value[1]')
  [ "$r" = 0 ] || die "resets($name[3m]) = $r"
  n=$((n + $(query "$EDGE" "count(${name})" "$Q" | jq -r '.[0].value[1]')))
done
[ "$n" -gt 0 ] || die "no joules counters"
note "edge: resets() = 0 over all $n joules counters across the restarts of joulesd B and exporter A"

# --- (c) J/request, recording rule against joules services --------------------------------------
jr=$(query "$EDGE" "instance_unit_metric:joules_unit_energy_per_request_joules:rate1m{instance=\"$IA\",unit=\"$unit\",metric=\"requests\"}" "$Q" |
  jq -r 'if length == 1 then .[0].value[1] else "none" end')
"$JOULES" --db "$SCRATCH/A.db" services --since "$phase_from" --until "$phase_to" --json >"$SCRATCH/services.json" ||
  die "joules services"
read -r want reqs < <(jq -r --arg u "$unit" '.units[] | select(.unit == $u) | "\(.j_per_request) \(.requests)"' "$SCRATCH/services.json")
note "J/request of $unit: recording rule $jr, joules services $want ($reqs requests)"
[ "$reqs" = 400 ] || die "joules services counted $reqs requests for $unit, expected 400"
within "$jr" "$want" 2 || die "J/request: the rule gives $jr, joules services $want"

# --- (d) rules healthy; the dashboard's variables and panels answer ------------------------------
curl -fsS "$EDGE/api/v1/rules" >"$SCRATCH/rules.json" || die "GET /api/v1/rules"
jq -e '[.data.groups[].rules[]] | length > 0 and all(.health == "ok")' "$SCRATCH/rules.json" >/dev/null ||
  die "unhealthy rules: $(jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, lastError}]' "$SCRATCH/rules.json")"
dash=$JOULES_SRC/grafana/joules-dashboard.json
labels() { # labels LABEL MATCH: values of a label, as Grafana's label_values() asks for them
  curl -fsS -G "$EDGE/api/v1/label/$1/values" --data-urlencode "match[]=$2" | jq -c '.data'
}
iv=$(jq -r '.templating.list[] | select(.name == "instance") | .query' "$dash")
[[ $iv =~ ^label_values\(([^,]+),\ *instance\)$ ]] || die "instance variable: $iv"
labels instance "${BASH_REMATCH[1]}" | jq -e --arg a "$IA" --arg b "$IB" 'index($a) and index($b)' >/dev/null ||
  die "the instance variable lacks a host"
uv=$(jq -r '.templating.list[] | select(.name == "unit") | .query' "$dash")
[[ $uv =~ ^label_values\((.+),\ *unit\)$ ]] || die "unit variable: $uv"
labels unit "${BASH_REMATCH[1]//\$instance/$IA}" | jq -e --arg u "$unit" 'index($u)' >/dev/null ||
  die "the unit variable lacks $unit"
panels=0
while IFS=$'\t' read -r title instant expr; do
  e=${expr//\$instance/$IA}
  e=${e//\$unit/.*}
  if [ "$instant" = true ]; then
    out=$(query "$EDGE" "$e" "$Q")
  else
    out=$(curl -fsS "$EDGE/api/v1/query_range" --data-urlencode "query=$e" \
      --data-urlencode "start=$(awk -v q="$Q" 'BEGIN { printf "%.3f", q - 30 }')" \
      --data-urlencode "end=$Q" --data-urlencode "step=5") || die "query_range $e failed"
    out=$(jq -c '.data.result' <<<"$out")
  fi
  jq -e '[.[] | (.values // [.value])[] | .[1] | select(. != "NaN")] | length > 0' <<<"$out" >/dev/null ||
    die "dashboard panel \"$title\" has no data: $e"
  panels=$((panels + 1))
done < <(jq -r '.panels[] | .title as $t | .targets[] | [$t, (.instant // false | tostring), (.expr | gsub("\n"; " "))] | @tsv' "$dash")
note "edge: all $panels dashboard panel queries return data"
marker=$(jq -r '.panels[] | select(.title == "Measured or estimated") | .targets[0].expr' "$dash")
m=$(query "$EDGE" "${marker//\$instance/.*}" "$Q" | jq -c '[.[] | .value[1]] | unique')
[ "$m" = '["0"]' ] || die "the estimated/measured marker says $m for RAPL-measured hosts"

# --- (e) the central store ---------------------------------------------------------------------
# remote_write runs behind the edge (by seconds when the machine is busy): wait until the central
# store holds both the raw and the recorded samples up to Q.
for m in joules_host_energy_joules_total instance:joules_host_power_watts:rate1m; do
  wait_query "$CENTRAL" "min(timestamp($m{site=\"edge-1\"})) > $Q" 30 ||
    die "the central store has no $m samples after Q"
done
n=$(query "$CENTRAL" 'count by (instance) (joules_host_energy_joules_total{site="edge-1"})' "$Q" | jq length)
[ "$n" = 2 ] || die "the central store has the host counters of $n hosts"
check_power "$CENTRAL" "$IA" 30 central
check_power "$CENTRAL" "$IB" 55 central
fleet=$(query "$CENTRAL" 'quantile_over_time(0.5, sum(rate(joules_host_energy_joules_total[40s]))[15s:3s])' "$Q" | jq -r '.[0].value[1]')
within "$fleet" 85 2 || die "central: the fleet draws $fleet W, not 85 W"
note "central: the fleet draws $fleet W (simulated 85 W)"
# Every recording rule's series arrived, and the rule evaluated centrally from the raw series
# gives what the edge recorded.
while IFS=$'\t' read -r name expr; do
  got=$(query "$CENTRAL" "$name" "$Q")
  [ "$(jq length <<<"$got")" -gt 0 ] || die "central: no series of $name"
  jq -e 'all(.metric.site == "edge-1")' <<<"$got" >/dev/null || die "central: $name lacks the external label"
  again=$(query "$CENTRAL" "$expr" "$Q")
  [ "$(jq length <<<"$again")" -gt 0 ] || die "central: $name evaluated there returns nothing"
done < <(jq -r '.data.groups[].rules[] | select(.type == "recording") | [.name, (.query | gsub("\n"; " "))] | @tsv' "$SCRATCH/rules.json")
# A recorded value, and the rule's expression evaluated centrally from the raw series at the time
# the edge evaluated it (the recorded sample's timestamp): the same samples, so the same value, up
# to a scrape the edge had not appended yet when it evaluated.
rule_expr() { jq -r --arg n "$1" '.data.groups[].rules[] | select(.name == $n) | .query' "$SCRATCH/rules.json"; }
recorded() { # recorded SELECTOR: "timestamp value" of the one series, at Q
  query "$CENTRAL" "$1" "$Q" | jq -r 'if length == 1 then "\(.[0].value[0]) \(.[0].value[1])" else "none none" end'
}
# Compared with the same expression asked of the edge now, at that time, the central store must
# give exactly the same value: it holds the same samples. (The value the edge recorded can differ:
# a scrape stamped just before the evaluation may have been appended just after it, and with
# requests counted in bursts that moves J/request by a percent or more.)
same() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b != 0 && d <= 1e-9 * (b < 0 ? -b : b)) }'; }
for i in "$IA" "$IB"; do
  read -r t rec < <(recorded "instance:joules_host_power_watts:rate1m{instance=\"$i\"}")
  ev=$(value "$CENTRAL" "$(rule_expr instance:joules_host_power_watts:rate1m)" "$i" "$t")
  ee=$(value "$EDGE" "$(rule_expr instance:joules_host_power_watts:rate1m)" "$i" "$t")
  same "$ev" "$ee" || die "central: $i evaluated there $ev W, at the edge $ee W"
  within "$ev" "$rec" 1 || die "central: $i recorded at the edge $rec W, evaluated centrally $ev W"
  note "central: host power of $i recorded at the edge $rec W, evaluated there $ev W (the edge: $ee W)"
done
read -r t jrec < <(recorded "instance_unit_metric:joules_unit_energy_per_request_joules:rate1m{instance=\"$IA\",unit=\"$unit\",metric=\"requests\"}")
jq_unit='[.[] | select(.metric.unit == $u and .metric.metric == "requests")] | if length == 1 then .[0].value[1] else "none" end'
jc=$(query "$CENTRAL" "$(rule_expr instance_unit_metric:joules_unit_energy_per_request_joules:rate1m)" "$t" |
  jq -r --arg u "$unit" "$jq_unit")
je=$(query "$EDGE" "$(rule_expr instance_unit_metric:joules_unit_energy_per_request_joules:rate1m)" "$t" |
  jq -r --arg u "$unit" "$jq_unit")
same "$jc" "$je" || die "central: J/request evaluated centrally $jc, at the edge $je (recorded $jrec)"
n=$(query "$CENTRAL" 'count(sum by (unit) (instance_unit:joules_unit_power_watts:rate1m))' "$Q" | jq -r '.[0].value[1]')
note "central: every recording rule arrived and evaluates there (J/request $jc); watts of $n units across the fleet"
series=$(query "$CENTRAL" 'count({site="edge-1"})' "$Q" | jq -r '.[0].value[1]')
note "central: $series series from the edge ($(($(date +%s) - started)) s in all)"
note "checks done after $(($(date +%s) - started)) s"
echo "ok"

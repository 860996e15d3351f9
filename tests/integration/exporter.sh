# joules-exporter against the real joulesd on the RAPL simulator, the way the unit runs it: as an
# unprivileged user whose only grant is group read access to the history, without capabilities.
#   - both content types by the Accept header, exactly; promtool check metrics finds nothing in
#     the text format; OpenMetrics ends in # EOF with _created samples
#   - the units add up to the host at a scrape, to the microjoule; the host counter matches the
#     simulated watts; joules status reports the same total
#   - restarting joulesd and the exporter never makes any counter go down, and the exporter
#     keeps answering 200 while joulesd is stopped
#   - /, 404, 405; 503 with joules_history_up 0 when the history cannot be read
#   - hostile unit names (quotes, backslashes, newlines, control bytes, invalid UTF-8): shown as
#     `joules services` shows them, valid UTF-8, no control byte, promtool-clean, adding up
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-net.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (runs the exporter as another user)"
for t in curl promtool setpriv iconv sqlite3; do
  command -v "$t" >/dev/null || skip "$t is not installed (./dev.sh installs it)"
done

# A directory the reader may enter, a history it may only read (group 65534, like group joules).
chmod 0711 "$SCRATCH"
shared=$SCRATCH/lib
mkdir -p "$shared" "$SCRATCH/bin"
chgrp 65534 "$shared"
chmod 0750 "$shared"
db=$shared/joules.db
cp "$JOULES_BIN/joules-exporter" "$SCRATCH/bin/"
chmod 0755 "$SCRATCH/bin" "$SCRATCH/bin/joules-exporter"

sys=$SCRATCH/sys
"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:25:10000000 --zone uncore:15:10000000 \
  --zone dram:5:1500000 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

daemon=
start_joulesd() {
  (umask 0027 && exec "$JOULESD" --db "$db" --interval 200ms --sysfs-root "$sys" \
    --energy-source powercap --events none >/dev/null 2>>"$SCRATCH/joulesd.err") &
  daemon=$!
  for _ in $(seq 100); do [ -e "$db-wal" ] && break; sleep 0.05; done
  sleep 0.6
  chgrp 65534 "$db" "$db-wal" "$db-shm"
}
stop_joulesd() {
  kill -TERM "$daemon"
  wait "$daemon" || fail "joulesd did not stop cleanly: $(cat "$SCRATCH/joulesd.err")"
}
CLEANUP+=('[ -n "$daemon" ] && kill $daemon 2>/dev/null')

free_port port
url=http://127.0.0.1:$port
exporter=
start_exporter() { # as nobody, in group 65534 only
  setpriv --reuid=65534 --regid=65534 --groups=65534 \
    "$SCRATCH/bin/joules-exporter" --db "$db" --listen "127.0.0.1:$port" "$@" \
    >/dev/null 2>>"$SCRATCH/exporter.err" &
  exporter=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "$url/" && return; sleep 0.05; done
  fail "the exporter did not start: $(cat "$SCRATCH/exporter.err")"
}
stop_exporter() {
  kill -TERM "$exporter"
  wait "$exporter" || fail "the exporter did not stop cleanly: $(cat "$SCRATCH/exporter.err")"
}
CLEANUP+=('[ -n "$exporter" ] && kill $exporter 2>/dev/null')

OM='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
# scrape OUT [ACCEPT]: the body in OUT, the status and content type in OUT.head
scrape() {
  curl -s -D "$1.head" -o "$1" ${2:+-H "Accept: $2"} "$url/metrics" || fail "curl $url/metrics"
}
status_of() { head -1 "$1.head" | awk '{ print $2 }'; }
ctype_of() { sed -n 's/^Content-Type: \(.*\)\r$/\1/Ip' "$1.head"; }
# value of a sample given its name and labels as written ("name{...}" or "name")
value_of() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
# the units' energy in µJ, summed exactly from the decimal text
units_uj() {
  awk '/^joules_unit_energy_joules_total\{/ { v = $NF; split(v, p, "."); s += p[1] * 1000000 + p[2] }
       END { printf "%d\n", s }' "$1"
}
host_uj() {
  awk '/^joules_host_energy_joules_total / { split($2, p, "."); printf "%d\n", p[1] * 1000000 + p[2] }' "$1"
}
# every counter sample "series value", for comparing two scrapes
counters() { grep -E '^[a-z_]+_total(\{| )' "$1" | grep -v '^process_' | sort; }
never_down() { # previous next: every series of previous is in next with a value >= it
  join -a 1 <(counters "$1" | sed 's/ /\t/' | awk -F'\t' '{ gsub(/ /, "\\s", $1); print $1, $2 }') \
    <(counters "$2" | sed 's/ /\t/' | awk -F'\t' '{ gsub(/ /, "\\s", $1); print $1, $2 }') |
    awk '{ if (NF < 3) { print "gone: " $1; bad = 1 } else if ($3 + 0 < $2 + 0) { print "down: " $0; bad = 1 } }
         END { exit bad }'
}

start_joulesd
start_exporter

# --- it runs unprivileged, without capabilities ---------------------------------------------
[ "$(awk '/^Uid:/ { print $2 }' /proc/$exporter/status)" = 65534 ] || fail "the exporter is not nobody"
no_caps() { # PID [CapBnd too]
  local c
  for c in CapInh CapPrm CapEff CapAmb ${2:+CapBnd}; do
    [ "$(awk -v c="$c:" '$1 == c { print $2 }' "/proc/$1/status")" = 0000000000000000 ] ||
      fail "the exporter holds capabilities: $(grep ^Cap "/proc/$1/status")"
  done
  [ "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$1/status")" = 1 ] || fail "no_new_privs not set"
}
no_caps "$exporter"
# Started as root, it drops everything, the bounding set too (an unprivileged user cannot
# shrink its bounding set; no_new_privs keeps it from ever using it).
free_port root_port
"$SCRATCH/bin/joules-exporter" --db "$db" --listen "127.0.0.1:$root_port" >/dev/null 2>"$SCRATCH/root.err" &
root_exporter=$!
CLEANUP+=("kill $root_exporter 2>/dev/null")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$root_port/" && break; sleep 0.05; done
no_caps "$root_exporter" bounding
grep -q "running as root" "$SCRATCH/root.err" || fail "no warning when run as root"
kill -TERM "$root_exporter"
wait "$root_exporter" || fail "the exporter did not stop cleanly"

# --- both formats -------------------------------------------------------------------------
sleep 1
scrape "$SCRATCH/t1"
[ "$(status_of "$SCRATCH/t1")" = 200 ] || fail "status $(status_of "$SCRATCH/t1"): $(cat "$SCRATCH/t1")"
[ "$(ctype_of "$SCRATCH/t1")" = "text/plain; version=0.0.4; charset=utf-8" ] ||
  fail "text Content-Type: $(ctype_of "$SCRATCH/t1")"
lint=$(promtool check metrics <"$SCRATCH/t1" 2>&1) || fail "promtool check metrics failed: $lint"
[ -z "$lint" ] || fail "promtool check metrics: $lint"
grep -q '^# EOF' "$SCRATCH/t1" && fail "# EOF in the text format"
scrape "$SCRATCH/o1" "$OM"
[ "$(ctype_of "$SCRATCH/o1")" = "application/openmetrics-text; version=1.0.0; charset=utf-8" ] ||
  fail "OpenMetrics Content-Type: $(ctype_of "$SCRATCH/o1")"
[ "$(tail -n1 "$SCRATCH/o1")" = "# EOF" ] || fail "OpenMetrics does not end in # EOF"
grep -q '^# TYPE joules_host_energy_joules counter$' "$SCRATCH/o1" || fail "OpenMetrics counter TYPE"
grep -q '^joules_host_energy_joules_created [0-9.]*$' "$SCRATCH/o1" || fail "no _created"
for m in joules_host_energy_joules_total joules_domain_energy_joules_total joules_unit_energy_joules_total \
  joules_unit_cpu_seconds_total joules_info joules_grid_intensity_grams_per_kwh joules_pue \
  joules_embodied_grams_per_second joules_last_tick_timestamp_seconds joules_last_tick_age_seconds \
  joules_build_info joules_history_up process_cpu_seconds_total process_resident_memory_bytes \
  joules_exporter_scrape_duration_seconds; do
  grep -q "^# TYPE $m " "$SCRATCH/t1" || fail "no $m"
done
grep -q '^joules_info{source="powercap",estimated="false",' "$SCRATCH/t1" || fail "joules_info: $(grep joules_info "$SCRATCH/t1")"
[ "$(value_of "$SCRATCH/t1" joules_history_up)" = 1 ] || fail "history not up"
grep -q 'joules_domain_energy_joules_total{domain="package-0/uncore",zone="intel-rapl:0:0",kind="uncore",in_host="false"}' \
  "$SCRATCH/t1" || fail "uncore domain: $(grep domain_energy "$SCRATCH/t1")"

# --- the units add up to the host, to the microjoule -------------------------------------
for f in t1 o1; do
  h=$(host_uj "$SCRATCH/$f")
  u=$(units_uj "$SCRATCH/$f")
  [ "$h" -gt 0 ] && [ "$h" = "$u" ] || fail "$f: units $u µJ, host $h µJ"
done
note "a scrape: host $(value_of "$SCRATCH/t1" joules_host_energy_joules_total) J = sum of $(grep -c '^joules_unit_energy_joules_total' "$SCRATCH/t1") unit series"

# --- /, 404, 405 -----------------------------------------------------------------------------
curl -s "$url/" | grep -q 'href="/metrics"' || fail "/ does not point at /metrics"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")" = 404 ] || fail "/nope is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")" = 405 ] || fail "POST is not 405"
[ "$(curl -s -o /dev/null -w '%{http_code}' -I "$url/metrics")" = 200 ] || fail "HEAD is not 200"

# --- counters never go down across restarts; the exporter answers while joulesd is stopped ----
prev=$SCRATCH/t1
n=0
check_scrape() {
  n=$((n + 1))
  scrape "$SCRATCH/s$n"
  [ "$(status_of "$SCRATCH/s$n")" = 200 ] || fail "scrape $n ($1): status $(status_of "$SCRATCH/s$n")"
  never_down "$prev" "$SCRATCH/s$n" || fail "scrape $n ($1): a counter went down"
  [ "$(host_uj "$SCRATCH/s$n")" = "$(units_uj "$SCRATCH/s$n")" ] || fail "scrape $n ($1): units != host"
  prev=$SCRATCH/s$n
}
check_scrape running
stop_joulesd
check_scrape "joulesd stopped"
age=$(value_of "$prev" joules_last_tick_age_seconds)
start_joulesd
sleep 0.5
check_scrape "joulesd restarted"
stop_exporter
start_exporter
check_scrape "exporter restarted"
stop_joulesd
stop_exporter
start_exporter
check_scrape "both stopped, exporter restarted"
start_joulesd
sleep 1
check_scrape "both restarted"
[ "$(host_uj "$prev")" -gt "$(host_uj "$SCRATCH/t1")" ] || fail "the host counter did not grow"
note "$n scrapes across 3 joulesd and 2 exporter restarts: no counter went down (tick age while stopped: $age s)"

# The host counter is the stored energy: joules status reports the same total. (Its rate is the
# simulated 30 W, package 25 W + dram 5 W, when the simulator is not starved of CPU: printed, not
# asserted; host-energy-sim.sh checks the energy itself.)
stop_joulesd
scrape "$SCRATCH/final"
status_j=$("$JOULES" --db "$db" status --json | jq '.host.energy_j')
host_j=$(value_of "$SCRATCH/final" joules_host_energy_joules_total)
within "$host_j" "$status_j" 0.0001 || fail "exporter $host_j J, joules status $status_j J"
measured=$(value_of "$SCRATCH/final" joules_host_measured_seconds_total)
watts=$(awk -v e="$host_j" -v s="$measured" 'BEGIN { printf "%.3f", e / s }')
note "host $host_j J over $measured s measured: $watts W (simulated 30 W); joules status $status_j J"

# --- hostile unit names ----------------------------------------------------------------------
sqlite3 "$db" "
  INSERT INTO units (name, pseudo) VALUES ('ev\"il\\' || char(10) || 'x.service', 0),
    (CAST(X'62616401ff1b5b324a2e73657276696365' AS TEXT), 0),
    (CAST(X'62616401fe1b5b324a2e73657276696365' AS TEXT), 0);
  INSERT INTO total_units SELECT id, 1000, 1, 5 FROM units WHERE name LIKE 'ev%' OR name LIKE 'bad%';
  UPDATE total_host SET host_uj = host_uj + 3 * 1001;"
scrape "$SCRATCH/hostile"
iconv -f UTF-8 -t UTF-8 "$SCRATCH/hostile" >/dev/null || fail "the page is not valid UTF-8"
lint=$(promtool check metrics <"$SCRATCH/hostile" 2>&1) || fail "promtool on hostile names: $lint"
[ -z "$lint" ] || fail "promtool check metrics on hostile names: $lint"
# names as `joules services` shows them (common/text.h's table form), then escaped
grep -qF 'joules_unit_energy_joules_total{unit="ev\"il\\\\\\x0ax.service",mode="active"} 0.001000' \
  "$SCRATCH/hostile" || fail "escaping: $(grep 'unit="ev' "$SCRATCH/hostile")"
for b in ff fe; do
  grep -qF "joules_unit_energy_joules_total{unit=\"bad\\\\x01\\\\x$b\\\\x1b[2J.service\",mode=\"active\"} 0.001000" \
    "$SCRATCH/hostile" || fail "\\x$b: $(grep 'unit="bad' "$SCRATCH/hostile")"
done
! grep -q $'[\x01\x1b]' "$SCRATCH/hostile" || fail "raw control bytes in the page"
[ "$(host_uj "$SCRATCH/hostile")" = "$(units_uj "$SCRATCH/hostile")" ] || fail "hostile: units != host"

# --- the history cannot be read: 503, joules_history_up 0 -------------------------------------
stop_exporter
mv "$db" "$db.away"
start_exporter
scrape "$SCRATCH/down"
[ "$(status_of "$SCRATCH/down")" = 503 ] || fail "no history: status $(status_of "$SCRATCH/down")"
[ "$(value_of "$SCRATCH/down" joules_history_up)" = 0 ] || fail "no history: joules_history_up not 0"
lint=$(promtool check metrics <"$SCRATCH/down" 2>&1) && [ -z "$lint" ] || fail "promtool on 503 page: $lint"
mv "$db.away" "$db"
scrape "$SCRATCH/back"
[ "$(status_of "$SCRATCH/back")" = 200 ] || fail "the history came back, status $(status_of "$SCRATCH/back")"
stop_exporter
grep -q "cannot read the history" "$SCRATCH/exporter.err" || fail "no warning when the history was gone"
echo "ok"

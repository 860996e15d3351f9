# joules intensity import on a real history written by the real joulesd (RAPL simulator):
#   CSV and UK National Grid JSON files go in, each hour of energy then takes the series' mean
#   over that hour; a malformed file (a bad line, a bad element, overlapping intervals) is refused
#   with exit 2 naming the line or element, and nothing of it is imported; a file replaces what it
#   overlaps; the history must exist; joules intensity show and table; joulesd writes its
#   [carbon] settings into the history at start-up and again on reload (SIGHUP).
# Needs root (joulesd reads the simulated RAPL tree as it would the real one; else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root"

sys=$SCRATCH/sys
db=$SCRATCH/joules.db
"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:36 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"
printf '[carbon]\ncountry = GB\n' >"$SCRATCH/joulesd.conf"
# the checks below want every tick in one hour: keep clear of the turn of an hour
while [ "$(date -u +%M%S)" -ge 5955 ]; do sleep 1; done
"$JOULESD" --config "$SCRATCH/joulesd.conf" --db "$db" --interval 200ms --sysfs-root "$sys" \
  --energy-source powercap --events none --idle-power 10 --ingest-socket "" \
  2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
J() { "$JOULES" --db "$db" "$@"; }
# joulesd writes its settings once the history is open (a loaded machine may take a while)
for _ in $(seq 100); do
  J intensity show --json 2>/dev/null | jq -e '.country == "GB"' >/dev/null 2>&1 && break
  sleep 0.1
done
J intensity show --json | jq -e '.country == "GB" and .pue == 1' >/dev/null ||
  { cat "$SCRATCH/joulesd.err" >&2; fail "start-up settings: $(J intensity show --json)"; }
sleep 1
# a reload writes the new [carbon] settings into the history
printf '[carbon]\ncountry = PL\npue = 1.5\n' >"$SCRATCH/joulesd.conf"
kill -HUP "$jd"
for _ in $(seq 50); do
  J intensity show --json | jq -e '.country == "PL" and .pue == 1.5' >/dev/null && break
  sleep 0.1
done
J intensity show --json | jq -e '.country == "PL" and .pue == 1.5 and .yearly_g_per_kwh == 614.98' \
  >/dev/null || { cat "$SCRATCH/joulesd.err" >&2; fail "reload: $(J intensity show --json)"; }
sleep 1
kill -TERM "$jd"
wait "$jd" || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not stop cleanly"; }

# the hours holding the ticks
first=$(sqlite3 "$db" "SELECT MIN(ts_us - dt_us) / 1000000 FROM ticks")
h0=$(date -u -d "@$((first / 3600 * 3600))" +%Y-%m-%dT%H:%M:%SZ)
h1=$(date -u -d "@$((first / 3600 * 3600 + 1800))" +%Y-%m-%dT%H:%M:%SZ)
h2=$(date -u -d "@$((first / 3600 * 3600 + 3600))" +%Y-%m-%dT%H:%M:%SZ)
series() { J intensity show --json | jq -r '.series.intervals'; }

# --- malformed files: exit 2, the line or element named, nothing imported
printf 'start,end,g_per_kwh\n%s,%s,100\n%s,%s,oops\n' "$h0" "$h1" "$h1" "$h2" >"$SCRATCH/bad.csv"
printf 'start,end,g_per_kwh\n%s,%s,100\n%s,%s,200\n' "$h0" "$h2" "$h1" "$h2" >"$SCRATCH/overlap.csv"
printf '{"data":[{"from":"%s","to":"%s","intensity":{"forecast":1,"actual":2}},
{"from":"%s","to":"%s","intensity":{"index":"high"}}]}' "$h0" "$h1" "$h1" "$h2" >"$SCRATCH/bad.json"
printf '{"data":[{"from":"%s",\n"to":"%s",,}]}' "$h0" "$h1" >"$SCRATCH/syntax.json"
for f in bad.csv:"line 3: g_per_kwh 'oops'" overlap.csv:"line 3 overlaps line 2" \
  bad.json:"data[1].intensity: neither actual nor forecast" syntax.json:"line 2, column"; do
  file=${f%%:*}
  want=${f#*:}
  set +e
  J intensity import "$SCRATCH/$file" >/dev/null 2>"$SCRATCH/err"
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "$file: exit $rc, expected 2"
  grep -qF "$want" "$SCRATCH/err" || fail "$file: '$(cat "$SCRATCH/err")' lacks '$want'"
  grep -q "nothing imported" "$SCRATCH/err" || fail "$file: does not say nothing was imported"
  [ "$(series)" = 0 ] || fail "$file: something was imported"
done
set +e
J intensity import "$SCRATCH/missing.csv" 2>/dev/null
rc=$?
"$JOULES" --db "$SCRATCH/none.db" intensity import "$SCRATCH/bad.csv" 2>/dev/null
rc2=$?
set -e
[ "$rc" = 2 ] || fail "a missing file: exit $rc"
[ "$rc2" != 0 ] && [ ! -e "$SCRATCH/none.db" ] || fail "import created a history"

# --- a CSV series: the hour holding the ticks takes its time-weighted mean
printf 'start,end,g_per_kwh\n%s,%s,100\n%s,%s,300\n' "$h0" "$h1" "$h1" "$h2" >"$SCRATCH/good.csv"
J intensity import "$SCRATCH/good.csv" | grep -q "imported 2 intervals (CSV)" || fail "CSV import"
[ "$(series)" = 2 ] || fail "CSV: $(series) intervals stored"
J report --since 1h --until "$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)" --json >"$SCRATCH/r.json"
jq -e '.intensity_source == "series" and .periods[0].host.intensity_g_per_kwh == 200' \
  "$SCRATCH/r.json" >/dev/null || fail "CSV series not used: $(jq -c '.intensity_source, .periods[0].host.intensity_g_per_kwh' "$SCRATCH/r.json")"
# --intensity beats the series
J sci --since 1h --intensity 50 --json | jq -e '.intensity_g_per_kwh == 50' >/dev/null ||
  fail "--intensity did not override the series"

# --- the UK JSON replaces the second half hour: actual where present, else forecast
printf '{"data":[{"from":"%s","to":"%s","intensity":{"forecast":266,"actual":null,"index":"moderate"}}]}\n' \
  "${h1%:00Z}Z" "${h2%:00Z}Z" >"$SCRATCH/uk.json"
cat "$SCRATCH/uk.json" | J intensity import - --source uk-national-grid |
  grep -q "imported 1 intervals (JSON)" || fail "JSON import"
J intensity show --json | jq -e '.series.intervals == 2 and .series.source == "uk-national-grid"' \
  >/dev/null || fail "JSON import: $(J intensity show --json)"
J report --since 1h --json | jq -e '.periods[0].host.intensity_g_per_kwh == 183' >/dev/null ||
  fail "JSON series: $(J report --since 1h --json | jq '.periods[0].host.intensity_g_per_kwh')"

# RFC 4180: a unit name with a comma and quotes comes out quoted, quotes doubled, CRLF ends
# (a unit renamed, so raw ticks and rollup tiers alike carry it)
# (the unit with the most energy found in a copy with the packed ticks as plain rows)
plain=$(plain_db "$db")
top=$(sqlite3 "$plain" "SELECT unit_id FROM unit_energy GROUP BY unit_id
  ORDER BY SUM(active_uj + idle_uj) DESC LIMIT 1")
sqlite3 "$db" "UPDATE units SET name = 'odd,\"name\".service' WHERE id = $top"
J export --format csv --from 1h --to now >"$SCRATCH/odd.csv" || fail "export with an odd name"
grep -qF ',"odd,""name"".service",' "$SCRATCH/odd.csv" || fail "not quoted: $(grep odd "$SCRATCH/odd.csv")"
awk 'substr($0, length($0)) != "\r" { exit 1 }' "$SCRATCH/odd.csv" || fail "CSV lines must end in CRLF"
J export --format json --from 1h --to now | jq -e 'any(.[]; .service == "odd,\"name\".service")' \
  >/dev/null || fail "JSON export lost the odd name"

J intensity show | grep -q "imported series   2 intervals" || fail "intensity show"
J intensity table | grep -qE "DE +342.06" || fail "intensity table"
for args in "show" "table"; do
  # shellcheck disable=SC2086
  J intensity $args | awk 'length > 80 { exit 1 }' || fail "intensity $args wider than 80"
done
J intensity table --json | jq -e '.countries | length == 31' >/dev/null || fail "table json"
note "ok"

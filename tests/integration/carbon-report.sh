# Carbon figures from a real history: the real joulesd under the RAPL simulator, two services
# burning CPU in real cgroups, requests sent through the ingest socket; then
#   joules report, sci, compare and export over the same range must agree (export totals
#   reconcile with report), SCI is (E * I + M) / R of the figures shown, the settings given as
#   flags are used, bad arguments exit 2, and every table fits 80 columns; the export's
#   market-based Scope 2 columns use the factor stored or given, else the grid average, said so;
#   joules report --svg writes a well-formed SVG.
# Needs root and a cgroup2 mount (else skipped, 77). KEEP_DB=PATH copies the history there.
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require

SEND=$JOULES_TESTS_BIN/ingest-send
BURN=$JOULES_TESTS_BIN/burn
sys=$SCRATCH/sys
db=$SCRATCH/joules.db
mkdir -m 0755 "$SCRATCH/run"
sock=$SCRATCH/run/ingest.sock
ua=t-joules-$$-co2-a.service
ub=t-joules-$$-co2-b.service
# the host's carbon settings, written by joulesd into the history for joules to read
printf '[carbon]\ncountry = FR\npue = 1.1\nembodied_g = 900000\nmarket_intensity_g_per_kwh = 10\n' \
  >"$SCRATCH/joulesd.conf"
# a wrong [carbon] value stops start-up with the file, line and reason (exit 78)
printf '[carbon]\ncountry = FR\npue = 0.5\n' >"$SCRATCH/bad.conf"
set +e
"$JOULESD" --config "$SCRATCH/bad.conf" --db "$SCRATCH/bad.db" --sysfs-root "$SCRATCH/none" \
  2>"$SCRATCH/bad.err"
rc=$?
set -e
[ "$rc" = 78 ] || fail "bad [carbon]: exit $rc, expected 78"
grep -q "bad.conf:3: carbon.pue: 0.5 is out of range" "$SCRATCH/bad.err" ||
  fail "bad [carbon]: $(cat "$SCRATCH/bad.err")"

"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:40 --interval-ms 5 \
  >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

cg_unit "$ua"
cg_unit "$ub"
"$JOULESD" --config "$SCRATCH/joulesd.conf" --db "$db" --interval 200ms --sysfs-root "$sys" \
  --energy-source powercap --cgroup-root "$CG_ROOT" --events none --idle-power 10 \
  --ingest-socket "$sock" 2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
wait_for_file "$sock" 5 || { cat "$SCRATCH/joulesd.err" >&2; fail "no ingest socket"; }
sleep 0.5

# A burns a whole CPU and serves 2,000 requests; B half a CPU and 500 requests.
cg_spawn "$ua" "$BURN" --seconds 4
pa=$CG_LAST_PID
cg_spawn "$ub" "$BURN" --duty 0.5 --seconds 4
pb=$CG_LAST_PID
cg_spawn "$ua" "$SEND" --socket "$sock" --count 2000 --per-dgram 50 --linger-ms 500
sa=$CG_LAST_PID
cg_spawn "$ub" "$SEND" --socket "$sock" --count 500 --per-dgram 50 --linger-ms 500
sb=$CG_LAST_PID
for p in $pa $pb $sa $sb; do wait "$p" || fail "process $p failed"; done
sleep 0.6
kill -TERM "$jd"
wait "$jd" || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not stop cleanly"; }
[ -n "${KEEP_DB:-}" ] && cp "$db" "$KEEP_DB"

J() { "$JOULES" --db "$db" "$@"; }

# --- the settings joulesd stored, used when no flag overrides them
J intensity show --json >"$SCRATCH/show.json" || fail "joules intensity show"
jq -e '.country == "FR" and .pue == 1.1 and .embodied_g == 900000 and .market_g_per_kwh == 10 and
  .yearly_g_per_kwh == 44.18 and .lifetime_hours == 35040' "$SCRATCH/show.json" >/dev/null ||
  fail "stored settings: $(cat "$SCRATCH/show.json")"
J report --since 1h --json >"$SCRATCH/r-fr.json" || fail "report with stored settings"
jq -e '.pue == 1.1 and .intensity_source == "ember-2024:FR" and
  (.periods[0].units | all(((.market_gco2e - .energy_kwh * 1.1 * 10) | fabs) < 1e-12))' \
  "$SCRATCH/r-fr.json" >/dev/null || fail "report ignores the stored settings"
range=(--since 1h --until "$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)")
flags=(--country DE --pue 1.2 --te-g 1000000)

# --- report
J report "${range[@]}" "${flags[@]}" --json >"$SCRATCH/report.json" || fail "joules report --json"
ja() { jq -r --arg u "$1" ".periods[0].units[] | select(.unit == \$u) | $2" "$SCRATCH/report.json"; }
[ "$(ja "$ua" .requests)" = 2000 ] || fail "report: $ua requests $(ja "$ua" .requests)"
[ "$(ja "$ub" .requests)" = 500 ] || fail "report: $ub requests $(ja "$ub" .requests)"
jq -e '.pue == 1.2 and (.intensity_source == "ember-2024:DE")' "$SCRATCH/report.json" >/dev/null ||
  fail "report: settings not applied: $(jq -c '{pue, intensity_source}' "$SCRATCH/report.json")"
# gCO2e = kWh x 1.2 x 342.06 + embodied, per unit
jq -e '.periods[0].units[] | ((.energy_kwh * 1.2 * 342.06 + .embodied_gco2e) - .gco2e | fabs) < 1e-9' \
  "$SCRATCH/report.json" >/dev/null || fail "report: gCO2e is not kWh x PUE x I + M"
ea=$(ja "$ua" .energy_j)
eb=$(ja "$ub" .energy_j)
# energy follows CPU time: in every tick where both ran, A and B got the same joules per CPU
# second (to the µJ the history holds); over a range, J/CPU-s differs with the host's load
plain=$(plain_db "$db") # the ticks as plain unit_energy rows, packed or not (joulesd stopped)
q() { sqlite3 -readonly "$plain" "$1"; }
per_tick="SELECT ea.active_uj, ea.cpu_ns, eb.active_uj, eb.cpu_ns FROM unit_energy ea
  JOIN unit_energy eb ON eb.tick_id = ea.tick_id
  WHERE ea.unit_id = (SELECT id FROM units WHERE name = '$ua')
    AND eb.unit_id = (SELECT id FROM units WHERE name = '$ub')
    AND ea.cpu_ns >= 10000000 AND eb.cpu_ns >= 10000000"
q "$per_tick" | awk -F'|' '{ n++; r = ($1 / $2) / ($3 / $4); if (r < 0.999 || r > 1.001) bad++ }
  END { if (n < 5 || bad) { printf "%d ticks, %d off\n", n, bad; exit 1 } }' ||
  fail "report: A and B not given the same joules per CPU second in a tick"
# and the report's energy is the sum of the ticks
for u in "$ua" "$ub"; do
  sum=$(q "SELECT SUM(active_uj + idle_uj) FROM unit_energy
    WHERE unit_id = (SELECT id FROM units WHERE name = '$u')")
  awk -v a="$(ja "$u" .energy_j)" -v s="$sum" 'BEGIN { exit !(s > 0 && (a * 1e6 - s) ^ 2 < 1) }' ||
    fail "report: $u $(ja "$u" .energy_j) J, the history holds $sum µJ"
done
note "report: A $ea J, B $eb J"
J report "${range[@]}" "${flags[@]}" >"$SCRATCH/report.txt" || fail "joules report"
cat "$SCRATCH/report.txt" >&2
awk 'length > 80 { exit 1 }' "$SCRATCH/report.txt" || fail "report: a line wider than 80 columns"
grep -q '#' "$SCRATCH/report.txt" || fail "report: no chart"
J report "${range[@]}" --by hour --unit "$ua" --svg "$SCRATCH/chart.svg" >"$SCRATCH/unit.txt" ||
  fail "report --by hour --svg"
awk 'length > 80 { exit 1 }' "$SCRATCH/unit.txt" || fail "report --unit: a line wider than 80"
grep -q '^<svg ' "$SCRATCH/chart.svg" && grep -q '</svg>$' "$SCRATCH/chart.svg" || fail "not an SVG"
if command -v xmllint >/dev/null; then xmllint --noout "$SCRATCH/chart.svg" || fail "SVG not well-formed"; fi

# --- sci: (E * I + M) / R with the figures report shows
J sci "${range[@]}" "${flags[@]}" --unit "$ua" --json >"$SCRATCH/sci.json" || fail "joules sci"
cat "$SCRATCH/sci.json" >&2
jq -e --argjson g "$(ja "$ua" .gco2e)" '.requests == 2000 and
  ((.energy_kwh * .intensity_g_per_kwh + .embodied_g) / .requests - .sci_g_per_request | fabs) < 1e-15 and
  (.operational_g + .embodied_g - $g | fabs) < 1e-9 and .intensity_g_per_kwh == 342.06' \
  "$SCRATCH/sci.json" >/dev/null || fail "sci disagrees with report"
J sci "${range[@]}" --unit "$ua" | awk 'length > 80 { exit 1 }' || fail "sci wider than 80"

# --- compare
J compare "$ua" "$ub" "${range[@]}" "${flags[@]}" --json >"$SCRATCH/compare.json" || fail "compare"
jq -e --argjson a "$ea" --argjson b "$eb" '(.a.energy_j - $a | fabs) < 1e-6 and
  (.b.energy_j - $b | fabs) < 1e-6 and
  ((.a.j_per_request / .b.j_per_request) - .ratio.j_per_request | fabs) < 1e-9' \
  "$SCRATCH/compare.json" >/dev/null || fail "compare disagrees: $(cat "$SCRATCH/compare.json")"
J compare "$ua" "$ub" "${range[@]}" >"$SCRATCH/compare.txt" || fail "compare table"
cat "$SCRATCH/compare.txt" >&2
awk 'length > 80 { exit 1 }' "$SCRATCH/compare.txt" || fail "compare wider than 80"

# --- export reconciles with report over the same range
from=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)
J report --since "$from" --until "$to" "${flags[@]}" --json >"$SCRATCH/report2.json" || fail "report"
J export --format csv --from "$from" --to "$to" --by hour "${flags[@]}" >"$SCRATCH/export.csv" ||
  fail "export csv"
head -3 "$SCRATCH/export.csv" >&2
head -1 "$SCRATCH/export.csv" | tr -d '\r' | grep -qx 'period_start,period_end,host_id,service,energy_kwh,pue,energy_kwh_facility,ci_location_g_per_kwh,ci_location_source,emissions_location_gco2e,ci_market_g_per_kwh,emissions_market_gco2e,embodied_gco2e,requests,j_per_request,sci_gco2e_per_request,estimated,tool_version,energy_band_pct,energy_kwh_low,energy_kwh_high,ci_market_source' ||
  fail "export: header"
J export --format json --from "$from" --to "$to" --by hour "${flags[@]}" >"$SCRATCH/export.json" ||
  fail "export json"
for u in "$ua" "$ub"; do
  rk=$(jq --arg u "$u" '[.periods[].units[] | select(.unit == $u) | .energy_kwh] | add' "$SCRATCH/report2.json")
  rg=$(jq --arg u "$u" '[.periods[].units[] | select(.unit == $u) | .gco2e] | add' "$SCRATCH/report2.json")
  xk=$(jq --arg u "$u" '[.[] | select(.service == $u) | .energy_kwh] | add' "$SCRATCH/export.json")
  xg=$(jq --arg u "$u" '[.[] | select(.service == $u) | .emissions_location_gco2e + .embodied_gco2e] | add' "$SCRATCH/export.json")
  ck=$(awk -F, -v u="$u" 'NR > 1 && $4 == u { s += $5 } END { printf "%.12g", s }' "$SCRATCH/export.csv")
  note "$u: report $rk kWh $rg g; export json $xk kWh $xg g; csv $ck kWh"
  awk -v a="$rk" -v b="$xk" 'BEGIN { d = a - b; exit !(d < 1e-12 && d > -1e-12) }' || fail "$u kWh: report $rk, export $xk"
  awk -v a="$rg" -v b="$xg" 'BEGIN { d = a - b; exit !(d < 1e-9 && d > -1e-9) }' || fail "$u g: report $rg, export $xg"
  awk -v a="$rk" -v b="$ck" 'BEGIN { d = (a - b) / a; exit !(d < 1e-9 && d > -1e-9) }' || fail "$u kWh: csv $ck"
done

# --- market-based Scope 2: the stored factor (10) as before, a flag's, else the grid average
jq -e 'length > 0 and all(.ci_market_source == "configured" and .ci_market_g_per_kwh == 10 and
  ((.emissions_market_gco2e - .energy_kwh_facility * 10) | fabs) < 1e-12)' "$SCRATCH/export.json" \
  >/dev/null || fail "export: stored market factor: $(jq -c '.[0]' "$SCRATCH/export.json")"
J export --format json --from "$from" --to "$to" --market-intensity 0 >"$SCRATCH/x-given.json" ||
  fail "export --market-intensity"
jq -e 'length > 0 and all(.ci_market_source == "given" and .ci_market_g_per_kwh == 0 and
  .emissions_market_gco2e == 0)' "$SCRATCH/x-given.json" >/dev/null ||
  fail "export: given market factor: $(jq -c '.[0]' "$SCRATCH/x-given.json")"
# the same history with no market factor configured
sqlite3 -readonly "$db" ".backup '$SCRATCH/nomarket.db'"
sqlite3 "$SCRATCH/nomarket.db" "DELETE FROM meta WHERE key = 'carbon.market_intensity'"
avg='grid average (no contractual instruments, supplier rate or residual mix configured)'
"$JOULES" --db "$SCRATCH/nomarket.db" export --format json --from "$from" --to "$to" \
  "${flags[@]}" >"$SCRATCH/x-avg.json" || fail "export without a market factor"
jq -e --arg avg "$avg" 'length > 0 and all(.ci_market_source == $avg and
  .ci_market_g_per_kwh == .ci_location_g_per_kwh and .ci_market_g_per_kwh == 342.06 and
  .emissions_market_gco2e == .emissions_location_gco2e)' "$SCRATCH/x-avg.json" >/dev/null ||
  fail "export: no market factor: $(jq -c '.[0]' "$SCRATCH/x-avg.json")"
"$JOULES" --db "$SCRATCH/nomarket.db" export --format csv --from "$from" --to "$to" \
  "${flags[@]}" >"$SCRATCH/x-avg.csv" || fail "export csv without a market factor"
# RFC 4180: the label holds a comma, so it is quoted; every row ends with it
awk -v s=",\"$avg\"" 'NR > 1 { n++; sub(/\r$/, "")
  if (substr($0, length($0) - length(s) + 1) != s) bad++ } END { exit !(n > 0 && !bad) }' \
  "$SCRATCH/x-avg.csv" || fail "export csv: market source: $(sed -n 2p "$SCRATCH/x-avg.csv")"
# the market-based figures are the location-based ones, column for column (11 = 8, 12 = 10)
awk -F, 'NR > 1 && ($11 != $8 || $12 != $10) { bad++ } END { exit bad > 0 }' "$SCRATCH/x-avg.csv" ||
  fail "export csv: market-based figures differ from location-based: $(sed -n 2p "$SCRATCH/x-avg.csv")"

# --- bad arguments: exit 2
for args in "report --by week" "report --since yesterday" "sci --pue 0.5" "sci --requests -1" \
  "compare $ua" "export --format xml --from 1h --to now" "export --format csv" \
  "report --since 1h --until 2h" "intensity import"; do
  set +e
  # shellcheck disable=SC2086
  J $args >/dev/null 2>"$SCRATCH/err"
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "joules $args: exit $rc, expected 2 ($(cat "$SCRATCH/err"))"
  [ -s "$SCRATCH/err" ] || fail "joules $args: no error message"
done
for c in report sci compare export intensity; do
  J "$c" --help | grep -q Examples || fail "$c --help has no examples"
  J "$c" --help | awk 'length > 80 { exit 1 }' || fail "$c --help wider than 80"
done
note "ok"

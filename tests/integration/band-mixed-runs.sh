# The uncertainty band of a history where a measured run (RAPL simulator) is followed by a model
# run: the measured joules are exact, so the band of the whole is only the estimated part's,
# weighted by energy. Bounds = measured + estimated * (1 ± b), ± = estimated * b / total; status,
# report and export agree with the ticks stored, and measured rows carry no band at all.
source "$JOULES_SRC/tests/lib.sh"

sys=$SCRATCH/sys
db=$SCRATCH/joules.db

"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:40 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

"$JOULESD" --db "$db" --interval 250ms --sysfs-root "$sys" --energy-source powercap \
  --events none --ingest-socket '' --duration 3s 2>"$SCRATCH/joulesd1.err" ||
  { cat "$SCRATCH/joulesd1.err"; fail "measured joulesd failed"; }
"$JOULESD" --db "$db" --interval 250ms --sysfs-root "$sys" --energy-source model \
  --events none --ingest-socket '' --duration 3s 2>"$SCRATCH/joulesd2.err" ||
  { cat "$SCRATCH/joulesd2.err"; fail "model joulesd failed"; }

# What the ticks hold: joules measured, joules estimated, and the model run's band.
read -r meas est b < <(sqlite3 -separator ' ' "$db" \
  "SELECT SUM(CASE WHEN t.estimated = 0 THEN t.host_uj END) / 1e6,
          SUM(CASE WHEN t.estimated = 1 THEN t.host_uj END) / 1e6,
          (SELECT band_pct FROM runs WHERE estimated = 1)
   FROM ticks t WHERE t.host_uj IS NOT NULL")
note "measured $meas J, estimated $est J ±$b %"
awk -v m="$meas" -v e="$est" -v b="$b" 'BEGIN { exit !(m > 50 && e > 0 && b > 0) }' ||
  fail "want both runs' energy and a band: measured $meas, estimated $est, band $b"
read -r want_pct want_lo want_hi < <(awk -v m="$meas" -v e="$est" -v b="$b" 'BEGIN {
  lo = e * (1 - b / 100); if (lo < 0) lo = 0
  printf "%.9g %.9g %.9g\n", 100 * e * b / 100 / (m + e), m + lo, m + e * (1 + b / 100) }')
# Close to the stored figures: SQLite's sums and the printed decimals.
near='def near($x; $y): (($x - $y) | fabs) <= 1e-6 * ($y | fabs) + 1e-9;'

st=$("$JOULES" --db "$db" status --json) || fail "status failed"
echo "$st" | jq -e --argjson p "$want_pct" --argjson lo "$want_lo" --argjson hi "$want_hi" \
  "$near"' .host | near(.band_pct; $p) and near(.energy_j_low; $lo) and near(.energy_j_high; $hi)
  and .band_pct < '"$b" >/dev/null ||
  fail "status: $(echo "$st" | jq -c '.host | {energy_j, band_pct, energy_j_low, energy_j_high}'), want ±$want_pct % $want_lo .. $want_hi J"
"$JOULES" --db "$db" status | tr -s " \n" " " | grep -q "J measured, [0-9.]* J estimated" ||
  fail "status table does not split measured and estimated: $("$JOULES" --db "$db" status | head -3)"

# report over both runs: the host's kWh bounds are the same split.
rep=$("$JOULES" --db "$db" report --since 1h --json) || fail "report failed"
echo "$rep" | jq -e --argjson p "$want_pct" --argjson lo "$want_lo" --argjson hi "$want_hi" \
  "$near"' [.periods[].host] | length == 1 and (.[0] | near(.energy_band_pct; $p) and
  near(.energy_kwh_low * 3.6e6; $lo) and near(.energy_kwh_high * 3.6e6; $hi))' >/dev/null ||
  fail "report host: $(echo "$rep" | jq -c '[.periods[].host | {energy_j, energy_band_pct, energy_kwh_low, energy_kwh_high}]')"

# export: a unit's measured joules are exact and its estimated ones carry the model's band, so
# the rows' half-widths (high - energy) add up to the host's, estimated x b; a unit that ran in
# both runs shows less than b; a measured row has no band (empty in CSV, null in JSON). Over the
# measured run alone every row is measured.
from=$(date -u -d '-1 hour' +%Y-%m-%dT%H:00:00Z)
to=$(date -u -d '+2 hour' +%Y-%m-%dT%H:00:00Z)
ex=$("$JOULES" --db "$db" export --format json --from "$from" --to "$to") || fail "export failed"
half=$(awk -v e="$est" -v b="$b" 'BEGIN { printf "%.12g\n", e * b / 100 / 3.6e6 }')
echo "$ex" | jq -e --argjson b "$b" --argjson half "$half" "$near"'
  ([.[] | select(.estimated)] | length > 0 and all(.energy_band_pct <= $b + 1e-9 and
    near(.energy_kwh_high - .energy_kwh; .energy_kwh * .energy_band_pct / 100) and
    .energy_kwh_low <= .energy_kwh)) and
  ([.[] | select(.estimated) | .energy_band_pct] | any(. < $b - 1e-6)) and
  near([.[] | select(.estimated) | .energy_kwh_high - .energy_kwh] | add; $half) and
  ([.[] | select(.estimated | not)] | all(.energy_band_pct == null and .energy_kwh_low == null
    and .energy_kwh_high == null))' >/dev/null ||
  fail "export json: $(echo "$ex" | jq -c '[.[] | {service, estimated, energy_kwh, energy_band_pct, energy_kwh_low, energy_kwh_high}]')"
# the same history with the model run's ticks left out: all measured (plain or packed: a packed
# tick's units and domain energies are its tick_units row)
cp "$db" "$SCRATCH/measured.db"
sqlite3 "$SCRATCH/measured.db" "DELETE FROM unit_energy WHERE tick_id IN (SELECT id FROM ticks
  WHERE estimated = 1); DELETE FROM domain_energy WHERE tick_id IN (SELECT id FROM ticks WHERE
  estimated = 1); DELETE FROM tick_units WHERE tick_id IN (SELECT id FROM ticks WHERE
  estimated = 1); DELETE FROM ticks WHERE estimated = 1" 2>"$SCRATCH/sql.err" ||
  { cat "$SCRATCH/sql.err"; fail "could not drop the model ticks"; }
csv=$("$JOULES" --db "$SCRATCH/measured.db" export --format csv --from "$from" --to "$to") ||
  fail "export csv failed"
rows=$(echo "$csv" | tail -n +2 | tr -d '\r' | grep -c . || true)
[ "$rows" -gt 0 ] || fail "no export rows over the measured run"
# by position from the start (estimated 17, the band 19-21): the last column, ci_market_source,
# is quoted text holding a comma here (no market factor: the grid average's label)
echo "$csv" | tail -n +2 | tr -d '\r' | awk -F, '$17 != "false" || $19 != "" ||
  $20 != "" || $21 != "" { bad = 1; print } END { exit bad }' >&2 ||
  fail "measured CSV rows carry a band"
note "ok: ±$want_pct % of the total, $want_lo .. $want_hi J"

# Upgrade, rollups and retention through the real binaries: a history written by every earlier
# schema (tests/fixtures/db/vN.db, 150 ticks from 2026-01-01T00:00:00Z, months before today)
# is read by this joules as it is; joulesd started on it migrates it, rolls it into minutes,
# hours and days, packs and then deletes its raw ticks and minutes past retention (7 and 90
# days), and `joules services` and `joules status` still give the same energy, CPU and requests,
# now read from the hour and day tiers.
source "$JOULES_SRC/tests/lib.sh"
command -v jq >/dev/null || skip "needs jq"

from=2026-01-01T00:00:00Z
until=2026-01-01T00:02:30Z
# energy, CPU and requests per unit, and the host's, as joules services --json gives them
summary() {
  jq -c '[.host.energy_j, ([.units[] | {unit, active_j, idle_j, cpu_s, requests}]
    | sort_by(.unit))]' "$1"
}

for v in $(seq 1 9); do
  fixture=$JOULES_FIXTURES/db/v$v.db
  [ -f "$fixture" ] || break
  db=$SCRATCH/v$v.db
  cp "$fixture" "$db"
  "$JOULES" --db "$db" services --since "$from" --until "$until" --json >"$SCRATCH/before.json" ||
    fail "v$v: joules services on the old file"
  "$JOULES" --db "$db" status --json >"$SCRATCH/status-before.json" || fail "v$v: joules status"

  "$JOULESD" --db "$db" --interval 100ms --energy-source model --events none --duration 1s \
    2>"$SCRATCH/d.err" || fail "v$v: joulesd on the old file: $(cat "$SCRATCH/d.err")"

  [ "$(sqlite3 "$db" 'PRAGMA user_version')" -gt "$v" ] || fail "v$v: not migrated"
  [ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "v$v: integrity_check"
  # the old ticks are past retention: rolled into hours and days, then deleted
  old="ts_us <= 1767225750000000"
  [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM ticks WHERE $old")" = 0 ] ||
    fail "v$v: raw ticks older than 7 days kept"
  [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM minute_host WHERE start_us < 1767229200000000")" = 0 ] ||
    fail "v$v: minutes older than 90 days kept"
  [ "$(sqlite3 "$db" "SELECT SUM(ticks) FROM hour_host WHERE start_us = 1767225600000000")" = 150 ] ||
    fail "v$v: the hour holds $(sqlite3 "$db" "SELECT SUM(ticks) FROM hour_host") ticks"
  [ "$(sqlite3 "$db" "SELECT SUM(host_uj) FROM day_host WHERE start_us = 1767225600000000")" = \
    "$(sqlite3 "$fixture" "SELECT SUM(host_uj) FROM ticks")" ] || fail "v$v: the day's energy"

  "$JOULES" --db "$db" services --since "$from" --until "$until" --json >"$SCRATCH/after.json" ||
    fail "v$v: joules services after the upgrade"
  [ "$(summary "$SCRATCH/before.json")" = "$(summary "$SCRATCH/after.json")" ] ||
    fail "v$v: services changed: $(summary "$SCRATCH/before.json") -> $(summary "$SCRATCH/after.json")"
  "$JOULES" --db "$db" status --json >"$SCRATCH/status-after.json" || fail "v$v: joules status"
  # the old history is still counted (plus the new run's ticks)
  jq -e --slurpfile b "$SCRATCH/status-before.json" \
    '.host.samples > $b[0].host.samples and .host.energy_j > $b[0].host.energy_j' \
    "$SCRATCH/status-after.json" >/dev/null || fail "v$v: status lost the old history"
  echo "v$v: $(summary "$SCRATCH/after.json")"
done
[ "$v" -gt 5 ] || fail "fixtures missing (found up to v$((v - 1)))"
echo ok

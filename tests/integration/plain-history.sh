# tests/tools/plain-history.c, which the other scripts read per-tick values through (lib.sh's
# plain_db): every fixture history (tests/fixtures/db/vN.db, 150 ticks of 1 s from
# 2026-01-01T00:00:00Z) is packed by the real joulesd (migrated, rolled into minutes, its ticks
# packed; retention off so nothing is deleted), then expanded: the copy holds no packed row and
# exactly the fixture's unit_energy, unit_requests and domain_energy rows, its per-unit and
# per-minute sums are the minute tier's and every tick's units add up to its host energy. A
# history as a schema 6 to 11 joulesd packed it (requests in tick_requests, domains plain) comes
# back the same; a corrupt BLOB or a tick both plain and packed fails naming the tick. A few
# seconds, no daemon left running.
source "$JOULES_SRC/tests/lib.sh"

plain=$JOULES_TESTS_BIN/plain-history
[ -x "$plain" ] || fail "no $plain"
printf '[storage]\nraw_retention = forever\nminute_retention = forever\n' >"$SCRATCH/keep.conf"

has_table() { [ "$(sqlite3 "$1" "SELECT COUNT(*) FROM sqlite_master WHERE name = '$2'")" = 1 ]; }
# rows_differ DB FIXTURE LAST_TICK: per table (unit_energy, unit_requests, domain_energy), the
# rows up to tick LAST_TICK in DB and not in FIXTURE, and those in FIXTURE and not in DB
# ("0 0  0 0  0 0 " when they are the same; v1 has no unit_requests)
rows_differ() {
  local t out=()
  for t in unit_energy unit_requests domain_energy; do
    if has_table "$2" $t; then
      out+=("$(sqlite3 "$1" "ATTACH 'file:$2?mode=ro' AS f;
        SELECT COUNT(*) FROM (SELECT * FROM main.$t WHERE tick_id <= $3 EXCEPT SELECT * FROM f.$t);
        SELECT COUNT(*) FROM (SELECT * FROM f.$t EXCEPT SELECT * FROM main.$t WHERE tick_id <= $3)" |
        tr '\n' ' ')")
    elif has_table "$1" $t; then
      out+=("$(sqlite3 "$1" "SELECT COUNT(*) FROM $t WHERE tick_id <= $3") 0 ")
    else
      out+=("0 0 ")
    fi
  done
  echo "${out[*]}"
}
same='0 0  0 0  0 0 '

for n in $(seq 1 99); do
  v=v$n
  fixture=$JOULES_FIXTURES/db/$v.db
  [ -f "$fixture" ] || break
  db=$SCRATCH/$v.db
  cp "$fixture" "$db"
  last=$(sqlite3 "$fixture" 'SELECT MAX(id) FROM ticks')
  last_us=$(sqlite3 "$fixture" 'SELECT MAX(ts_us) FROM ticks')

  # as the fixture is (packed tables absent or empty): the same rows
  "$plain" "$db" "$SCRATCH/as-is.db" || fail "$v: plain-history on the fixture"
  [ "$(rows_differ "$SCRATCH/as-is.db" "$fixture" "$last")" = "$same" ] ||
    fail "$v as is: rows differ (unit_energy, unit_requests, domain_energy: each way): $(rows_differ "$SCRATCH/as-is.db" "$fixture" "$last")"

  "$JOULESD" --config "$SCRATCH/keep.conf" --db "$db" --interval 100ms --energy-source model \
    --events none --ingest-socket '' --duration 300ms 2>"$SCRATCH/d.err" ||
    fail "$v: joulesd: $(cat "$SCRATCH/d.err")"
  packed=$(sqlite3 "$db" "SELECT COUNT(*) FROM tick_units WHERE tick_id <= $last")
  want=$(sqlite3 "$fixture" 'SELECT COUNT(DISTINCT tick_id) FROM unit_energy')
  [ "$packed" -ge "$want" ] || fail "$v: joulesd packed $packed of the fixture's $want ticks with units"
  [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM unit_energy WHERE tick_id <= $last")" = 0 ] ||
    fail "$v: plain unit_energy rows left beside the packed ticks"

  "$plain" "$db" "$SCRATCH/plain.db" 2>"$SCRATCH/p.err" || fail "$v: plain-history: $(cat "$SCRATCH/p.err")"
  [ ! -s "$SCRATCH/p.err" ] || fail "$v: plain-history printed: $(cat "$SCRATCH/p.err")"
  p=$SCRATCH/plain.db
  [ "$(sqlite3 "$p" 'SELECT COUNT(*) FROM tick_units')" = 0 ] || fail "$v: tick_units rows left"
  [ "$(sqlite3 "$p" 'SELECT COUNT(*) FROM tick_requests')" = 0 ] || fail "$v: tick_requests rows left"
  [ "$(sqlite3 "$p" 'PRAGMA integrity_check')" = ok ] || fail "$v: the copy's integrity_check"
  # exactly the rows the fixture had before joulesd packed them
  [ "$(rows_differ "$p" "$fixture" "$last")" = "$same" ] ||
    fail "$v: rows differ from the fixture's (unit_energy, unit_requests, domain_energy: each way): $(rows_differ "$p" "$fixture" "$last")"

  # per unit over the fixture's minutes, and per minute and unit, the minute tier's sums
  old="t.ts_us <= $last_us"
  mold="m.start_us < $last_us"
  per_unit=$(sqlite3 "$p" "SELECT e.unit_id, SUM(e.active_uj), SUM(e.idle_uj), SUM(e.cpu_ns)
    FROM unit_energy e JOIN ticks t ON t.id = e.tick_id WHERE $old GROUP BY e.unit_id")
  tier_unit=$(sqlite3 "$p" "SELECT m.unit_id, SUM(m.active_uj), SUM(m.idle_uj), SUM(m.cpu_ns)
    FROM minute_units m WHERE $mold GROUP BY m.unit_id")
  { [ -n "$per_unit" ] && [ "$per_unit" = "$tier_unit" ]; } ||
    fail "$v: per unit, expanded [$per_unit] vs minute_units [$tier_unit]"
  per_minute=$(sqlite3 "$p" "SELECT (t.ts_us - 1) / 60000000 * 60000000 AS s, e.unit_id,
    SUM(e.active_uj), SUM(e.idle_uj), SUM(e.cpu_ns)
    FROM unit_energy e JOIN ticks t ON t.id = e.tick_id WHERE $old GROUP BY s, e.unit_id")
  tier_minute=$(sqlite3 "$p" "SELECT m.start_us, m.unit_id, m.active_uj, m.idle_uj, m.cpu_ns
    FROM minute_units m WHERE $mold ORDER BY m.start_us, m.unit_id")
  { [ "$(echo "$per_minute" | wc -l)" -ge 6 ] && [ "$per_minute" = "$tier_minute" ]; } ||
    fail "$v: per minute and unit, expanded [$per_minute] vs minute_units [$tier_minute]"
  req=$(sqlite3 "$p" "SELECT (t.ts_us - 1) / 60000000 * 60000000 AS s, r.unit_id, r.metric_id,
    SUM(r.count) FROM unit_requests r JOIN ticks t ON t.id = r.tick_id WHERE $old
    GROUP BY s, r.unit_id, r.metric_id")
  tier_req=$(sqlite3 "$p" "SELECT m.start_us, m.unit_id, m.metric_id, m.count FROM minute_requests m
    WHERE $mold ORDER BY m.start_us, m.unit_id, m.metric_id")
  [ "$req" = "$tier_req" ] || fail "$v: requests per minute, expanded [$req] vs minute_requests [$tier_req]"
  dom=$(sqlite3 "$p" "SELECT (t.ts_us - 1) / 60000000 * 60000000 AS s, d.domain_id,
    COALESCE(SUM(d.energy_uj), 0) FROM domain_energy d JOIN ticks t ON t.id = d.tick_id WHERE $old
    GROUP BY s, d.domain_id")
  tier_dom=$(sqlite3 "$p" "SELECT m.start_us, m.domain_id, m.energy_uj FROM minute_domains m
    WHERE $mold ORDER BY m.start_us, m.domain_id")
  [ "$dom" = "$tier_dom" ] || fail "$v: domains per minute, expanded [$dom] vs minute_domains [$tier_dom]"
  # per tick: the fixture's units add up to its host energy
  unequal=$(sqlite3 "$p" "SELECT COUNT(*) FROM ticks t JOIN (SELECT tick_id, SUM(active_uj + idle_uj)
    AS uj FROM unit_energy GROUP BY tick_id) e ON e.tick_id = t.id WHERE $old AND e.uj IS NOT t.host_uj")
  [ "$unequal" = 0 ] || fail "$v: $unequal ticks whose expanded units do not add up to host_uj"
  echo "$v: $packed packed ticks expanded, $(echo "$per_minute" | wc -l) minute rows agree"
done
[ "$n" -gt 11 ] || fail "fixtures missing (found up to v$((n - 1)))"

# The newest fixture as a schema 6 to 11 joulesd packed it: requests in tick_requests rows, domain
# energies plain, no requests, domains and procs columns (the rollups never pack processes).
fixture=$JOULES_FIXTURES/db/v$((n - 1)).db
db=$SCRATCH/v$((n - 1)).db
old11=$SCRATCH/old.db
cp "$db" "$old11"
sqlite3 "$old11" "ATTACH 'file:$fixture?mode=ro' AS f;
  INSERT INTO tick_requests SELECT tick_id, requests FROM tick_units WHERE requests IS NOT NULL;
  INSERT INTO domain_energy SELECT d.* FROM f.domain_energy d JOIN tick_units p ON p.tick_id = d.tick_id
    WHERE p.domains IS NOT NULL;
  ALTER TABLE tick_units DROP COLUMN requests; ALTER TABLE tick_units DROP COLUMN domains;
  ALTER TABLE tick_units DROP COLUMN procs; PRAGMA user_version = 11" || fail "making an old packed history"
[ "$(sqlite3 "$old11" 'SELECT COUNT(*) FROM tick_requests')" -gt 0 ] || fail "no tick_requests rows"
"$plain" "$old11" "$SCRATCH/plain-old.db" || fail "plain-history on a schema 11 packed history"
[ "$(rows_differ "$SCRATCH/plain-old.db" "$fixture" "$last")" = "$same" ] ||
  fail "schema 11: rows differ from the fixture's: $(rows_differ "$SCRATCH/plain-old.db" "$fixture" "$last")"

# broken_copy SQL: a copy of the packed history changed by SQL, then expanded: must fail
broken_copy() {
  cp "$db" "$SCRATCH/broken.db"
  sqlite3 "$SCRATCH/broken.db" "$1"
  if "$plain" "$SCRATCH/broken.db" "$SCRATCH/broken-plain.db" 2>"$SCRATCH/b.err"; then
    fail "plain-history succeeded after: $1"
  fi
  [ ! -e "$SCRATCH/broken-plain.db" ] || fail "a failed expansion left its copy after: $1"
  cat "$SCRATCH/b.err"
}
tick=$(sqlite3 "$db" "SELECT tick_id FROM tick_units WHERE tick_id <= $last ORDER BY tick_id LIMIT 1 OFFSET 70")
err=$(broken_copy "UPDATE tick_units SET data = x'ff' WHERE tick_id = $tick")
[[ $err == "plain-history: tick $tick: tick_units.data: malformed BLOB" ]] || fail "corrupt data: $err"
rtick=$(sqlite3 "$db" "SELECT MAX(tick_id) FROM tick_units WHERE requests IS NOT NULL")
err=$(broken_copy "UPDATE tick_units SET requests = x'ff' WHERE tick_id = $rtick")
[[ $err == "plain-history: tick $rtick: tick_units.requests: malformed BLOB" ]] || fail "corrupt requests: $err"
err=$(broken_copy "UPDATE tick_units SET domains = x'ffff' WHERE tick_id = $tick")
[[ $err == "plain-history: tick $tick: tick_units.domains: malformed BLOB" ]] || fail "corrupt domains: $err"
# a tick both plain and packed: a writer's bug, not merged
unit=$(sqlite3 "$fixture" "SELECT MIN(unit_id) FROM unit_energy WHERE tick_id = $tick")
err=$(broken_copy "INSERT INTO unit_energy VALUES ($tick, $unit, 1, 1, 1)")
[[ $err == "plain-history: tick $tick: inserting into unit_energy: UNIQUE constraint failed"* ]] ||
  fail "a tick both plain and packed: $err"
echo ok

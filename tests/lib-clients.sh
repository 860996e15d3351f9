# The example clients (examples/clients/*) through the real joulesd, shared by
# tests/integration/clients-*.sh. Sourced after tests/lib.sh and tests/lib-cgroup.sh.
#   clients_check LANG CMD ARGS...
# starts joulesd with a private ingest socket and database, runs CMD (an example's count program
# adding 100,000 counts from 4 threads) inside a fresh service cgroup, and checks that exactly
# 100,000 "requests" landed on that service, none elsewhere, in far fewer datagrams than counts.
clients_check() {
  local lang=$1
  shift
  local db=$SCRATCH/joules.db sock=$SCRATCH/ingest.sock unit=t-joules-$$-$lang.service jd pid
  cg_unit "$unit"
  "$JOULESD" --config /dev/null --db "$db" --interval 200ms --energy-source model --events none \
    --cgroup-root "$CG_ROOT" --ingest-socket "$sock" 2>"$SCRATCH/joulesd.err" &
  jd=$!
  CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
  wait_for_file "$sock" 5 || { cat "$SCRATCH/joulesd.err" >&2; fail "no ingest socket"; }
  JOULES_INGEST_SOCKET=$sock cg_spawn "$unit" "$@" --counts 100000 --threads 4
  pid=$CG_LAST_PID
  wait "$pid" || fail "the $lang client failed"
  sleep 0.6 # two more ticks
  kill -TERM "$jd"
  wait "$jd" || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not stop cleanly"; }
  local plain got others acc
  plain=$(plain_db "$db") # the requests as plain rows, packed or not
  got=$(sqlite3 "$plain" "SELECT COALESCE(SUM(r.count), 0) FROM unit_requests r
    JOIN units u ON u.id = r.unit_id JOIN request_metrics m ON m.id = r.metric_id
    WHERE u.name = '$unit' AND m.name = 'requests'")
  others=$(sqlite3 "$plain" "SELECT COALESCE(SUM(r.count), 0) FROM unit_requests r
    JOIN units u ON u.id = r.unit_id WHERE u.name != '$unit'")
  acc=$(sqlite3 "$db" "SELECT SUM(accepted) FROM ingest_stats")
  note "$lang: $got requests on $unit in $acc datagrams, $others elsewhere"
  awk -v v="$got" 'BEGIN { exit !(v == 100000) }' || fail "$unit has $got requests, expected 100000"
  awk -v v="$others" 'BEGIN { exit !(v == 0) }' || fail "$others counts landed elsewhere"
  [ "$acc" -lt 1000 ] || fail "$acc datagrams for 100,000 counts: not aggregated"
}

# Shared by tests/integration/*.sh: paths from ctest, a scratch directory removed at exit,
# and small assertions. Sourced, not run.
set -euo pipefail

: "${JOULES_BIN:?run through ctest}"
: "${JOULES_TESTS_BIN:?run through ctest}"
JOULESD=$JOULES_BIN/joulesd
JOULES=$JOULES_BIN/joules

SCRATCH=$(mktemp -d /tmp/joules-it.XXXXXX)
CLEANUP=()
on_exit() {
  local rc=$?
  local c
  for c in "${CLEANUP[@]}"; do eval "$c" || true; done
  rm -rf "$SCRATCH"
  exit $rc
}
trap on_exit EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { echo "--- $*" >&2; }

# within ACTUAL EXPECTED PERCENT: true when |actual - expected| <= percent% of expected
within() {
  awk -v a="$1" -v e="$2" -v p="$3" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'
}

# wait_for_line FILE REGEX [SECONDS]: waits (default 20 s) until a line of FILE matches.
wait_for_line() {
  local i
  for ((i = 0; i < ${3:-20} * 20; i++)); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# Waits up to $2 seconds (default 10) for the history $1 to hold a committed tick.
wait_for_tick() {
  local i
  for ((i = 0; i < ${2:-10} * 20; i++)); do
    [ "$(sqlite3 "$1" 'SELECT COUNT(*) FROM ticks' 2>/dev/null || echo 0)" -gt 0 ] && return 0
    sleep 0.05
  done
  return 1
}

# Waits up to $2 seconds (default 5) for a file to exist.
wait_for_file() {
  local i
  for ((i = 0; i < ${2:-5} * 20; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done
  return 1
}

# plain_db DB: prints the path of a new copy of the history DB ($SCRATCH/plain-<n>.db, one per
# call) in which every packed tick is plain unit_energy, unit_requests and domain_energy rows
# again (tests/tools/plain-history.c): read those three tables there, from a copy made once
# joulesd stopped or, while it runs, at the moment of the query. Fails the test if it cannot;
# assign it (p=$(plain_db "$db")), as a failure inside another command's arguments goes unseen.
plain_db() {
  local n=1 copy
  # the first free number, claimed atomically (noclobber): calls run in $(...) subshells
  while ! (set -C && : >"$SCRATCH/plain-$n.db") 2>/dev/null; do n=$((n + 1)); done
  copy=$SCRATCH/plain-$n.db
  "$JOULES_TESTS_BIN/plain-history" "$1" "$copy" || fail "plain-history $1 $copy failed"
  echo "$copy"
}

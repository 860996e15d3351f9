# For the tests that run servers on loopback (exporter.sh, prometheus.sh, fleet-export.sh).
# Sourced after tests/lib.sh (uses SCRATCH and fail).

# A free TCP port on loopback, different from the ones already taken here (others may take it
# before us: every server started is then checked to be ours and answering).
TAKEN=" "
free_port() {
  local p
  for _ in $(seq 200); do
    p=$(shuf -i 20000-59999 -n 1)
    case $TAKEN in *" $p "*) continue ;; esac
    if [ -z "$(ss -Htln "sport = :$p")" ]; then
      TAKEN+="$p "
      echo "$p"
      return 0
    fi
  done
  fail "no free port"
}

# The end of every log in the scratch directory, when something failed.
logs() {
  local f
  for f in "$SCRATCH"/*.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
  done
  return 0
}
die() { logs; fail "$*"; }

# For the tests that run servers on loopback (exporter.sh, prometheus.sh, fleet-export.sh).
# Sourced after tests/lib.sh (uses SCRATCH and fail).

# free_port VAR: sets VAR to a free TCP port on loopback, different from the ones already taken
# here (others may take it before us: every server started is then checked to be ours and
# answering). It assigns rather than prints, so that it runs in this shell and TAKEN keeps the
# ports handed out: two calls before either server binds never get the same port.
# Below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default):
# the local ports of outgoing connections (Prometheus scraping, wrk) come from there and a bind
# to one of them fails although nothing listens on it. A port any socket holds is skipped.
TAKEN=" "
free_port() {
  local p lo
  [ $# -eq 1 ] || fail "free_port: name the variable to set"
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  [ "${lo:-0}" -gt 11000 ] || lo=32768
  for _ in $(seq 200); do
    p=$(shuf -i 10000-$((lo - 1)) -n 1)
    case $TAKEN in *" $p "*) continue ;; esac
    if [ -z "$(ss -Htan "sport = :$p")" ]; then
      TAKEN+="$p "
      printf -v "$1" '%s' "$p"
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

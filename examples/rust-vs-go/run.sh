#!/usr/bin/env bash
# The Rust-vs-Go proof of concept: builds both services, checks they answer the same bytes, runs
# each as its own unit, and runs `joules ab` twice (at saturation with wrk, and at a fixed request
# rate both sustain with httperf), then writes report.md and the SVGs into the output directory.
#
#   ./run.sh [--quick] [--out DIR] [--build-dir DIR] [--db PATH] [--install]
#
#   --quick      2 runs of 2 s per variant (the test suite's variant); default 5 runs of 10 s
#   --out DIR    report.md, saturation.{json,txt,svg}, fixed-rate.{json,txt,svg} (default ./out)
#   --build-dir  where the binaries are built (default OUT/build; kept between runs)
#   --db PATH    use the history of the joulesd already running; default: a private joulesd
#                (joulesd from PATH or ../../build/bin) writing OUT/joules.db
#   --install    apt-get install what is missing first (Debian 12)
# Needs root (a unit per service). Exit 77 when a tool or crate is missing (the test suite skips).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
quick=no out=$PWD/out build= db= install=no
while [ $# -gt 0 ]; do
  case $1 in
  --quick) quick=yes ;;
  --out) out=$2; shift ;;
  --build-dir) build=$2; shift ;;
  --db) db=$2; shift ;;
  --install) install=yes ;;
  *) echo "usage: $0 [--quick] [--out DIR] [--build-dir DIR] [--db PATH] [--install]" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=${build:-$out/build}
mkdir -p "$build"
log() { printf '==> %s\n' "$*" >&2; }
missing() { echo "SKIP: $*" >&2; exit 77; }

PACKAGES=(golang-go cargo rustc librust-hyper-dev librust-tokio-dev librust-serde-json-dev
  librust-serde-dev wrk httperf jq python3)
if [ "$install" = yes ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi
[ "$(id -u)" -eq 0 ] || missing "needs root (a unit or cgroup per service)"
# Debian's cargo and rustc: a newer toolchain (rustup) would write a Cargo.lock Debian's refuses
CARGO=/usr/bin/cargo
[ -x "$CARGO" ] || CARGO=$(command -v cargo || true)
for t in go wrk httperf jq python3 curl; do command -v $t >/dev/null || missing "no $t"; done
[ -n "$CARGO" ] || missing "no cargo"
for c in hyper-0.14 tokio-1 serde_json-1 serde-1 serde_derive-1; do
  compgen -G "/usr/share/cargo/registry/$c.*" >/dev/null || missing "no crate $c in /usr/share/cargo/registry (librust-*-dev)"
done
JOULES=${JOULES:-$(command -v joules || echo "$here/../../build/bin/joules")}
JOULESD=${JOULESD:-$(command -v joulesd || echo "$here/../../build/bin/joulesd")}
[ -x "$JOULES" ] || missing "no joules binary (build the project, or set JOULES)"

cleanup=()
on_exit() { local c; for c in "${cleanup[@]}"; do eval "$c" || true; done; }
trap on_exit EXIT

log "building the Go service (standard library, GOPROXY=off)"
(cd "$here/go" && GOPROXY=off GOFLAGS=-mod=mod go build -o "$build/items-go" .)
log "building the Rust service (hyper, tokio, serde_json from Debian's crates, offline)"
# a copy, so that the checkout gets no Cargo.lock and no target/
mkdir -p "$build/rust"
cp -r "$here/rust/Cargo.toml" "$here/rust/src" "$here/rust/.cargo" "$build/rust/"
(cd "$build/rust" && "$CARGO" build --release -q)
cp "$build/rust/target/release/items" "$build/items-rust"

# Each service its own unit: a transient systemd service where systemd runs, else a cgroup under
# system.slice (what systemd would make), which joulesd attributes in the same way.
cgroot=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo)
start_unit() { # start_unit NAME BINARY PORTFILE
  local name=$1 bin=$2 pf=$3
  rm -f "$pf"
  if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then
    systemd-run --quiet --unit="$name" --property=Type=exec "$bin" --listen 127.0.0.1:0 --port-file "$pf"
    cleanup+=("systemctl stop '$name' 2>/dev/null")
  else
    [ -n "$cgroot" ] || missing "no cgroup v2 mount"
    mkdir -p "$cgroot/system.slice"
    mkdir "$cgroot/system.slice/$name"
    (echo "$BASHPID" >"$cgroot/system.slice/$name/cgroup.procs" && exec "$bin" --listen 127.0.0.1:0 --port-file "$pf") &
    cleanup+=("kill $! 2>/dev/null; wait $! 2>/dev/null; rmdir '$cgroot/system.slice/$name'")
  fi
  for _ in $(seq 100); do [ -s "$pf" ] && return 0; sleep 0.05; done
  echo "$name did not start" >&2
  exit 1
}
go_unit=joules-poc-go-$$.service
rust_unit=joules-poc-rust-$$.service
start_unit "$go_unit" "$build/items-go" "$out/port-go"
start_unit "$rust_unit" "$build/items-rust" "$out/port-rust"
go_url=http://127.0.0.1:$(cat "$out/port-go")
rust_url=http://127.0.0.1:$(cat "$out/port-rust")

log "checking that both answer the same bytes"
for q in "/items" "/items?n=50&seed=7" "/items?n=0" "/items?n=1000&seed=18446744073709551615" \
  "/items?n=10001" "/items?n=-1" "/items?n=%31" "/items?seed=x" "/items?n=5&n=7" "/nope"; do
  a=$(curl -s -w '\n%{http_code} %{content_type}' "$go_url$q" | md5sum)
  b=$(curl -s -w '\n%{http_code} %{content_type}' "$rust_url$q" | md5sum)
  [ "$a" = "$b" ] || { echo "different answers for $q" >&2; exit 1; }
done
query="/items?n=50&seed=7" # about 5 KB of JSON per answer
bytes=$(curl -s "$go_url$query" | wc -c)

if [ -z "$db" ]; then
  [ -x "$JOULESD" ] || missing "no joulesd binary"
  db=$out/joules.db
  rm -f "$db" "$db-wal" "$db-shm"
  # auto: RAPL where the host has it, else the CPU model (estimated)
  "$JOULESD" --db "$db" --interval 500ms --ingest-socket '' 2>"$out/joulesd.log" &
  jd=$!
  cleanup+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")
  # ready when it has stored a few ticks
  for _ in $(seq 300); do
    python3 -c 'import sqlite3, sys
sys.exit(sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True).execute(
    "SELECT COUNT(*) >= 3 FROM ticks").fetchone()[0] != 1)' "$db" 2>/dev/null && break
    sleep 0.1
  done
fi

if [ "$quick" = yes ]; then repeat=2 dur=2 warm=1s; else repeat=5 dur=10 warm=5s; fi
ab() { # ab NAME LOAD_GO LOAD_RUST
  log "joules ab: $1 ($repeat runs of ${dur}s per variant)"
  "$JOULES" --db "$db" ab --a "$go_unit" --a-load "$2" --b "$rust_unit" --b-load "$3" \
    --repeat "$repeat" --warmup "$warm" --cooldown 2s --json --svg "$out/$1.svg" >"$out/$1.json"
}
ab saturation "wrk -t1 -c16 -d${dur}s '$go_url$query'" "wrk -t1 -c16 -d${dur}s '$rust_url$query'"
# A rate both sustain: a quarter of the slower one's saturated throughput, and at most 500/s,
# which httperf itself sustains on a small machine (open loop: it sends at that rate whatever the
# answers' latency, one connection per request; its FD_SETSIZE warning is dropped)
slow=$(jq -r '[.a.requests_per_s, .b.requests_per_s] | min' "$out/saturation.json")
rate=$(awk -v s="$slow" 'BEGIN { r = int(s / 4); if (r > 500) r = 500; if (r < 20) r = 20; print r }')
n=$((rate * dur))
hp() { echo "httperf --hog --server 127.0.0.1 --port $1 --uri '$query' --rate $rate --num-conns $n --num-calls 1 --timeout 5 2>/dev/null"; }
ab fixed-rate "$(hp "$(cat "$out/port-go")")" "$(hp "$(cat "$out/port-rust")")"

log "writing $out/report.md"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
row() { # row FILE: one markdown table row per variant
  jq -r '.a as $a | .b as $b | [["Go", $a], ["Rust", $b]][] | . as [$name, $v] |
    "| \($name) | \($v.j_per_request.median * 1e3 | . * 10000 | round / 10000) " +
    "| \($v.j_per_request.ci_low * 1e3 | . * 10000 | round / 10000) .. " +
    "\($v.j_per_request.ci_high * 1e3 | . * 10000 | round / 10000) " +
    "| \($v.cpu_s_per_request * 1e6 | . * 10 | round / 10) " +
    "| \($v.requests_per_s | round) | \($v.latency_ms | . * 100 | round / 100) " +
    "| \($v.avg_w | . * 100 | round / 100) " +
    "| \($v.gco2e_per_million_requests | . * 1000 | round / 1000) |"' "$1"
}
verdict() {
  jq -r '"B/A (Rust/Go) = **\(.ratio_b_over_a.estimate | . * 1000 | round / 1000)**, 95% interval " +
    "\(.ratio_b_over_a.ci_low | . * 1000 | round / 1000) .. " +
    "\(.ratio_b_over_a.ci_high | . * 1000 | round / 1000): \(.verdict)" +
    (if .estimated then " (**estimated** energy: no RAPL, the CPU model)" else " (measured: RAPL)" end)' "$1"
}
{
  echo "# Rust vs Go: energy per request, measured by joules ab"
  echo
  echo "Machine: $(uname -srm), $(nproc) CPUs ($cpu), $(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)."
  echo "Toolchains: $(go version | cut -d' ' -f3), $("${CARGO%cargo}rustc" --version 2>/dev/null || rustc --version)."
  echo "Energy source: $(jq -r 'if .estimated then "the CPU model (estimated)" else "RAPL (measured)" end' "$out/saturation.json");"
  echo "carbon intensity $(jq -r .intensity_source "$out/saturation.json"), PUE $(jq -r .pue "$out/saturation.json")."
  echo "Endpoint: GET $query (a $bytes-byte JSON document); both services answered the same bytes."
  echo "$repeat runs of $dur s per variant, order $(jq -r .order "$out/saturation.json"), warm-up $warm, 2 s between runs."
  echo "A = Go ($go_unit), B = Rust ($rust_unit)."
  for name in saturation fixed-rate; do
    echo
    if [ "$name" = saturation ]; then
      echo "## At saturation (wrk, 16 connections, closed loop)"
    else
      echo "## At a fixed rate both sustain (httperf, $rate requests/s, open loop)"
    fi
    echo
    echo "| | mJ/request (median) | 95% interval | CPU us/request | requests/s | latency ms | W | gCO2e / M requests |"
    echo "|---|---|---|---|---|---|---|---|"
    row "$out/$name.json"
    echo
    verdict "$out/$name.json"
    echo
    echo "![$name]($name.svg)"
  done
} >"$out/report.md"
cat "$out/report.md"

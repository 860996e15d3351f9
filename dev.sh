#!/usr/bin/env bash
# dev.sh — the one entry point for working on joules on Debian 12.
#   ./dev.sh run [joulesd flags]   install what is missing, build, run joulesd in the foreground
#   ./dev.sh test                  install what is missing, build, run every test (also under
#                                  ASan+UBSan) and check the formatting
#   ./dev.sh build                 install what is missing and build: build/bin/{joulesd,joules}
#   ./dev.sh bench                 build and run the benchmarks under bench/
#   ./dev.sh package [OUTDIR]      build the Debian packages (joules_<version>_<arch>.deb, ...)
#                                  into OUTDIR (default build-deb/) and check them with lintian
#   ./dev.sh fuzz [TARGET|all] [SECONDS]  run the libFuzzer targets of fuzz/ (default: every one,
#                                  10 million executions each; SECONDS: that long each instead)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

# Debian packages the build, the tests and the benchmarks need.
PACKAGES=(
  build-essential cmake pkg-config git
  libpfm4-dev libsystemd-dev libsqlite3-dev libinih-dev libcmocka-dev
  sqlite3 jq clang-format python3
  libcurl4-openssl-dev wrk
  # joules intensity import: the UK National Grid carbon-intensity JSON
  libjson-c-dev
  # joules-exporter: its HTTP server; the integration test scrapes it with curl and lints the
  # page with promtool (from prometheus)
  libmicrohttpd-dev curl prometheus
  # systemd tests: systemd-analyze verify/security, sysusers, tmpfiles (systemd), the man pages
  # verify checks (man-db), and a real systemd booted in a container (debootstrap,
  # systemd-container for systemd-nspawn)
  systemd man-db debootstrap systemd-container
  # examples/rust-vs-go (run by the test suite) and examples/clients (tests/integration/clients-*):
  # Go's standard library, Rust with Debian's own hyper/tokio/serde crates (cargo offline),
  # httperf for a fixed request rate, curl for the byte-for-byte check
  golang-go cargo rustc librust-hyper-dev librust-tokio-dev librust-serde-json-dev
  librust-serde-dev httperf curl
  # ./dev.sh package: dpkg-buildpackage (dpkg-dev), dh (debhelper), lintian
  dpkg-dev debhelper fakeroot lintian
  # the Prometheus rules and integration tests: promtool and a real Prometheus, queried with curl
  prometheus curl
  # tests/integration/prometheus.sh: free ports for its Prometheus servers (ss)
  iproute2
  # fuzz/: clang's libFuzzer (its runtime is only recommended by clang)
  clang libclang-rt-14-dev
  # bench-soak --valgrind (leak check), bench-tick --callgrind (instructions per tick)
  valgrind
)

# Debian packages only ./dev.sh bench needs: the tools bench-peers measures side by side with
# joulesd (node_exporter, collectd, pidstat from sysstat, atop). Not for ./dev.sh test.
BENCH_PACKAGES=(prometheus-node-exporter collectd-core sysstat atop)

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_packages() { # [extra packages...]
  local missing=() p
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  # The Grafana dashboard check (TypeScript from npm) needs node and npm. The build machines
  # carry their own Node.js (not Debian's package, which would conflict with it): Debian's
  # nodejs and npm are installed only where there is no node at all.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing: nodejs npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      nodejs npm >/dev/null
  fi
}

jobs() { nproc 2>/dev/null || echo 2; }

build() { # build DIR [cmake flags...]; the compiler's output is shown only when it fails
  local dir=$1; shift
  mkdir -p "$dir"
  if ! { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" &&
         cmake --build "$dir" -j"$(jobs)"; } >"$dir/build.log" 2>&1; then
    cat "$dir/build.log" >&2
    log "build failed ($dir/build.log)"
    exit 1
  fi
}

check_format() {
  local files
  files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
  # shellcheck disable=SC2086
  clang-format --dry-run --Werror $files
}

# The version is said twice, in CMakeLists.txt's project() and in debian/changelog: they must agree.
check_versions() {
  local cmake_v deb_v
  cmake_v=$(sed -n 's/^project(joules VERSION \([^ )]*\).*/\1/p' CMakeLists.txt)
  deb_v=$(dpkg-parsechangelog -l debian/changelog -S Version)
  if [ -z "$cmake_v" ] || [ "$cmake_v" != "$deb_v" ]; then
    log "version mismatch: CMakeLists.txt project() says '$cmake_v', debian/changelog '$deb_v'"
    exit 1
  fi
  echo "$cmake_v"
}

# Builds the source and binary packages from a copy of the tree (tracked and new files, not
# build directories): dpkg-buildpackage writes its results beside the source directory.
package() {
  local out=$1 version work src arch f rc=0
  version=$(check_versions)
  arch=$(dpkg-architecture -qDEB_HOST_ARCH)
  work=$(mktemp -d "${TMPDIR:-/tmp}/joules-deb.XXXXXX")
  src=$work/joules-$version
  mkdir -p "$src" "$out"
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
      tar --null -T - -cf - | tar -xf - -C "$src"
  else
    tar --exclude='./build*' --exclude='./.git' -cf - . | tar -xf - -C "$src"
  fi
  log "dpkg-buildpackage in $src"
  if ! (cd "$src" && dpkg-buildpackage -us -uc -j"$(jobs)") >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log" >&2
    log "dpkg-buildpackage failed (the whole log: $out/build.log)"
    cp "$work/build.log" "$out/"
    rm -rf "$work"
    exit 1
  fi
  cp "$work/build.log" "$out/"
  for f in "$work"/*; do [ -f "$f" ] && mv "$f" "$out/"; done
  rm -rf "$work"
  log "built $out/joules_${version}_${arch}.deb"
  if [ "${JOULES_LINTIAN:-1}" = 1 ]; then
    # Every warning is fixed or justified in debian/*lintian-overrides (README: Debian package).
    log "lintian"
    lintian --fail-on error,warning --display-info \
      "$out/joules_${version}_${arch}.changes" || rc=$?
    [ "$rc" -eq 0 ] || { log "lintian found errors or warnings"; exit "$rc"; }
  fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  build)
    ensure_packages
    build build -DJOULES_WERROR=ON
    log "built build/bin/joulesd and build/bin/joules"
    ;;
  run)
    ensure_packages
    build build -DJOULES_WERROR=ON
    db=${JOULES_DB:-$PWD/build/joules.db}
    log "joulesd is sampling into $db (Ctrl-C stops it)"
    log "ask it from another terminal: build/bin/joules --db $db status"
    exec build/bin/joulesd --db "$db" --show "$@"
    ;;
  test)
    ensure_packages
    log "checking the formatting (.clang-format)"
    check_format
    log "build with -Werror"
    build build -DJOULES_WERROR=ON
    log "tests"
    (cd build && ctest --output-on-failure -j"$(jobs)")
    log "build with AddressSanitizer + UndefinedBehaviorSanitizer"
    build build-asan -DJOULES_WERROR=ON -DJOULES_SANITIZE=ON
    # As many at a time as stage 1: the tests compare what is exact within a tick or wait for
    # the daemon's own progress, and the A/B experiments run alone (RUN_SERIAL); one at a time
    # took 12 of the 22 minutes.
    log "tests under ASan+UBSan"
    (cd build-asan &&
      ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ctest --output-on-failure -j"$(jobs)")
    log "fuzz targets: a short run of each over its seeds under ASan+UBSan (fuzz/)"
    CC=clang build build-fuzz -DJOULES_FUZZ=ON
    (cd build-fuzz && ctest --output-on-failure -j"$(jobs)")
    ;;
  fuzz)
    ensure_packages
    CC=clang build build-fuzz -DJOULES_FUZZ=ON
    limit=runs=10000000
    [ -n "${2:-}" ] && limit=time=$2
    targets=${1:-all}
    [ "$targets" = all ] && targets=$(cd build-fuzz/bin && ls fuzz-* | sed 's/^fuzz-//')
    rc=0
    for t in $targets; do bash fuzz/run.sh build-fuzz/bin "$t" "$limit" || rc=1; done
    exit $rc
    ;;
  bench)
    ensure_packages "${BENCH_PACKAGES[@]}"
    build build -DJOULES_WERROR=ON
    for b in build/bench/bench-*; do
      [ -x "$b" ] || continue
      log "$b"
      rc=0
      "$b" || rc=$?
      case $rc in
        0) ;;
        77) log "$b skipped (it says why above)" ;;
        *) log "$b failed with exit code $rc"; exit "$rc" ;;
      esac
    done
    ;;
  package)
    ensure_packages
    package "$(readlink -f "${1:-build-deb}")"
    ;;
  *)
    echo "usage: ./dev.sh run|test|build|bench|package|fuzz" >&2
    exit 2
    ;;
esac

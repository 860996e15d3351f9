#!/usr/bin/env bash
# fuzz/run.sh [--smoke] BIN_DIR TARGET runs=N|time=SECONDS|runs=N,time=SECONDS
# Runs bin/fuzz-TARGET over its seed corpus (fuzz/corpus/TARGET) and the inputs it found before
# (BIN_DIR/../fuzz-work/TARGET/corpus), with fuzz/dict/TARGET.dict when there is one, and prints
# one line: the executions and executions per second. A crash, a leak, a broken invariant or a
# timeout fails with libFuzzer's report, and the input is kept in fuzz-work/TARGET/artifacts/.
# --smoke: a fixed seed and a fresh work corpus, so the ctest run is repeatable.
set -euo pipefail
smoke=0
if [ "${1:-}" = --smoke ]; then smoke=1; shift; fi
bin=$1 target=$2 limit=$3
src=$(cd "$(dirname "$0")" && pwd)
work=$(cd "$bin/.." && pwd)/fuzz-$([ $smoke = 1 ] && echo smoke || echo work)/$target
[ $smoke = 1 ] && rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
args=(-print_final_stats=1 -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/")
[ $smoke = 1 ] && args+=(-seed=1)
[ -f "$src/dict/$target.dict" ] && args+=(-dict="$src/dict/$target.dict")
for l in ${limit//,/ }; do
  case $l in
    runs=*) args+=(-runs="${l#runs=}") ;;
    time=*) args+=(-max_total_time="${l#time=}") ;;
    *) echo "run.sh: limit must be runs=N, time=SECONDS or both (runs=N,time=S)" >&2; exit 2 ;;
  esac
done
log=$work/last.log
rc=0
"$bin/fuzz-$target" "${args[@]}" "$work/corpus" "$src/corpus/$target" >"$log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
printf '%-16s %12s executions %9s exec/s  %s\n' "$target" "${execs:-?}" "${rate:-?}" \
  "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc): $log")"
if [ $rc -ne 0 ]; then
  tail -n 60 "$log" >&2
fi
[ $rc -eq 0 ] || exit 1

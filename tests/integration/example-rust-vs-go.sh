# examples/rust-vs-go, the short variant (2 runs of 2 s per variant), so the proof of concept never
# rots: both services build offline from Debian's packages, answer the same bytes, run as their
# own units, and joules ab measures them at saturation and at a fixed rate; the report and the
# SVGs are written. What is asserted is the experiment's shape, never which language wins (that is
# the measurement, and on a loaded 2-CPU machine two runs decide little).
# Needs root, go, cargo, the librust-*-dev crates, wrk and httperf (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
out=$SCRATCH/out
# the binaries are kept in the build tree between runs (cargo's build is the slow part)
build=$JOULES_BIN/../examples-build
set +e
JOULES=$JOULES JOULESD=$JOULESD "$JOULES_SRC/examples/rust-vs-go/run.sh" --quick --out "$out" \
  --build-dir "$build" >"$SCRATCH/run.out" 2>"$SCRATCH/run.err"
rc=$?
set -e
[ "$rc" -eq 77 ] && skip "$(grep SKIP "$SCRATCH/run.err")"
[ "$rc" -eq 0 ] || { cat "$SCRATCH/run.err" >&2; fail "run.sh exit code $rc"; }
cat "$out/report.md" >&2
grep -q "both services answered the same bytes" "$out/report.md" || fail "no byte check in the report"
for name in saturation fixed-rate; do
  f=$out/$name.json
  jq -e '(.a.runs | length) == 2 and (.b.runs | length) == 2 and .order == "ABBA"
    and (.a.unit | startswith("joules-poc-go-")) and (.b.unit | startswith("joules-poc-rust-"))
    and ([.a.runs[], .b.runs[]] | all(.requests > 0 and .energy_j > 0 and .j_per_request > 0))
    and (.significant | type) == "boolean" and (.estimated | type) == "boolean"
    and (.ratio_b_over_a.estimate > 0)' "$f" >/dev/null || fail "$name.json: $(cat "$f")"
  # the report says what the energy was, as the JSON does
  if [ "$(jq -r .estimated "$f")" = true ]; then
    grep -q "estimated" "$out/report.md" || fail "the report does not say estimated"
  fi
  python3 -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" "$out/$name.svg" ||
    fail "$name.svg is not well-formed"
  grep -q "$name.svg" "$out/report.md" || fail "the report does not show $name.svg"
done
# the fixed-rate experiment sent at a rate, through httperf
jq -e '.a.load | startswith("httperf ")' "$out/fixed-rate.json" >/dev/null || fail "fixed rate load"
# the checkout is left clean: no Cargo.lock or target/ written next to the sources
[ ! -e "$JOULES_SRC/examples/rust-vs-go/rust/Cargo.lock" ] || fail "a Cargo.lock was written into the checkout"
note "ok"

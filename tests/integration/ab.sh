# joules ab, end to end: the real joulesd (the CPU model: estimated, as on any host without RAPL),
# real HTTP servers in real cgroup services, wrk as the load generator.
#   (a) two services where B does twice the CPU work per request of A (http-server --work: a fixed
#       amount of arithmetic, not a time, so the machine's load does not change it): the ratio
#       B/A of J/request is near 2 and significant; every run's figures are consistent;
#   (b) the same service measured as A and as B: no significant difference;
#   (c) usage errors and no daemon.
# Kept short (3 runs of 2 s per variant) and robust on a loaded machine: what is asserted is the
# verdict and a wide band around the ratio, never a time.
# Needs root, a cgroup2 mount and wrk (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require
command -v wrk >/dev/null || skip "no wrk (apt-get install wrk)"

db=$SCRATCH/joules.db
light=t-joules-$$-ab-light.service
heavy=t-joules-$$-ab-heavy.service

"$JOULESD" --db "$db" --interval 200ms --energy-source model --cgroup-root "$CG_ROOT" \
  --events none --ingest-socket '' 2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")

cg_unit "$light"
cg_spawn "$light" "$JOULES_TESTS_BIN/http-server" --port-file "$SCRATCH/port-light" --work 300000
cg_unit "$heavy"
cg_spawn "$heavy" "$JOULES_TESTS_BIN/http-server" --port-file "$SCRATCH/port-heavy" --work 600000
wait_for_file "$SCRATCH/port-light" 5 && wait_for_file "$SCRATCH/port-heavy" 5 ||
  fail "http-server did not start"
url_light=http://127.0.0.1:$(cat "$SCRATCH/port-light")/
url_heavy=http://127.0.0.1:$(cat "$SCRATCH/port-heavy")/
for _ in $(seq 50); do [ -s "$db" ] && "$JOULES" --db "$db" status >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5

load() { echo "wrk -t1 -c2 -d2s $1"; }
ab() { # ab NAME A URL_A B URL_B: joules ab --json into $SCRATCH/NAME.json
  "$JOULES" --db "$db" ab --a "$2" --a-load "$(load "$3")" --b "$4" --b-load "$(load "$5")" \
    --repeat 3 --warmup 1s --cooldown 300ms --json --svg "$SCRATCH/$1.svg" \
    >"$SCRATCH/$1.json" 2>"$SCRATCH/$1.err" || { cat "$SCRATCH/$1.err" >&2; fail "($1) joules ab"; }
  cat "$SCRATCH/$1.json" >&2
}
j() { jq -r "$1" "$SCRATCH/$2.json"; }

# (a) twice the work
ab a "$light" "$url_light" "$heavy" "$url_heavy"
[ "$(j .a.unit a)" = "$light" ] && [ "$(j .b.unit a)" = "$heavy" ] || fail "(a) units"
[ "$(j '.a.runs | length' a)" = 3 ] && [ "$(j '.b.runs | length' a)" = 3 ] || fail "(a) 3 runs each"
[ "$(j .order a)" = ABBAAB ] || fail "(a) order $(j .order a)"
[ "$(j .estimated a)" = true ] || fail "(a) the model's energy is estimated"
# every run: energy, requests (wrk's own count), J/request = energy / requests
jq -e '[.a.runs[], .b.runs[]] | all(.energy_j > 0 and .requests > 100 and .duration_s >= 2
  and ((.j_per_request - .energy_j / .requests) | fabs) < 1e-12 * .j_per_request)' \
  "$SCRATCH/a.json" >/dev/null || fail "(a) a run's figures are inconsistent"
# the median of the runs, and the interval around the geometric mean
jq -e '.a, .b | (.runs | map(.j_per_request) | sort | .[1]) as $m
  | .j_per_request.median == $m and .j_per_request.ci_low < .j_per_request.geomean
  and .j_per_request.geomean < .j_per_request.ci_high' "$SCRATCH/a.json" >/dev/null ||
  fail "(a) per-variant median and interval"
est=$(j .ratio_b_over_a.estimate a)
lo=$(j .ratio_b_over_a.ci_low a)
hi=$(j .ratio_b_over_a.ci_high a)
note "(a) B/A = $est [$lo, $hi], significant $(j .significant a)"
[ "$(j .significant a)" = true ] || fail "(a) twice the work is not significant: $est [$lo, $hi]"
# twice the arithmetic, plus the same per-request overhead (syscalls, parsing) and an idle share
# on both sides: below 2 but well above 1
awk -v e="$est" -v l="$lo" 'BEGIN { exit !(e > 1.4 && e < 2.6 && l > 1) }' ||
  fail "(a) ratio $est [$lo, $hi] is not near 2"
j '.b.cpu_s_per_request / .a.cpu_s_per_request' a | awk '{ exit !($1 > 1.4 && $1 < 2.6) }' ||
  fail "(a) CPU per request: $(j '.b.cpu_s_per_request / .a.cpu_s_per_request' a)"
# joulesd counts no hardware events here (--events none): instructions per request are null,
# not zero
jq -e '[.a, .b, .a.runs[], .b.runs[]] | all(.instructions_per_request == null
  and .cycles_per_request == null)' "$SCRATCH/a.json" >/dev/null || fail "(a) instructions"
python3 -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" "$SCRATCH/a.svg" ||
  fail "(a) the SVG is not well-formed"
grep -c '<circle' "$SCRATCH/a.svg" | grep -qx 6 || fail "(a) the SVG does not show 6 runs"

# (b) the same service as A and as B. A 95% interval misses the truth one time in twenty by
# design: a second, independent experiment is allowed before failing (both at 1 in 400).
same=no
for attempt in 1 2; do
  ab b "$light" "$url_light" "$light" "$url_light"
  note "(b) attempt $attempt: B/A = $(j .ratio_b_over_a.estimate b) [$(j .ratio_b_over_a.ci_low b), $(j .ratio_b_over_a.ci_high b)]"
  if [ "$(j .significant b)" = false ]; then same=yes; break; fi
done
[ "$same" = yes ] || fail "(b) the same service differs from itself, twice"
jq -e '.ratio_b_over_a | .ci_low <= 1 and 1 <= .ci_high' "$SCRATCH/b.json" >/dev/null ||
  fail "(b) significant false but the interval does not hold 1"

# the text output: 80 columns, the verdict
"$JOULES" --db "$db" ab --a "$light" --a-load "$(load "$url_light")" --b "$heavy" \
  --b-load "wrk -t1 -c2 -d1s $url_heavy" --repeat 2 --warmup 0 --cooldown 0 \
  >"$SCRATCH/t.out" 2>"$SCRATCH/t.err" || { cat "$SCRATCH/t.err" >&2; fail "(text) joules ab"; }
cat "$SCRATCH/t.out" >&2
awk 'length($0) > 80 { exit 1 }' "$SCRATCH/t.out" || fail "(text) wider than 80 columns"
grep -q '^verdict: ' "$SCRATCH/t.out" || fail "(text) no verdict"
grep -q 'ESTIMATED' "$SCRATCH/t.out" || fail "(text) not labelled estimated"

# (c) usage and failures
set +e
"$JOULES" --db "$db" ab --a "$light" --a-load true >/dev/null 2>&1
[ $? -eq 2 ] || fail "(c) a missing B is a usage error"
"$JOULES" --db "$db" ab --a x --a-load "curl $url_light" --b y --b-load "curl $url_light" \
  >/dev/null 2>"$SCRATCH/c.err"
[ $? -eq 2 ] && grep -q -- --requests-from "$SCRATCH/c.err" || fail "(c) no request counter named"
"$JOULES" --db "$db" ab --a "no-such-$$.service" --a-load "$(load "$url_light")" --b "$light" \
  --b-load "$(load "$url_light")" --repeat 1 --warmup 0 >/dev/null 2>"$SCRATCH/c.err"
[ $? -eq 3 ] && grep -q "drew no energy" "$SCRATCH/c.err" || fail "(c) a unit that drew nothing"
# a name is shown in its people form: an escape sequence in it reaches no terminal
"$JOULES" --db "$db" ab --a $'t-\e]0;x\a-'"$$.service" --a-load "$(load "$url_light")" --b "$light" \
  --b-load "$(load "$url_light")" --repeat 1 --warmup 0 >/dev/null 2>"$SCRATCH/c.err"
[ $? -eq 3 ] && grep -qF 't-\x1b]0;x\x07-' "$SCRATCH/c.err" && ! grep -q $'\e' "$SCRATCH/c.err" ||
  fail "(c) a hostile name: $(cat -v "$SCRATCH/c.err")"
set -e
kill -TERM "$jd"
wait "$jd" || fail "joulesd did not stop cleanly"
# a history is stale when its last tick is older than 3 intervals and a second: 1.6 s here
sleep 2.5
set +e
"$JOULES" --db "$db" ab --a "$light" --a-load "$(load "$url_light")" --b "$heavy" \
  --b-load "$(load "$url_heavy")" >/dev/null 2>"$SCRATCH/d.err"
rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "no joulesd is writing" "$SCRATCH/d.err" || fail "(c) no daemon: $rc"
note "ok"

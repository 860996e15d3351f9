# Source selection end to end, through the real joulesd binary:
#  - auto on this machine (no RAPL): the model, labelled estimated everywhere;
#  - auto with a power PMU the kernel refuses (ENOENT) and a powercap tree: falls back to powercap;
#  - energy_uj unreadable (mode 0400, as since Linux 5.10): a loud error naming the file, no
#    silent estimate;
#  - SIGTERM and SIGINT flush and exit 0; a bad config exits 78 with FILE:LINE.
source "$JOULES_SRC/tests/lib.sh"
FIX=$JOULES_FIXTURES

# 1. model, stopped by SIGTERM
db=$SCRATCH/model.db
"$JOULESD" --db "$db" --interval 100ms --sysfs-root "$SCRATCH/empty-sys" 2>"$SCRATCH/m.err" &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid || fail "joulesd exited $? on SIGTERM"
json=$("$JOULES" --db "$db" status --json)
echo "$json" | jq -e '.source == "model" and .host.estimated == true and
  (.domains | length == 2) and all(.domains[]; .estimated and .in_host) and
  ([.domains[].kind] | sort == ["dram", "model"]) and .host.energy_j > 0 and
  .host.samples >= 8 and (.model.method == "cpu" or .model.method == "generic") and
  .host.band_pct > 0 and .host.energy_j_low < .host.energy_j and
  .host.energy_j_high > .host.energy_j' >/dev/null || fail "model status: $json"
"$JOULES" --db "$db" status | grep -q "estimated" || fail "table does not say estimated"
# the stored rows are labelled too
[ "$(sqlite3 "$db" 'SELECT MIN(estimated) FROM ticks')" = 1 ] || fail "ticks not labelled estimated"

# 2. SIGINT flushes as well
"$JOULESD" --db "$db" --interval 50ms --energy-source model 2>/dev/null &
pid=$!
sleep 0.8
before=$(sqlite3 "$db" 'SELECT COUNT(*) FROM ticks')
kill -INT $pid
wait $pid || fail "joulesd exited $? on SIGINT"
after=$(sqlite3 "$db" 'SELECT COUNT(*) FROM ticks')
[ "$after" -gt "$before" ] || [ "$after" -ge 10 ] || fail "ticks before/after SIGINT: $before/$after"
[ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM runs WHERE stopped_us IS NULL')" = 0 ] ||
  fail "a run was not closed"

# 3. auto: the power PMU (a type no kernel has) is refused, powercap is used (counters that
# move: rapl-sim's)
sys=$SCRATCH/sys-both
mkdir -p "$sys"
"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:40 --zone dram:5 --interval-ms 5 \
  >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"
cp -a "$FIX/power-pmu/unknown-type/." "$sys/"
"$JOULESD" --db "$SCRATCH/both.db" --interval 100ms --sysfs-root "$sys" --duration 0.5s \
  --log-level debug 2>"$SCRATCH/both.err" || { cat "$SCRATCH/both.err"; fail "auto fallback"; }
grep -q "energy source perf" "$SCRATCH/both.err" || fail "no debug line about perf"
[ "$("$JOULES" --db "$SCRATCH/both.db" status --json | jq -r .source)" = powercap ] ||
  fail "auto did not pick powercap"
# explicitly asking for perf fails and says why
if "$JOULESD" --db "$SCRATCH/perf.db" --sysfs-root "$sys" --energy-source perf --duration 0.2s \
  2>"$SCRATCH/perf.err"; then fail "perf source opened on a fake PMU"; fi
grep -q "perf" "$SCRATCH/perf.err" || fail "perf error: $(cat "$SCRATCH/perf.err")"
# a powercap tree whose counters never move (the fixture's fixed files; some VMs show RAPL, or the
# perf power PMU, reading 0): auto says so and passes over it, to the model here
sys=$SCRATCH/sys-still
mkdir -p "$sys"
cp -a "$FIX/powercap/intel-2s-dram/." "$sys/"
"$JOULESD" --db "$SCRATCH/still.db" --interval 100ms --sysfs-root "$sys" --duration 0.5s \
  --events none --ingest-socket '' 2>"$SCRATCH/still.err" || { cat "$SCRATCH/still.err"; fail "auto on still counters"; }
grep -q "energy source powercap: its 6 counter(s) did not move in 50 ms" "$SCRATCH/still.err" ||
  fail "no word of the still counters: $(cat "$SCRATCH/still.err")"
[ "$("$JOULES" --db "$SCRATCH/still.db" status --json | jq -r .source)" = model ] ||
  fail "auto took counters that do not move"

# 4. unreadable energy_uj: run as an unprivileged user against a 0400 tree
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  sys=$SCRATCH/sys-0400
  mkdir -p "$sys"
  cp -a "$FIX/powercap/intel-1s/." "$sys/"
  find "$sys" -name energy_uj -exec chmod 0400 {} +
  chmod 0777 "$SCRATCH"
  rc=0
  setpriv --reuid=65534 --regid=65534 --clear-groups "$JOULESD" --db "$SCRATCH/u.db" \
    --sysfs-root "$sys" --duration 0.3s 2>"$SCRATCH/u.err" || rc=$?
  [ "$rc" -eq 1 ] || fail "unreadable energy_uj: exit $rc, $(cat "$SCRATCH/u.err")"
  grep -q "intel-rapl:0/energy_uj" "$SCRATCH/u.err" || fail "file not named: $(cat "$SCRATCH/u.err")"
  grep -q "CAP_DAC_READ_SEARCH" "$SCRATCH/u.err" || fail "fix not named: $(cat "$SCRATCH/u.err")"
  [ ! -s "$SCRATCH/u.db" ] || [ "$(sqlite3 "$SCRATCH/u.db" 'SELECT COUNT(*) FROM ticks' 2>/dev/null || echo 0)" = 0 ] ||
    fail "estimated figures were stored instead"
  cat "$SCRATCH/u.err"
fi

# 5. a bad config stops start-up with FILE:LINE: reason and exit 78
printf '[daemon]\ninterval = 1s\n[energy]\nsorce = model\n' >"$SCRATCH/bad.conf"
rc=0
"$JOULESD" --config "$SCRATCH/bad.conf" --db "$SCRATCH/c.db" 2>"$SCRATCH/c.err" || rc=$?
[ "$rc" -eq 78 ] || fail "bad config: exit $rc"
grep -q "bad.conf:4: unknown key 'sorce'" "$SCRATCH/c.err" || fail "bad config: $(cat "$SCRATCH/c.err")"
rc=0
"$JOULESD" --interval 10ms --db "$SCRATCH/c.db" 2>"$SCRATCH/c.err" || rc=$?
[ "$rc" -eq 2 ] || fail "bad flag: exit $rc"
"$JOULESD" --config "$SCRATCH/bad.conf" --check-config 2>/dev/null && fail "--check-config passed"
echo ok

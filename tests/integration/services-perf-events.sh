# The perf path of the per-service split, on the kernel's software events (hardware ones are
# refused on the build machines): joulesd counting perf::TASK-CLOCK and perf::CONTEXT-SWITCHES per
# cgroup per CPU, weighting by TASK-CLOCK, for real services (cgroups under the v2 mount) that
# burn CPU, one appearing after the daemon started and one going away mid-run. Then the default
# events (cycles, instructions), which this machine refuses: the run must say it fell back to CPU
# time, and still add up. Needs root and a cgroup2 mount (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require

BURN=$JOULES_TESTS_BIN/burn
[ -x "$BURN" ] || fail "no $BURN"
sys=$SCRATCH/sys
db=$SCRATCH/perf.db
db2=$SCRATCH/default.db
ua=t-joules-$$-a.service    # 2 burners
ub=t-joules-$$-b.service    # 1 burner
uc=t-joules-$$-late.service # made 1 s after the daemon started
ud=t-joules-$$-gone.service # stopped and removed mid-run

# Checks that fail because of a daemon bug are collected and reported at the end, so the other
# checks still run (and still fail the test on their own).
DEFERRED=()
defer_fail() { echo "FAIL (reported at the end): $*" >&2; DEFERRED+=("$*"); }

# The fake sysfs also says which CPUs are online: the daemon opens its per-cgroup counters on
# each of them (<sysfs-root>/devices/system/cpu/online), and these are the real CPUs.
mkdir -p "$sys/devices/system/cpu"
cp /sys/devices/system/cpu/online "$sys/devices/system/cpu/online"
"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:40:20000000 --interval-ms 5 \
  >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

cg_unit "$ua"
cg_unit "$ub"
cg_unit "$ud"
cg_spawn "$ua" "$BURN" --duty 0.4
cg_spawn "$ua" "$BURN" --duty 0.4
cg_spawn "$ub" "$BURN" --duty 0.4
cg_spawn "$ud" "$BURN" --duty 0.2
sleep 0.3

q() { sqlite3 -separator ' ' "$1" "$2"; }
unit_id() { q "$1" "SELECT id FROM units WHERE name = '$2' AND pseudo = 0"; }

# Every tick's units (pseudo-units included) add up to the host energy, to the microjoule.
check_sums() {
  local db=$1 n bad
  n=$(q "$db" "SELECT COUNT(*) FROM ticks WHERE host_uj IS NOT NULL")
  [ "$n" -ge "$2" ] || fail "$db: only $n ticks with energy stored"
  bad=$(q "$db" "SELECT t.id, t.host_uj, COALESCE(SUM(e.active_uj + e.idle_uj), 0) FROM ticks t
                 LEFT JOIN unit_energy e ON e.tick_id = t.id WHERE t.host_uj IS NOT NULL
                 GROUP BY t.id HAVING COALESCE(SUM(e.active_uj + e.idle_uj), 0) != t.host_uj")
  [ -z "$bad" ] || fail "$db: ticks whose units do not sum to host_uj (tick host sum):"$'\n'"$bad"
  note "$db: all $n ticks sum exactly to host_uj"
}

# ---- 1. perf::TASK-CLOCK,perf::CONTEXT-SWITCHES ----
# The services are frozen while joulesd opens their counters and takes its baselines, and again
# for its last readings: a counter and the cgroup's CPU time are read one after the other, and a
# loaded machine can delay the second read by a scheduler slice, which must not show as
# disagreement between the two.
cg_freeze "$ua" "$ub" "$ud"
"$JOULESD" --db "$db" --interval 200ms --sysfs-root "$sys" --energy-source powercap \
  --cgroup-root "$CG_ROOT" --events perf::TASK-CLOCK,perf::CONTEXT-SWITCHES --idle-power 10 \
  2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP=("kill $jd 2>/dev/null; wait $jd 2>/dev/null" "${CLEANUP[@]}")
wait_for_line "$SCRATCH/joulesd.err" "sampling .* energy domain" 30 ||
  { cat "$SCRATCH/joulesd.err"; fail "joulesd did not start"; }
sleep 0.5
cput0=$(cpu_times) # what the host takes from here on, for TASK-CLOCK against cpu.stat below
cg_thaw "$ua" "$ub" "$ud"
sleep 1
cg_unit "$uc"
cg_freeze "$uc" # its burner joins frozen; joulesd finds the service and opens its counters
cg_spawn "$uc" "$BURN" --duty 0.3
sleep 0.6
cg_thaw "$uc"
sleep 1.5
kill -0 "$jd" 2>/dev/null || { cat "$SCRATCH/joulesd.err"; fail "joulesd died"; }
cg_stop "$ud"
note "$ud stopped and removed at about 3 s"
sleep 2
cg_freeze "$ua" "$ub" "$uc"
cput1=$(cpu_times)
sleep 0.5
kill -TERM "$jd"
set +e
wait "$jd"
rc=$?
set -e
cg_thaw "$ua" "$ub" "$uc"
note "joulesd log:"
cat "$SCRATCH/joulesd.err" >&2
[ "$rc" -eq 0 ] || fail "joulesd exited $rc"
! grep -E "^joulesd: (error|critical|alert|emergency):" "$SCRATCH/joulesd.err" || fail "joulesd logged an error"

# The weight is the first configured event.
read -r weight reason < <(q "$db" "SELECT weight, COALESCE(weight_reason, '') FROM runs")
[ "$weight" = "perf::TASK-CLOCK" ] || fail "runs.weight is '$weight' ($reason), not perf::TASK-CLOCK"
st_weight=$("$JOULES" --db "$db" status --json | jq -r '.attribution.weight')
# DAEMON BUG (storage/store.h StoreStatus.weight is char[16]): "perf::TASK-CLOCK" is 16 characters,
# so `joules status` shows "perf::TASK-CLOC". Fails until the buffer holds any event name.
[ "$st_weight" = "perf::TASK-CLOCK" ] ||
  defer_fail "joules status --json .attribution.weight is '$st_weight', runs.weight is '$weight'"

# (per-tick values from a copy with the packed ticks as plain rows, now that joulesd stopped)
plain=$(plain_db "$db")
check_sums "$plain" 20

# Per service: the stored TASK-CLOCK counts agree with the stored cgroup CPU time over the ticks
# that have both, and the service switched context.
counters() { # DB UNIT -> ticks task_clock_ns cpu_ns context_switches active_uj
  q "$1" "SELECT COUNT(*), SUM(tc.value), SUM(e.cpu_ns), SUM(cs.value), SUM(e.active_uj)
          FROM unit_energy e
          JOIN unit_counters tc ON tc.tick_id = e.tick_id AND tc.unit_id = e.unit_id
            AND tc.event_id = (SELECT id FROM events WHERE name = 'perf::TASK-CLOCK')
          JOIN unit_counters cs ON cs.tick_id = e.tick_id AND cs.unit_id = e.unit_id
            AND cs.event_id = (SELECT id FROM events WHERE name = 'perf::CONTEXT-SWITCHES')
          WHERE e.unit_id = (SELECT id FROM units WHERE name = '$2' AND pseudo = 0)"
}
gap=$(clock_gap_ns "$cput0" "$cput1")
note "the CPUs lost $gap ns to the host and to interrupts while the services ran (allowed above)"
for u in "$ua" "$ub" "$uc"; do
  read -r n tc cpu cs act < <(counters "$plain" "$u")
  note "$u: $n counted ticks, TASK-CLOCK $tc ns, cpu.stat $cpu ns ($(awk -v a="$tc" -v b="$cpu" \
    'BEGIN { printf "%+.2f%%", (b > 0 ? 100 * (a - b) / b : 0) }')), CONTEXT-SWITCHES $cs, active $act uJ"
  min=12
  [ "$u" = "$uc" ] && min=8 # appeared 1 s in: a baseline tick, then counted from the next one
  [ "$n" -ge "$min" ] || fail "$u: only $n ticks with counters"
  [ "$cpu" -gt 0 ] || fail "$u: no CPU time"
  within_clock "$tc" "$cpu" 5 "$gap" ||
    fail "$u: TASK-CLOCK $tc ns is not within 5% of the cgroup's $cpu ns (+ $gap ns lost to the host)"
  [ "$cs" -gt 0 ] || fail "$u: no context switches counted"
done

# Weighted by TASK-CLOCK: the 2:1 services' active energy stands in the ratio of their counts,
# over the ticks where both were counted.
read -r ea eb ta tb < <(q "$plain" "
  SELECT SUM(CASE WHEN e.unit_id = $(unit_id "$db" "$ua") THEN e.active_uj END),
         SUM(CASE WHEN e.unit_id = $(unit_id "$db" "$ub") THEN e.active_uj END),
         SUM(CASE WHEN e.unit_id = $(unit_id "$db" "$ua") THEN c.value END),
         SUM(CASE WHEN e.unit_id = $(unit_id "$db" "$ub") THEN c.value END)
  FROM unit_energy e JOIN unit_counters c ON c.tick_id = e.tick_id AND c.unit_id = e.unit_id
    AND c.event_id = (SELECT id FROM events WHERE name = 'perf::TASK-CLOCK')
  WHERE e.tick_id IN (SELECT tick_id FROM unit_counters WHERE unit_id = $(unit_id "$db" "$ua"))
    AND e.tick_id IN (SELECT tick_id FROM unit_counters WHERE unit_id = $(unit_id "$db" "$ub"))")
r_energy=$(awk -v a="$ea" -v b="$eb" 'BEGIN { printf "%.4f", a / b }')
r_count=$(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.4f", a / b }')
note "a:b active energy ratio $r_energy, TASK-CLOCK ratio $r_count"
within "$r_energy" "$r_count" 5 || fail "energy ratio $r_energy is not within 5% of TASK-CLOCK's $r_count"
awk -v r="$r_count" 'BEGIN { exit !(r > 1.4 && r < 2.8) }' || fail "TASK-CLOCK ratio $r_count is not about 2"

# The service that went away: stored while it ran, nothing after, and the ticks went on.
dgone=$(unit_id "$db" "$ud")
[ -n "$dgone" ] || fail "$ud never stored"
read -r dn dlast < <(q "$plain" "SELECT COUNT(*), MAX(tick_id) FROM unit_energy WHERE unit_id = $dgone AND cpu_ns > 0")
last=$(q "$db" "SELECT MAX(id) FROM ticks")
after=$(q "$db" "SELECT COUNT(*) FROM ticks WHERE id > $dlast AND host_uj IS NOT NULL")
note "$ud: $dn ticks with CPU time, the last tick $dlast of $last; $after ticks with energy after it"
[ "$dn" -ge 5 ] || fail "$ud: only $dn ticks stored before it went away"
dcounted=$(q "$db" "SELECT COUNT(DISTINCT tick_id) FROM unit_counters WHERE unit_id = $dgone")
[ "$dcounted" -ge 4 ] || fail "$ud: counted in only $dcounted ticks before it went away"
[ "$after" -ge 5 ] || fail "only $after ticks stored after $ud went away"
late=$(q "$plain" "SELECT COUNT(*) FROM unit_energy WHERE unit_id = $dgone AND tick_id > $dlast + 2")
[ "$late" -eq 0 ] || fail "$ud: $late rows stored well after it went away"
# The late service was new to the daemon: its first rows come after the run started.
cfirst=$(q "$plain" "SELECT MIN(tick_id) FROM unit_energy WHERE unit_id = $(unit_id "$db" "$uc")")
first=$(q "$db" "SELECT MIN(id) FROM ticks")
[ "$cfirst" -gt $((first + 2)) ] || fail "$uc stored from tick $cfirst, the run's first is $first"

# ---- 2. The default events: cycles, refused here, so CPU time ----
"$JOULESD" --db "$db2" --interval 200ms --sysfs-root "$sys" --energy-source powercap \
  --cgroup-root "$CG_ROOT" --idle-power 10 --duration 2s 2>"$SCRATCH/joulesd2.err" ||
  { cat "$SCRATCH/joulesd2.err"; fail "joulesd (default events) failed"; }
cat "$SCRATCH/joulesd2.err" >&2
read -r weight2 < <(q "$db2" "SELECT weight FROM runs")
reason2=$(q "$db2" "SELECT COALESCE(weight_reason, '') FROM runs")
note "default events: weight '$weight2', reason '$reason2'"
[ "$weight2" = "cpu-time" ] || fail "default events: runs.weight is '$weight2'"
[[ "$reason2" == *cycles* ]] || fail "default events: the reason does not mention cycles: '$reason2'"
st=$("$JOULES" --db "$db2" status --json)
echo "$st" | jq -e '.attribution.weight == "cpu-time" and (.attribution.reason | test("cycles"))' \
  >/dev/null || fail "default events: status says $(echo "$st" | jq -c .attribution)"
[ "$(q "$db2" "SELECT COUNT(*) FROM unit_counters")" -eq 0 ] || fail "default events: counters stored"
plain2=$(plain_db "$db2")
check_sums "$plain2" 8
read -r ca cb < <(q "$plain2" "
  SELECT SUM(CASE WHEN u.name = '$ua' THEN e.cpu_ns END), SUM(CASE WHEN u.name = '$ub' THEN e.cpu_ns END)
  FROM unit_energy e JOIN units u ON u.id = e.unit_id")
[ "${ca:-0}" -gt 0 ] && [ "${cb:-0}" -gt 0 ] || fail "default events: services not measured ($ca, $cb)"

if [ ${#DEFERRED[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${DEFERRED[@]}" >&2
  exit 1
fi
echo "ok: TASK-CLOCK agrees with cgroup CPU time; a:b energy $r_energy vs counts $r_count; default events fall back to cpu-time"

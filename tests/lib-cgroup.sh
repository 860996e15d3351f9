# Real systemd-style units for integration tests, without systemd as PID 1: a unit is a cgroup
# under the cgroup v2 mount (system.slice/NAME.service) with processes moved into it; libsystemd
# and the daemon map them to NAME.service from /proc/PID/cgroup. Sourced after tests/lib.sh (uses
# its CLEANUP array, fail and skip). Everything made here is torn down at exit, even on failure:
# the processes started are killed and waited for, then the cgroups removed (a cgroup can be
# removed only once empty).

CG_ROOT=""          # the cgroup v2 mount
CG_MADE_DIRS=()     # cgroups made here, removed in reverse order at exit
CG_PIDS=()          # processes started in them

# Skips (exit 77) unless root with a writable cgroup v2 mount; sets CG_ROOT to that mount (from
# /proc/self/mountinfo: the mount point is field 5, the filesystem type follows the " - ").
cg_require() {
  [ "$(id -u)" -eq 0 ] || skip "needs root to make cgroups"
  CG_ROOT=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i + 1) == "cgroup2") { print $5; exit } }' \
    /proc/self/mountinfo)
  [ -n "$CG_ROOT" ] || skip "no cgroup2 mount in /proc/self/mountinfo"
  [ -f "$CG_ROOT/cgroup.procs" ] || skip "$CG_ROOT is not a cgroup2 tree"
  if [ ! -d "$CG_ROOT/system.slice" ]; then
    mkdir "$CG_ROOT/system.slice" 2>/dev/null || skip "cannot make cgroups under $CG_ROOT"
    CG_MADE_DIRS+=("$CG_ROOT/system.slice")
  fi
  CLEANUP+=("cg_cleanup")
}

# cg_unit NAME: makes system.slice/NAME (NAME like t-x.service); prints nothing.
cg_unit() {
  local dir=$CG_ROOT/system.slice/$1
  mkdir "$dir" || fail "mkdir $dir"
  CG_MADE_DIRS+=("$dir")
  [ -f "$dir/cpu.stat" ] || fail "$dir has no cpu.stat"
}

cg_dir() { echo "$CG_ROOT/system.slice/$1"; }

# cg_spawn NAME CMD ARGS...: starts CMD inside unit NAME (it moves itself in before exec, so none
# of its CPU time is spent outside); sets CG_LAST_PID.
cg_spawn() {
  local unit=$1
  shift
  local procs
  procs=$(cg_dir "$unit")/cgroup.procs
  (echo "$BASHPID" >"$procs" && exec "$@") &
  CG_LAST_PID=$!
  CG_PIDS+=("$CG_LAST_PID")
}

# cg_usage_usec NAME: the unit's cumulative CPU time (cpu.stat usage_usec).
cg_usage_usec() {
  awk '$1 == "usage_usec" { print $2 }' "$(cg_dir "$1")/cpu.stat"
}

# perf's TASK-CLOCK and the scheduler's CPU time (schedstat, cpu.stat) are two clocks. TASK-CLOCK
# is wall time while the task is on a CPU (perf_clock(), local_clock()). A VM's scheduler, with
# steal accounting (KVM's steal time, CONFIG_PARAVIRT_TIME_ACCOUNTING), leaves out of a task's
# runtime the time its host took the vCPU away (update_rq_clock_task()), and so does any kernel
# with CONFIG_IRQ_TIME_ACCOUNTING for the interrupts served while the task was current. So
# TASK-CLOCK may read above the CPU time, by what was taken from the task while it held a CPU:
# never more than all the steal and interrupt time of all the CPUs over the same window. A test
# comparing the two takes cpu_times at both ends of its window and allows that much above
# (clock_gap_ns, within_clock). Steal comes in bursts, so no share of it is a bound; the sum is.
# (Without CONFIG_IRQ_TIME_ACCOUNTING the interrupt columns only widen the bound a little.)
#
# cpu_times: the aggregate line of /proc/stat now: every possible CPU's time summed in ns, then
# turned into clock ticks (USER_HZ) once, so a CPU going offline takes nothing away from it.
cpu_times() { grep '^cpu ' /proc/stat; }

# clock_gap_ns BEFORE AFTER: the irq, softirq and steal time (ns) between the two, and a clock
# tick for each of the three for the rounding down of each end.
clock_gap_ns() {
  awk -v hz="$(getconf CLK_TCK)" '
    NR == FNR { t = $7 + $8 + $9; next } # irq, softirq, steal
    { d = $7 + $8 + $9 - t; g = (d > 0 ? d : 0) + 3 }
    END { printf "%.0f\n", g * 1e9 / hz }' <(echo "$1") <(echo "$2")
}

# within_clock TASK_CLOCK CPU_NS PERCENT GAP_NS: TASK-CLOCK is no more than PERCENT% below the CPU
# time, and no more than PERCENT% above it once the window's GAP_NS is added.
within_clock() {
  awk -v a="$1" -v e="$2" -v p="$3" -v g="$4" \
    'BEGIN { exit !(a >= e * (1 - p / 100) && a <= e * (1 + p / 100) + g) }'
}

# cg_freeze NAME... / cg_thaw NAME...: freezes or thaws units (cgroup v2 cgroup.freeze) and waits
# until the kernel reports it (cgroup.events "frozen 1"/"frozen 0"). A test that compares what
# joulesd stored with cpu.stat read by the script freezes the units while either side takes its
# reading, so both cover exactly the same CPU time however the machine's load delays either.
cg_set_frozen() {
  local want=$1 u i
  shift
  for u in "$@"; do echo "$want" >"$(cg_dir "$u")/cgroup.freeze" || fail "cannot freeze $u"; done
  for u in "$@"; do
    for ((i = 0; i < 400; i++)); do
      grep -qx "frozen $want" "$(cg_dir "$u")/cgroup.events" && break
      sleep 0.05
    done
    grep -qx "frozen $want" "$(cg_dir "$u")/cgroup.events" || fail "$u: not frozen=$want after 20 s"
  done
}
cg_freeze() { cg_set_frozen 1 "$@"; }
cg_thaw() { cg_set_frozen 0 "$@"; }

# cg_procs NAME: the PIDs in the unit's cgroup, one a line.
cg_procs() { cat "$(cg_dir "$1")/cgroup.procs"; }

# Kills what is in a unit's cgroup (and below), waits until it is empty (up to 5 s), removes it.
# (cgroupfs files always show size 0: read them, never test -s.)
cg_remove_dir() {
  local dir=$1 pid i
  [ -d "$dir" ] || return 0
  for ((i = 0; i < 100; i++)); do
    [ -n "$(cat "$dir/cgroup.procs" 2>/dev/null)" ] || break
    if [ -f "$dir/cgroup.kill" ]; then
      echo 1 >"$dir/cgroup.kill" 2>/dev/null || true
    else
      while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$dir/cgroup.procs"
    fi
    sleep 0.05
  done
  rmdir "$dir"
}

# cg_stop NAME: stops a unit mid-test: SIGTERM to its processes, reaps the ones started here,
# removes the cgroup.
cg_stop() {
  local dir pid
  dir=$(cg_dir "$1")
  while read -r pid; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done < <(cat "$dir/cgroup.procs")
  cg_remove_dir "$dir"
}

cg_cleanup() {
  local pid i
  for pid in "${CG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${CG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ((i = ${#CG_MADE_DIRS[@]} - 1; i >= 0; i--)); do
    if [ "${CG_MADE_DIRS[i]}" = "$CG_ROOT/system.slice" ]; then
      # Shared with whatever else runs here: only removed when nothing else uses it, never killed.
      rmdir "${CG_MADE_DIRS[i]}" 2>/dev/null || true
    else
      cg_remove_dir "${CG_MADE_DIRS[i]}" 2>/dev/null ||
        echo "warning: could not remove ${CG_MADE_DIRS[i]}" >&2
    fi
  done
}

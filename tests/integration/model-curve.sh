# The model's power curve, end to end through the real joulesd:
#  1. [model] curve configured, real CPU load (burn): every tick's stored power of the model domain
#     equals the curve evaluated at the utilisation that tick read (ticks.util_pct), the dram
#     domain (dram = estimate) is constant at MemTotal x 0.392 W/GB, the host total is their sum,
#     and attribution's idle power is the curve at 0 % plus the dram; a curve alone adds no dram;
#  2. no curve, a fake /proc (cpuinfo, meminfo, stat) and DMI tree: the CPU-aware default for an
#     AWS Xeon Platinum 8375C and for a Graviton2, named by joules status with its band;
#  3. bad curves stop joulesd with exit 78 and FILE:LINE.
source "$JOULES_SRC/tests/lib.sh"

BURN=$JOULES_TESTS_BIN/burn
[ -x "$BURN" ] || fail "no $BURN"
cg_mount=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
# the bands come from data/estimates.csv (tests/test-validation.c derives them): read, not copied
band() { awk -F, -v k="band_$1" '$1 == k { print $2 }' "$JOULES_SRC/data/estimates.csv"; }
b_conf=$(band configured) b_cpu=$(band cpu) b_gen=$(band generic) b_dram=$(band dram)
[ -n "$b_conf" ] && [ -n "$b_cpu" ] && [ -n "$b_gen" ] && [ -n "$b_dram" ] || fail "bands in data/estimates.csv"
[ "$b_conf" -lt "$b_dram" ] || fail "the host-band check below needs band_configured < band_dram"

# 1. a configured curve under real load
db=$SCRATCH/curve.db
cat >"$SCRATCH/curve.conf" <<EOF
[energy]
source = model
[model]
curve = 0:60, 10:100, 50:180, 100:200
dram = estimate
EOF
"$BURN" --duty 0.9 --seconds 0 &
burn=$!
CLEANUP+=("kill $burn 2>/dev/null; wait $burn 2>/dev/null")
"$JOULESD" --config "$SCRATCH/curve.conf" --db "$db" --interval 200ms --ingest-socket '' \
  --events none --duration 2s 2>"$SCRATCH/curve.err" || { cat "$SCRATCH/curve.err"; fail "joulesd"; }
kill $burn
wait $burn || true
# and some ticks after the burner stopped, so the utilisation varies
"$JOULESD" --config "$SCRATCH/curve.conf" --db "$db" --interval 200ms --ingest-socket '' \
  --events none --duration 1.5s 2>>"$SCRATCH/curve.err" || { cat "$SCRATCH/curve.err"; fail "joulesd"; }

plain=$(plain_db "$db") # its packed ticks as plain rows, now that joulesd stopped
q() { sqlite3 -separator ' ' "$plain" "$1"; }
[ "$(q "SELECT DISTINCT model_method FROM runs")" = configured ] || fail "method: $(q 'SELECT model_method FROM runs')"
[ "$(q "SELECT DISTINCT model_curve FROM runs")" = "0:60, 10:100, 50:180, 100:200" ] ||
  fail "curve: $(q 'SELECT model_curve FROM runs')"
dram_w=$(q "SELECT dram_w FROM runs LIMIT 1")
mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
awk -v d="$dram_w" -v k="$mem_kib" 'BEGIN { e = k / 1048576 * 0.392; exit !((d - e) ^ 2 < 1e-12) }' ||
  fail "dram_w $dram_w for MemTotal $mem_kib kB"
# per tick: util_pct, dt_us, the model domain's energy, the dram domain's, the host's
q "SELECT t.util_pct, t.dt_us, m.energy_uj, d.energy_uj, t.host_uj FROM ticks t
   JOIN domain_energy m ON m.tick_id = t.id AND m.domain_id = (SELECT id FROM domains WHERE kind = 'model')
   JOIN domain_energy d ON d.tick_id = t.id AND d.domain_id = (SELECT id FROM domains WHERE kind = 'dram')
   WHERE t.host_uj IS NOT NULL" >"$SCRATCH/ticks.txt"
n=$(wc -l <"$SCRATCH/ticks.txt")
[ "$n" -ge 12 ] || fail "only $n ticks"
# The curve, as the test states it: linear between (0,60) (10,100) (50,180) (100,200). The model
# integrates over the tick's own interval (joulesd hands it the tick's clock), so each tick's
# power is the curve at its utilisation to the µJ the history holds (1e-5 covers that rounding).
awk -v dram="$dram_w" '
  function curve(u) {
    if (u <= 0) return 60; if (u <= 10) return 60 + 4 * u; if (u <= 50) return 100 + 2 * (u - 10)
    if (u <= 100) return 180 + 0.4 * (u - 50); return 200 }
  { n++; want = curve($1); got = $3 / $2
    if (got < want * 0.99999 || got > want * 1.00001) { printf "tick %d: %.4f W at %.3f %%, want %.4f\n", n, got, $1, want; bad++ }
    if ($4 / $2 < dram * 0.99999 || $4 / $2 > dram * 1.00001) { printf "tick %d: dram %.4f W\n", n, $4 / $2; bad++ }
    if ($3 + $4 != $5) { printf "tick %d: host %d != %d + %d\n", n, $5, $3, $4; bad++ }
    if ($1 > hi) hi = $1; if (lo == "" || $1 < lo) lo = $1 }
  END { printf "%d ticks, utilisation %.1f .. %.1f %%\n", n, lo, hi; exit bad > 0 }' \
  "$SCRATCH/ticks.txt" >&2 || fail "stored power is not the curve at the utilisation read"
# (the utilisation varies as the machine's load does: on a machine others keep busy it may sit
# at 100 % throughout; tests/test-energy-model.c walks every segment with a fake /proc/stat)
awk '$1 > 30 { found = 1 } END { exit !found }' "$SCRATCH/ticks.txt" || fail "the burner never showed"
# P_idle = curve(0) + dram: each tick's idle energy (units' idle_uj) is 60 W + dram over dt
q "SELECT t.dt_us, SUM(u.idle_uj) FROM ticks t JOIN unit_energy u ON u.tick_id = t.id
   WHERE t.host_uj IS NOT NULL GROUP BY t.id HAVING SUM(u.active_uj) > 0" |
  awk -v dram="$dram_w" '{ n++; w = $2 / $1; if (w < (60 + dram) * 0.999 || w > (60 + dram) * 1.001) bad++ }
    END { exit !(n > 0 && bad == 0) }' || fail "idle power is not the curve at 0 % plus dram"
# status_joined DB: joules status, checked to fit 80 columns, with the values it wraps under
# themselves (22 spaces) joined again onto one line for the checks
status_joined() {
  "$JOULES" --db "$1" status >"$SCRATCH/status.wrapped" || fail "joules status $1"
  python3 - "$SCRATCH/status.wrapped" <<'PY' || fail "joules status: $(cat "$SCRATCH/status.wrapped")"
import sys
out = []
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    if len(line) > 80:
        sys.exit("status wider than 80 columns: " + line)
    if out and line.startswith(" " * 22) and line[22:23] != " ":
        out[-1] += " " + line.strip()
    else:
        out.append(line)
print("\n".join(out))
PY
}

json=$("$JOULES" --db "$db" status --json)
echo "$json" | jq -e --argjson c "$b_conf" --argjson d "$b_dram" '.model.method == "configured" and
  .model.band_pct == $c and .model.dram_band_pct == $d and .host.band_pct > $c and
  .host.band_pct < $d and .host.energy_j_low < .host.energy_j' >/dev/null || fail "status: $json"
# into a file, not a pipe: grep -q stops reading at the match, and under pipefail the writer's
# broken pipe would fail the check
status_joined "$db" >"$SCRATCH/joined.txt"
grep -q "model  *configured curve: \[model\] curve = 0:60, 10:100, 50:180, 100:200, ±$b_conf%" "$SCRATCH/joined.txt" ||
  fail "status table: $("$JOULES" --db "$db" status)"

# a curve alone (dram = auto) is the host's watts, memory included: no dram domain on top
printf '[model]\ncurve = 0:60, 100:200\n' >"$SCRATCH/auto.conf"
"$JOULESD" --config "$SCRATCH/auto.conf" --db "$SCRATCH/auto.db" --energy-source model \
  --interval 100ms --ingest-socket '' --events none --duration 0.5s 2>/dev/null || fail "dram auto"
"$JOULES" --db "$SCRATCH/auto.db" status --json | jq -e '(.domains | length) == 1 and
  .domains[0].kind == "model" and .model.dram_w == null and .host.band_pct == '"$b_conf" >/dev/null ||
  fail "curve with dram auto: $("$JOULES" --db "$SCRATCH/auto.db" status --json)"

# 2. CPU-aware defaults from a fake /proc and DMI tree
[ -n "$cg_mount" ] || skip "no cgroup2 mount for the fake-procfs runs"
fake() { # fake DIR CPUINFO_MODEL_LINES VENDOR PRODUCT
  mkdir -p "$1/proc" "$1/sys/class/dmi/id"
  {
    echo "cpu  100 0 100 800 0 0 0 0 0 0"
    for i in 0 1 2 3; do echo "cpu$i 25 0 25 200 0 0 0 0 0 0"; done
    echo "ctxt 1"
  } >"$1/proc/stat"
  for i in 0 1 2 3; do printf 'processor\t: %d\n%b\n\n' "$i" "$2"; done >"$1/proc/cpuinfo"
  echo "MemTotal:       16777216 kB" >"$1/proc/meminfo"
  echo "$3" >"$1/sys/class/dmi/id/sys_vendor"
  echo "$4" >"$1/sys/class/dmi/id/product_name"
}
run_fake() { # run_fake DIR
  "$JOULESD" --db "$1/j.db" --interval 100ms --energy-source model --procfs-root "$1/proc" \
    --sysfs-root "$1/sys" --cgroup-root "$cg_mount" --ingest-socket '' --events none \
    --duration 1s 2>"$1/err" || { cat "$1/err"; fail "joulesd on $1"; }
}
fake "$SCRATCH/xeon" 'model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz' "Amazon EC2" m6i.xlarge
run_fake "$SCRATCH/xeon"
json=$("$JOULES" --db "$SCRATCH/xeon/j.db" status --json)
# 4 of 64 threads of a 265 W CPU, at 0 % (the fake stat never moves): 0.12 x 265 x 4/64 W
echo "$json" | jq -e --argjson b "$b_cpu" '.model.method == "cpu" and .model.band_pct == $b and
  (.model.source | startswith("Intel Xeon Platinum 8375C (TDP 265 W, 64 threads;")) and
  (.model.source | endswith("x Teads curve, 4 of 64 threads")) and
  .model.cpu == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz" and
  (.model.dram_w - 16 * 0.392 | fabs) < 1e-9 and
  ([.domains[] | select(.kind == "model") | .power_w][0] - 0.12 * 265 * 4 / 64 | fabs) < 0.01 and
  ([.domains[] | select(.kind == "dram") | .power_w][0] - 16 * 0.392 | fabs) < 0.01 and
  all(.domains[]; .estimated and .in_host)' >/dev/null || fail "xeon status: $json"
status_joined "$SCRATCH/xeon/j.db" >"$SCRATCH/xeon/status.txt"
grep -q "model  *CPU-aware default: Intel Xeon Platinum 8375C (TDP 265 W, 64 threads; .*) x Teads curve, 4 of 64 threads, ±$b_cpu%" \
  "$SCRATCH/xeon/status.txt" || fail "xeon table: $(cat "$SCRATCH/xeon/status.txt")"
grep -q "dram (estimated)  *6.27 W: 16.0 GiB (MemTotal) x 0.392 W per GB" "$SCRATCH/xeon/status.txt" ||
  fail "dram line: $(cat "$SCRATCH/xeon/status.txt")"
cat "$SCRATCH/xeon/status.txt" >&2

fake "$SCRATCH/graviton" 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd0c' "Amazon EC2" m6g.xlarge
run_fake "$SCRATCH/graviton"
"$JOULES" --db "$SCRATCH/graviton/j.db" status --json | jq -e '.model.method == "cpu" and
  (.model.source | startswith("AWS Graviton2")) and .model.cpu == "ARM 0x41 0xd0c"' >/dev/null ||
  fail "graviton: $("$JOULES" --db "$SCRATCH/graviton/j.db" status --json | jq -c .model)"

# a CPU the tables do not know: the generic line, named as such, with its wider band, and no
# dram domain though MemTotal is there: CCF's per-vCPU watts are SPECpower wall power, memory
# included, so dram = auto adds none (the host's band is then the line's own)
fake "$SCRATCH/unknown" 'model name\t: Hygon C86 7185 32-core Processor' "QEMU" "Standard PC"
run_fake "$SCRATCH/unknown"
"$JOULES" --db "$SCRATCH/unknown/j.db" status --json | jq -e --argjson b "$b_gen" '.model.method == "generic" and
  .model.band_pct == $b and (.model.source | contains("Hygon C86 7185")) and
  .model.dram_w == null and ([.domains[] | select(.kind == "dram")] | length == 0) and
  (.host.band_pct - $b | fabs) < 1e-9' >/dev/null ||
  fail "unknown CPU: $("$JOULES" --db "$SCRATCH/unknown/j.db" status --json | jq -c .model)"

# 3. a bad curve: exit 78, FILE:LINE and the reason
for curve in "0:60, 50:180, 40:170" "0:-1, 100:5" "0:60, 0:70" "0:60 100:200"; do
  printf '[model]\ncurve = %s\n' "$curve" >"$SCRATCH/bad.conf"
  rc=0
  "$JOULESD" --config "$SCRATCH/bad.conf" --db "$SCRATCH/bad.db" --check-config 2>"$SCRATCH/bad.err" || rc=$?
  [ $rc = 78 ] || fail "curve '$curve': exit $rc"
  grep -q "$SCRATCH/bad.conf:2: model.curve" "$SCRATCH/bad.err" || fail "curve '$curve': $(cat "$SCRATCH/bad.err")"
done
echo "ok"

# The real joulesd against the RAPL simulator: a small max_energy_range_uj makes the counters
# wrap several times; the stored host energy over the stored time span must match the simulated
# watts (packages + dram, never the core subzone) within 1%. joulesd --profile reports its
# ticks and commits.
source "$JOULES_SRC/tests/lib.sh"

sys=$SCRATCH/sys
db=$SCRATCH/joules.db
# package-0 25 W with a 10 J range wraps every 0.4 s (the daemon reads every 0.2 s);
# dram 5 W with 1.5 J wraps every 0.3 s; core 15 W is inside the package and must not be added.
"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:25:10000000 --zone core:15:10000000 \
  --zone dram:5:1500000 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

"$JOULESD" --db "$db" --interval 200ms --sysfs-root "$sys" --energy-source powercap \
  --duration 4s 2>"$SCRATCH/joulesd.err" || { cat "$SCRATCH/joulesd.err"; fail "joulesd failed"; }

# Energy over the span the stored intervals cover (each tick stores its own length).
read -r energy_uj span_us wrapsless < <(sqlite3 -separator ' ' "$db" \
  "SELECT SUM(host_uj), SUM(dt_us), COUNT(*) FROM ticks WHERE host_uj IS NOT NULL")
watts=$(awk -v e="$energy_uj" -v s="$span_us" 'BEGIN { printf "%.4f", e / s }')
note "stored $energy_uj uJ over $span_us us in $wrapsless ticks: $watts W (simulated 30 W)"
within "$watts" 30 1 || fail "host power $watts W is not within 1% of 30 W"
[ "$wrapsless" -ge 15 ] || fail "only $wrapsless ticks stored"

# Nothing was dropped: every wrap was undone (the domain rows read as plain rows, packed or not).
plain=$(plain_db "$db")
dropped=$(sqlite3 "$plain" "SELECT COUNT(*) FROM domain_energy WHERE energy_uj IS NULL AND drop_reason IS NOT 'baseline'")
[ "$dropped" -eq 0 ] || fail "$dropped intervals dropped"

# The status command agrees, and the core subzone is never in the host total.
json=$("$JOULES" --db "$db" status --json)
echo "$json" | jq -e '.host.estimated == false and .source == "powercap"' >/dev/null ||
  fail "status: $json"
host_j=$(echo "$json" | jq '.host.energy_j')
within "$host_j" "$(awk -v e="$energy_uj" 'BEGIN { printf "%.6f", e / 1e6 }')" 0.0001 || fail "status energy $host_j"
# The vendor is this machine's (/proc/cpuinfo): on AMD and Hygon the kernel's "core" zone is one
# core's counter, and joulesd leaves it out; elsewhere it is stored, outside the host total.
if grep -qm1 '^vendor_id.*\(AuthenticAMD\|HygonGenuine\)' /proc/cpuinfo; then
  echo "$json" | jq -e '[.domains[] | select(.name == "package-0/core")] == []' >/dev/null ||
    fail "the core zone of an AMD host was kept: $json"
  note "AMD host: the core zone (one core's counter there) is left out"
else
  echo "$json" | jq -e '[.domains[] | select(.name == "package-0/core")][0].in_host == false' >/dev/null ||
    fail "core counted in host: $json"
  core_w=$(echo "$json" | jq '[.domains[] | select(.name == "package-0/core")][0].power_w')
  within "$core_w" 15 1 || fail "core power $core_w W is not 15 W"
fi
"$JOULES" --db "$db" status
echo "ok: $watts W"

# --profile: after the first 30 ticks, CPU per tick by part and per commit; at 50 ms with a
# commit every second there are about a twentieth as many commits as ticks.
"$JOULESD" --db "$SCRATCH/profile.db" --interval 50ms --sysfs-root "$sys" --energy-source powercap \
  --duration 5s --commit-interval 1s --profile 2>"$SCRATCH/profile.err" ||
  { cat "$SCRATCH/profile.err"; fail "joulesd --profile failed"; }
ticks_line=$(grep 'joulesd: profile: [0-9]* ticks, CPU us per tick: energy' "$SCRATCH/profile.err") ||
  fail "no per-tick profile: $(cat "$SCRATCH/profile.err")"
commit_line=$(grep 'joulesd: profile: [0-9]* commits, CPU us per commit: begin' "$SCRATCH/profile.err") ||
  fail "no per-commit profile: $(cat "$SCRATCH/profile.err")"
note "$ticks_line"
read -r pticks psum ptotal < <(echo "$ticks_line" | awk '{
  for (i = 1; i <= NF; i++) {
    if ($(i + 1) == "ticks,") n = $i
    if ($i ~ /^(energy|services|requests|store|maintain|other)$/) s += $(i + 1)
    if ($i == "total") t = $(i + 1)
  }
  print n, s, t }')
pcommits=$(echo "$commit_line" | awk '{ print $3 }')
stored=$(sqlite3 "$SCRATCH/profile.db" "SELECT COUNT(*) FROM ticks")
[ "$pticks" -eq $((stored - 30)) ] || fail "profiled $pticks ticks of $stored stored (all but the first 30)"
within "$psum" "$ptotal" 1 || fail "the parts ($psum us) do not add up to the total ($ptotal us)"
[ "$pcommits" -ge 2 ] && [ "$pcommits" -le $((pticks / 10 + 1)) ] ||
  fail "$pcommits commits for $pticks ticks of 50 ms (a commit about every second)"

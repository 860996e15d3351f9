# joulesd's side of the service-manager protocol, without systemd as PID 1: notify-listen stands
# in for systemd's notify socket (and, in a private mount namespace, for journald's socket).
#   - READY=1 after the first sample, then STATUS= with the host's watts and the services
#   - WATCHDOG=1 at half of WATCHDOG_USEC, from the sampling loop
#   - SIGHUP: RELOADING=1 ... READY=1; live keys applied (the timer re-armed to the new interval),
#     restart-only keys named, a flag still beating the file
#   - SIGHUP with a broken file: FILE:LINE: reason logged, the daemon keeps sampling
#   - STOPPING=1 on SIGTERM
#   - journald: the important events carry MESSAGE_ID= and JOULES_* fields
source "$JOULES_SRC/tests/lib.sh"

LISTEN=$JOULES_TESTS_BIN/notify-listen
sys=$SCRATCH/sys
db=$SCRATCH/joules.db
conf=$SCRATCH/joulesd.conf

"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:20 --interval-ms 5 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

# waits up to $3 seconds (default 5) for a line matching the ERE $2 in file $1
wait_line() {
  local i
  for ((i = 0; i < ${3:-5} * 20; i++)); do grep -Eq -- "$2" "$1" && return 0; sleep 0.05; done
  return 1
}

start_listener() { # start_listener SOCKET OUT
  "$LISTEN" --socket "$1" >"$2" &
  CLEANUP+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
  wait_line "$2" '^ready$' || fail "notify-listen did not start"
}

# --- notify: READY, STATUS, WATCHDOG ---------------------------------------------------------
cat >"$conf" <<EOF
[daemon]
interval = 200ms
database = $db
[attribution]
events = none
idle_power = 9
EOF
notify=$SCRATCH/notify.sock
start_listener "$notify" "$SCRATCH/notify.out"
t0=$(date +%s%N)
# --idle-power on the command line must keep beating the file after every reload. Every tick is
# committed (--commit-interval 0), so the history shows at once that sampling goes on.
NOTIFY_SOCKET=$notify WATCHDOG_USEC=1000000 "$JOULESD" --config "$conf" \
  --sysfs-root "$sys" --energy-source powercap --idle-power 3 --commit-interval 0 \
  2>"$SCRATCH/joulesd.err" &
jd=$!
CLEANUP+=("kill $jd 2>/dev/null; wait $jd 2>/dev/null")

wait_line "$SCRATCH/notify.out" ' READY=1$' || { cat "$SCRATCH/joulesd.err"; fail "no READY=1"; }
note "READY=1 after $((($(date +%s%N) - t0) / 1000000)) ms"
wait_line "$SCRATCH/notify.out" ' STATUS=host [0-9.]+ W, [0-9]+ active service' ||
  fail "no STATUS= with watts: $(cat "$SCRATCH/notify.out")"
status=$(grep -E ' STATUS=host' "$SCRATCH/notify.out" | tail -1 | cut -d' ' -f3-)
watts=$(echo "$status" | sed -E 's/^STATUS=host ([0-9.]+) W.*/\1/')
note "$status"
within "$watts" 20 5 || fail "STATUS= says $watts W, the simulator draws 20 W"

# WATCHDOG_USEC=1s: a ping every 0.5 s, never a gap near 1 s.
sleep 2.2
read -r pings maxgap < <(awk '$3 == "WATCHDOG=1" { if (n++) { g = $1 - last; if (g > m) m = g } last = $1 }
  END { print n + 0, m + 0 }' "$SCRATCH/notify.out")
note "WATCHDOG=1: $pings pings, largest gap $maxgap ms (WATCHDOG_USEC=1s)"
[ "$pings" -ge 4 ] || fail "only $pings WATCHDOG=1 in about 2.5 s"
[ "$maxgap" -le 700 ] || fail "a $maxgap ms gap between WATCHDOG=1 pings (want about 500)"

# --- reload with a valid file ----------------------------------------------------------------
cat >"$conf" <<EOF
[daemon]
interval = 500ms
log_level = debug
database = $SCRATCH/elsewhere.db
[attribution]
events = none
idle_power = 12
EOF
before=$(grep -c ' RELOADING=1$' "$SCRATCH/notify.out" || true)
t_reload=$(date +%s%N)
kill -HUP $jd
wait_line "$SCRATCH/joulesd.err" 'reloaded ' || fail "no reload message: $(cat "$SCRATCH/joulesd.err")"
# RELOADING=1, then READY=1 in a later message. joulesd logs "reloaded" before it sends READY=1,
# and notify-listen writes what it receives a moment later: wait for it (up to 5 s).
reload_ready() {
  awk -v b="$before" '$3 == "RELOADING=1" && ++n > b { r = $2 } r && $3 == "READY=1" && $2 > r { ok = 1 }
    END { exit !ok }' "$SCRATCH/notify.out"
}
for _ in $(seq 100); do reload_ready && break; sleep 0.05; done
reload_ready || fail "no RELOADING=1 then READY=1: $(tail "$SCRATCH/notify.out")"
grep -E 'reloaded .*applied daemon\.interval, daemon\.log_level; waiting for a restart: daemon\.database' \
  "$SCRATCH/joulesd.err" >/dev/null || fail "reload message: $(grep reload "$SCRATCH/joulesd.err")"
grep -q "daemon.database changed from '$db' to '$SCRATCH/elsewhere.db'.*restart" "$SCRATCH/joulesd.err" ||
  fail "the database change is not reported as needing a restart"
grep -q 'idle_power' "$SCRATCH/joulesd.err" && fail "idle_power changed although --idle-power beats the file"
[ -e "$SCRATCH/elsewhere.db" ] && fail "the database was switched without a restart"
# The timer was re-armed: ticks after the reload are 0.5 s long.
sleep 2
dts=$(sqlite3 "$db" "SELECT dt_us FROM ticks ORDER BY rowid DESC LIMIT 3" | tr '\n' ' ')
note "tick lengths after the reload: $dts us"
for dt in $dts; do within "$dt" 500000 10 || fail "tick of $dt us after reloading interval = 500ms"; done

# --- reload with a broken file keeps the running settings ------------------------------------
printf '[daemon]\ninterval = 500ms\nsampling = fast\n' >"$conf"
ticks=$(sqlite3 "$db" "SELECT COUNT(*) FROM ticks")
kill -HUP $jd
wait_line "$SCRATCH/joulesd.err" 'reload failed' || fail "no reload failure message"
grep -q "reload failed, the running settings stay in effect: $conf:3: unknown key 'sampling' in section \[daemon\]" \
  "$SCRATCH/joulesd.err" || fail "reload failure without FILE:LINE: reason: $(grep 'reload failed' "$SCRATCH/joulesd.err")"
sleep 1.2
kill -0 $jd 2>/dev/null || fail "joulesd exited after a broken reload"
[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM ticks")" -gt "$ticks" ] || fail "joulesd stopped sampling"
[ "$(grep -c ' READY=1$' "$SCRATCH/notify.out")" -ge 3 ] || fail "no READY=1 after the failed reload"

kill -TERM $jd
wait $jd || fail "joulesd exited with $? on SIGTERM"
wait_line "$SCRATCH/notify.out" ' STOPPING=1$' 2 || fail "no STOPPING=1"

# --- journald fields -------------------------------------------------------------------------
# In a private mount namespace a tmpfs over /run lets notify-listen own journald's socket;
# JOURNAL_STREAM names joulesd's stderr, as systemd does for a service.
if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
  echo "ok (journald fields not checked: needs root and unshare -m)"
  exit 0
fi
printf '[daemon]\ninterval = 200ms\n[energy]\nmax_domain_power_w = 10\n[attribution]\nevents = none\n' >"$conf"
cat >"$SCRATCH/journal.sh" <<EOF
set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
"$LISTEN" --socket /run/systemd/journal/socket >"$SCRATCH/journal.out" &
lst=\$!
for _ in \$(seq 100); do grep -q '^ready' "$SCRATCH/journal.out" && break; sleep 0.05; done
: >"$SCRATCH/jd2.err"
export JOURNAL_STREAM=\$(stat -c '%d:%i' "$SCRATCH/jd2.err")
"$JOULESD" --config "$conf" --db "$SCRATCH/j.db" --sysfs-root "$sys" --energy-source powercap \
  2>>"$SCRATCH/jd2.err" &
jd=\$!
sleep 1
printf '[daemon]\ninterval = 300ms\n' >"$conf"
kill -HUP \$jd
sleep 0.5
printf '[daemon]\ninterval = never\n' >"$conf"
kill -HUP \$jd
sleep 0.5
kill -TERM \$jd
wait \$jd
kill \$lst
wait \$lst
EOF
unshare -m --propagation private bash "$SCRATCH/journal.sh" || fail "the journald run failed"
[ -s "$SCRATCH/jd2.err" ] && fail "joulesd wrote to stderr although it is a journal stream: $(cat "$SCRATCH/jd2.err")"

# message N with field $1: prints the whole message (its lines, without time and number)
message_with() {
  awk -v f="$1" '{ v = $0; sub(/^[0-9]+ [0-9]+ /, "", v); msg[$2] = msg[$2] v "\n"
                   if (v == f) hit[$2] = 1 }
                 END { for (m in hit) { printf "%s", msg[m]; exit } }' "$SCRATCH/journal.out"
}
check_message() { # check_message MESSAGE_ID FIELD=VALUE-ERE...
  local id=$1 m
  shift
  m=$(message_with "MESSAGE_ID=$id")
  [ -n "$m" ] || fail "no journal message with MESSAGE_ID=$id: $(cut -d' ' -f3- "$SCRATCH/journal.out" | grep MESSAGE=)"
  local f
  for f in PRIORITY=[0-7] SYSLOG_IDENTIFIER=joulesd "$@"; do
    echo "$m" | grep -Eqx -- "$f" || fail "MESSAGE_ID=$id lacks $f: $m"
  done
  note "$(echo "$m" | grep -E '^MESSAGE=')"
}
check_message 5b1f7f0e0d6a4b55a1c7e0d7c0a2f010 'JOULES_SOURCE=powercap' 'JOULES_DOMAINS=1' \
  'JOULES_ESTIMATED=0' 'JOULES_INTERVAL_USEC=200000' "JOULES_DATABASE=$SCRATCH/j.db" 'JOULES_WEIGHT=.+'
check_message 5b1f7f0e0d6a4b55a1c7e0d7c0a2f001 'JOULES_DOMAIN=package-0' 'JOULES_ZONE=intel-rapl:0' \
  'PRIORITY=4'
check_message 5b1f7f0e0d6a4b55a1c7e0d7c0a2f013 "JOULES_CONFIG=$conf" \
  'JOULES_APPLIED=daemon.interval, energy.max_domain_power_w' 'JOULES_NEEDS_RESTART=attribution.events'
check_message 5b1f7f0e0d6a4b55a1c7e0d7c0a2f015 'JOULES_CONFIG_KEY=attribution.events'
check_message 5b1f7f0e0d6a4b55a1c7e0d7c0a2f014 "MESSAGE=reload failed.*$conf:2: daemon.interval.*" 'PRIORITY=3'
check_message 5b1f7f0e0d6a4b55a1c7e0d7c0a2f016
echo "ok"

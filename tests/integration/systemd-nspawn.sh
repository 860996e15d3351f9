# joulesd under a real systemd: a minimal Debian bookworm root (debootstrap, cached between runs)
# boots in systemd-nspawn with this build installed by `cmake --install` and a fake powercap tree
# (rapl-sim, energy_uj mode 0400 root) bind-mounted in. A oneshot unit inside (ci-check.sh) drives
# systemctl and writes what it saw to /ci-out; this script then checks it:
#   - joulesd.service reaches active (running) through READY=1; STATUS= shows the watts
#   - it runs as user joules with exactly CAP_DAC_READ_SEARCH + CAP_PERFMON, and reads the 0400
#     energy_uj (joules status: powercap, measured, the simulated power)
#   - joules status works for a user in group joules, and is refused to others
#   - systemctl reload: a valid file is applied, a broken one keeps it running and is logged
#   - kill -STOP of the daemon: the watchdog (WatchdogSec=3s in a drop-in) restarts it
#   - journalctl -u joulesd -o verbose shows the structured fields (MESSAGE_ID=, JOULES_*=)
#   - joulesd.socket: systemd creates the ingest socket (0660 root:joules) and hands it over; a
#     service in group joules counts requests through it
#   - systemctl stop: a clean exit
#   - joules-exporter.service: a transient user in group joules, no capabilities at all, serves
#     the history (units adding up to the host), and still answers after joulesd stopped
#   - a service's /metrics scraped: joulesd's scrape worker holds no capability under the unit
#     (AmbientCapabilities= does not reach it) and counts the service's requests
# The root is cached in ${JOULES_CI_CACHE:-/var/cache/joules-ci}, keyed by its package list (the
# packages of the libraries joulesd and joules link, found with dpkg -S), and used through an
# overlay so it stays pristine. Runs are serialised with a lock: nspawn --keep-unit leaves the
# cgroups `payload` and `supervisor` beside ours, removed here before and after.
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-nspawn.sh"

t_start=$(date +%s%N)

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, mounts, systemd-nspawn)"
for tool in systemd-nspawn debootstrap; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (./dev.sh installs systemd-container and debootstrap)"
done
if readelf -d "$JOULESD" | grep -q 'NEEDED.*libasan'; then
  # LeakSanitizer stops the world with ptrace, which the unit's SystemCallFilter= rightly denies.
  skip "sanitizer build: the hardened unit forbids what ASan needs; the plain build runs this test"
fi
BUILD=$(dirname "$JOULES_BIN")

# --- the cached root -------------------------------------------------------------------------
nspawn_lock

# The Debian packages of the libraries the binaries link (debootstrap adds their dependencies),
# and of those joulesd opens only when it needs them (dlopen: not in NEEDED): libpfm4 to encode
# perf events, libcurl4 to scrape request counters.
pkgs=(systemd systemd-sysv dbus libsystemd0 libpfm4 libcurl4)
for lib in $(for b in "$JOULESD" "$JOULES" "$JOULES_BIN/joules-exporter" "$JOULES_TESTS_BIN/ingest-send" \
  "$JOULES_TESTS_BIN/http-server"; do
  [ -f "$b" ] && readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u); do
  # awk reads all of ldd's output: exiting at the first match would SIGPIPE ldd (pipefail)
  path=$(ldd "$JOULESD" "$JOULES" "$JOULES_BIN/joules-exporter" |
    awk -v l="$lib" '$1 == l && p == "" { p = $3 } END { print p }')
  [ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
  pkg=""
  for c in "$path" "/usr$path" "$(readlink -f "$path")"; do
    pkg=$(dpkg -S "$c" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
  done
  [ -n "$pkg" ] || fail "no Debian package holds $lib ($path)"
  pkgs+=("$pkg")
done
include=$(printf '%s\n' "${pkgs[@]}" | sort -u | paste -sd, -)
nspawn_rootfs "$include"

# --- the container's root: an overlay over the cache ----------------------------------------
nspawn_machine joules-ci
machine=$NSPAWN_MACHINE

DESTDIR=$machine cmake --install "$BUILD" --prefix /usr >"$SCRATCH/install.log" ||
  { cat "$SCRATCH/install.log"; fail "cmake --install"; }
install -m 0755 "$JOULES_TESTS_BIN/ingest-send" "$machine/usr/local/bin/ingest-send"
install -m 0755 "$JOULES_TESTS_BIN/http-server" "$machine/usr/local/bin/http-server"
cat >"$machine/etc/joules/joulesd.conf" <<'EOF'
[daemon]
interval = 250ms
[energy]
source = powercap
sysfs_root = /srv/rapl
EOF
# A short watchdog for the test; no core dump of the SIGABRT it sends.
mkdir -p "$machine/etc/systemd/system/joulesd.service.d"
cat >"$machine/etc/systemd/system/joulesd.service.d/ci.conf" <<'EOF'
[Service]
WatchdogSec=3s
RestartSec=500ms
LimitCORE=0
EOF
cat >"$machine/etc/systemd/system/ci-check.service" <<'EOF'
[Unit]
Description=joules CI checks
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/bash /ci-check.sh
TimeoutStartSec=180
ExecStopPost=/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/ci-check.service "$machine/etc/systemd/system/multi-user.target.wants/"
cat >"$machine/ci-check.sh" <<'CHECK'
# Inside the container: drives systemctl, records facts (KEY=VALUE) and files in /ci-out.
set -u
out=/ci-out
fact() { echo "$1=$2" >>"$out/facts"; }
now_ms() { date +%s%3N; }
prop() { systemctl show -p "$2" --value "$1"; }
wait_until() { # wait_until SECONDS COMMAND...
  local end=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do [ "$(now_ms)" -lt "$end" ] || return 1; sleep 0.1; done
}
journal_has() { journalctl -u joulesd -o cat --no-pager | grep -q -- "$1"; }
status_has_watts() { prop joulesd StatusText | grep -q ' W'; }
fact boot "$(systemctl is-system-running)"
# The whole journal as it is written, for the report when something fails or hangs.
systemd-run --quiet --unit=ci-journal -p StandardOutput=file:/ci-out/journal.txt \
  journalctl -f -b -o short-monotonic --no-pager

# start: active (running) through READY=1
t=$(now_ms)
systemctl start joulesd
fact start_rc $?
fact start_ms $(($(now_ms) - t))
fact type "$(prop joulesd Type)"
fact state "$(prop joulesd ActiveState)/$(prop joulesd SubState)"
wait_until 10 status_has_watts
fact status_text "$(prop joulesd StatusText)"
pid=$(prop joulesd MainPID)
fact daemon_uid "$(awk '/^Uid:/ { print $2 }' /proc/"$pid"/status)"
fact joules_uid "$(id -u joules)"
fact capeff "$(awk '/^CapEff:/ { print $2 }' /proc/"$pid"/status)"
fact energy_file "$(stat -c '%a %U' /srv/rapl/class/powercap/intel-rapl:0/energy_uj)"
# the control: the same user without the capability cannot read it
setpriv --reuid=joules --regid=joules --clear-groups cat /srv/rapl/class/powercap/intel-rapl:0/energy_uj \
  >/dev/null 2>&1
fact energy_without_cap_rc $?

# joules status: as root, as a user in group joules, as a user in no group
sleep 1.5
gid=$(getent group joules | cut -d: -f3)
joules status --json >"$out/status.json" 2>&1
fact status_root_rc $?
setpriv --reuid=4242 --regid=4242 --groups="$gid" joules status >"$out/status-member.txt" 2>&1
fact status_member_rc $?
setpriv --reuid=4343 --regid=4343 --clear-groups joules status >"$out/status-other.txt" 2>&1
fact status_other_rc $?

# joules-exporter: a transient user whose only grant is group joules, no capabilities
fact joules_gid "$gid"
systemctl start joules-exporter
fact exporter_start_rc $?
fact exporter_state "$(prop joules-exporter ActiveState)/$(prop joules-exporter SubState)"
epid=$(prop joules-exporter MainPID)
fact exporter_uid "$(awk '/^Uid:/ { print $2 }' /proc/"$epid"/status)"
fact exporter_groups "$(awk '/^Groups:/ { $1 = ""; print }' /proc/"$epid"/status)"
fact exporter_capeff "$(awk '/^CapEff:/ { print $2 }' /proc/"$epid"/status)"
fact exporter_capbnd "$(awk '/^CapBnd:/ { print $2 }' /proc/"$epid"/status)"
scrape() { # bash's /dev/tcp: no curl in the minimal root
  exec 3<>/dev/tcp/127.0.0.1/29120 || return 1
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  cat <&3
  exec 3<&-
}
scrape >"$out/metrics.txt" 2>&1
fact exporter_scrape_rc $?

# reload: a valid change, then a broken file
cp /etc/joules/joulesd.conf /tmp/good.conf
sed -i 's/^interval = .*/interval = 500ms/' /etc/joules/joulesd.conf
systemctl reload joulesd
fact reload_rc $?
wait_until 5 journal_has "reloaded /etc/joules/joulesd.conf"
fact reload_logged $?
printf '[daemon]\ninterval = 500ms\nsamples = many\n' >/etc/joules/joulesd.conf
systemctl reload joulesd
fact reload_bad_rc $?
wait_until 5 journal_has "reload failed"
fact reload_bad_logged $?
sleep 0.5
fact after_bad_reload "$(prop joulesd ActiveState)/$(prop joulesd SubState) $(prop joulesd MainPID)"
fact pid_before_reload "$pid"
cp /tmp/good.conf /etc/joules/joulesd.conf

# the watchdog: a stopped daemon is killed and restarted
n=$(prop joulesd NRestarts)
t=$(now_ms)
kill -STOP "$pid"
restarted() {
  local p
  p=$(prop joulesd MainPID)
  [ "$p" != 0 ] && [ "$p" != "$pid" ] && [ "$(prop joulesd SubState)" = running ]
}
wait_until 30 restarted
fact watchdog_restarted $?
fact watchdog_ms $(($(now_ms) - t))
fact watchdog_restarts $(($(prop joulesd NRestarts) - n))
journalctl -u joulesd -o cat --no-pager | grep -i 'watchdog timeout' | head -1 >"$out/watchdog.txt"

# joulesd.socket: systemd owns the socket and hands it over
systemctl stop joulesd
systemctl start joulesd.socket
fact socket_start_rc $?
fact socket_file "$(stat -c '%F %a %U:%G' /run/joules/ingest.sock)"
systemctl start joulesd
fact socket_service_state "$(prop joulesd ActiveState)/$(prop joulesd SubState)"
wait_until 5 journal_has "(socket from systemd)"
fact socket_handed_over $?
systemd-run --wait --quiet --unit=ci-sender -p DynamicUser=yes -p SupplementaryGroups=joules \
  /usr/local/bin/ingest-send --socket /run/joules/ingest.sock --count 7 --linger-ms 1500 \
  >"$out/sender.txt" 2>&1
fact sender_rc $?
sleep 1
joules services --since 10m --json >"$out/services.json" 2>&1
fact services_rc $?

# a service's /metrics, scraped by joulesd's worker: no capability, though joulesd holds two
printf 'ci_requests_total 5\n' >/run/ci-web.metrics
systemd-run --quiet --unit=ci-web /usr/local/bin/http-server --port-file /run/ci-web.port \
  --metrics-file /run/ci-web.metrics
wait_until 5 test -s /run/ci-web.port
printf '[requests "ci-web.service"]\nscrape_url = http://127.0.0.1:%s/metrics\nscrape_metric = ci_requests_total\nscrape_interval = 1s\nscrape_timeout = 500ms\n' \
  "$(cat /run/ci-web.port)" >>/etc/joules/joulesd.conf
systemctl restart joulesd
fact scrape_restart_rc $?
pid=$(prop joulesd MainPID)
worker_pid() { # no procps in the minimal root
  local f
  for f in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' <"$f" 2>/dev/null | grep -q -- '--scrape-worker' &&
      [ "$(awk '{ print $4 }' "${f%/cmdline}/stat" 2>/dev/null)" = "$pid" ] &&
      { basename "${f%/cmdline}"; return 0; }
  done
  return 1
}
wait_until 5 worker_pid
w=$(worker_pid)
fact worker_caps "$(awk '/^Cap(Prm|Eff|Amb):/ { printf "%s ", $2 }' /proc/"$w"/status)"
fact worker_capinh "$(awk '/^CapInh:/ { print $2 }' /proc/"$w"/status)"
fact worker_uid "$(awk '/^Uid:/ { print $2 }' /proc/"$w"/status)"
fact worker_nnp "$(awk '/^NoNewPrivs:/ { print $2 }' /proc/"$w"/status)"
fact scrape_daemon_capeff "$(awk '/^CapEff:/ { print $2 }' /proc/"$pid"/status)"
sleep 1.5
printf 'ci_requests_total 12\n' >/run/ci-web.metrics
sleep 2.5
cp /tmp/good.conf /etc/joules/joulesd.conf

# a clean stop
systemctl stop joulesd
fact stop "$(prop joulesd Result) $(prop joulesd ExecMainStatus)"
# (after the stop: its last ticks are committed then)
joules services --since 10m --json >"$out/services-scrape.json" 2>&1
# the exporter still reads the history (joulesd kept its -wal and -shm), counters not lower
scrape >"$out/metrics-end.txt" 2>&1
fact exporter_scrape_end_rc $?
fact exporter_end_state "$(prop joules-exporter ActiveState)/$(prop joules-exporter SubState)"
systemctl stop joules-exporter
fact exporter_stop "$(prop joules-exporter Result) $(prop joules-exporter ExecMainStatus)"
journalctl -u joulesd -o verbose --no-pager >"$out/journal-verbose.txt"
fact done 1
CHECK

# --- the fake powercap tree: counters readable by root only ----------------------------------
sys=$SCRATCH/rapl
"$JOULES_TESTS_BIN/rapl-sim" --root "$sys" --zone package-0:18 --zone dram:3 --mode 0400 \
  --interval-ms 10 >"$SCRATCH/sim.out" &
sim=$!
CLEANUP+=("kill $sim 2>/dev/null; wait $sim 2>/dev/null")
for _ in $(seq 100); do grep -q '^ready' "$SCRATCH/sim.out" && break; sleep 0.05; done
grep -q '^ready' "$SCRATCH/sim.out" || fail "rapl-sim did not start"

# --- boot --------------------------------------------------------------------------------------
# Can nspawn run a container here at all (namespaces, cgroups, seccomp)? Only this may skip.
if ! systemd-nspawn -q -D "$machine" --register=no --keep-unit --console=pipe /bin/true \
  >"$SCRATCH/probe.log" 2>&1; then
  skip "systemd-nspawn cannot run a container here: $(tr '\n' ' ' <"$SCRATCH/probe.log")"
fi
nspawn_remove_leftover_cgroups
outdir=$SCRATCH/out
mkdir -p "$outdir"
t_boot=$(date +%s%N)
rc=0
# --private-network: the exporter's port and the test's HTTP servers are the container's own (a
# joules-exporter on this host, or anything else on its default port, would take it).
timeout -k 10 200 systemd-nspawn -q -D "$machine" -M joules-ci --boot --register=no --keep-unit \
  --console=pipe --private-network --capability=CAP_PERFMON --system-call-filter=perf_event_open \
  --bind="$outdir:/ci-out" --bind-ro="$sys:/srv/rapl" >"$SCRATCH/boot.log" 2>&1 || rc=$?
boot_ms=$(ms_since "$t_boot")
facts=$outdir/facts
if [ ! -s "$facts" ]; then
  tail -30 "$SCRATCH/boot.log"
  tail -30 "$outdir/journal.txt" 2>/dev/null
  fail "the container ran no checks (systemd-nspawn exit $rc)"
fi
[ "$rc" -eq 0 ] || note "systemd-nspawn exited $rc"
fact() { sed -n "s/^$1=//p" "$facts" | tail -1; }
show_journal() { tail -40 "$outdir/journal.txt" 2>/dev/null; }
[ "$(fact done)" = 1 ] || { cat "$facts"; show_journal; fail "the checks inside did not finish"; }
note "container: booted and checked in $boot_ms ms"

# start
[ "$(fact start_rc)" = 0 ] || { show_journal; fail "systemctl start joulesd failed"; }
[ "$(fact type)" = notify ] || fail "Type=$(fact type)"
[ "$(fact state)" = active/running ] || fail "after start: $(fact state)"
note "systemctl start joulesd returned after $(fact start_ms) ms (READY=1), boot: $(fact boot)"
status_text=$(fact status_text)
echo "$status_text" | grep -Eq '^host [0-9.]+ W, [0-9]+ active service\(s\), source powercap$' ||
  fail "StatusText: '$status_text'"
watts=$(echo "$status_text" | sed -E 's/^host ([0-9.]+) W.*/\1/')
within "$watts" 21 5 || fail "StatusText says $watts W; the simulator draws 21 W"
note "StatusText=$status_text"

# privileges
[ "$(fact daemon_uid)" = "$(fact joules_uid)" ] || fail "joulesd runs as uid $(fact daemon_uid), not joules"
[ "$(fact capeff)" = 0000004000000004 ] ||
  fail "CapEff=$(fact capeff), want CAP_DAC_READ_SEARCH|CAP_PERFMON (0000004000000004)"
[ "$(fact energy_file)" = "400 root" ] || fail "energy_uj is $(fact energy_file) in the container"
[ "$(fact energy_without_cap_rc)" != 0 ] || fail "user joules reads energy_uj even without the capability"
[ "$(fact status_root_rc)" = 0 ] || fail "joules status: $(cat "$outdir/status.json")"
jq -e '.source == "powercap" and .host.estimated == false' "$outdir/status.json" >/dev/null ||
  fail "joules status: $(cat "$outdir/status.json")"
power=$(jq '.host.power_w' "$outdir/status.json")
within "$power" 21 5 || fail "joules status says $power W, the simulator 21 W"
note "user joules reads the 0400 energy_uj: joules status says $power W from powercap, measured"
[ "$(fact status_member_rc)" = 0 ] || fail "joules status in group joules: $(cat "$outdir/status-member.txt")"
grep -q powercap "$outdir/status-member.txt" || fail "status as a member: $(cat "$outdir/status-member.txt")"
[ "$(fact status_other_rc)" != 0 ] || fail "joules status worked for a user outside group joules"
note "joules status: works in group joules; outside it: $(head -1 "$outdir/status-other.txt")"

# reload
[ "$(fact reload_rc)" = 0 ] && [ "$(fact reload_logged)" = 0 ] || { show_journal; fail "valid reload"; }
grep -q 'reloaded /etc/joules/joulesd.conf: applied daemon.interval' "$outdir/journal-verbose.txt" ||
  fail "the reload did not apply daemon.interval"
[ "$(fact reload_bad_logged)" = 0 ] || { show_journal; fail "no 'reload failed' in the journal"; }
grep -q "reload failed, the running settings stay in effect: /etc/joules/joulesd.conf:3: unknown key 'samples'" \
  "$outdir/journal-verbose.txt" || fail "the failed reload does not say FILE:LINE: reason"
[ "$(fact after_bad_reload)" = "active/running $(fact pid_before_reload)" ] ||
  fail "after a broken reload: $(fact after_bad_reload) (was pid $(fact pid_before_reload))"
note "reload: valid applied; broken kept the daemon running (pid $(fact pid_before_reload)) and logged why"

# watchdog
[ "$(fact watchdog_restarted)" = 0 ] || { show_journal; fail "kill -STOP: joulesd was not restarted"; }
[ "$(fact watchdog_restarts)" = 1 ] || fail "NRestarts grew by $(fact watchdog_restarts)"
grep -qi 'watchdog timeout' "$outdir/watchdog.txt" || fail "no watchdog timeout in the journal"
note "kill -STOP: $(cat "$outdir/watchdog.txt"); running again after $(fact watchdog_ms) ms"

# journald fields
jv=$outdir/journal-verbose.txt
for field in MESSAGE_ID=5b1f7f0e0d6a4b55a1c7e0d7c0a2f010 JOULES_SOURCE=powercap JOULES_DOMAINS=2 \
  JOULES_ESTIMATED=0 JOULES_DATABASE=/var/lib/joules/joules.db \
  MESSAGE_ID=5b1f7f0e0d6a4b55a1c7e0d7c0a2f013 JOULES_APPLIED=daemon.interval \
  MESSAGE_ID=5b1f7f0e0d6a4b55a1c7e0d7c0a2f014 JOULES_CONFIG=/etc/joules/joulesd.conf \
  MESSAGE_ID=5b1f7f0e0d6a4b55a1c7e0d7c0a2f016 SYSLOG_IDENTIFIER=joulesd _SYSTEMD_UNIT=joulesd.service; do
  grep -q "^    $field\$" "$jv" || fail "journalctl -u joulesd -o verbose has no $field"
done
note "journal: MESSAGE_ID and JOULES_* fields present ($(grep -c '^    JOULES_' "$jv") JOULES_ fields)"

# socket activation
[ "$(fact socket_start_rc)" = 0 ] || fail "systemctl start joulesd.socket"
[ "$(fact socket_file)" = "socket 660 root:joules" ] || fail "ingest.sock is $(fact socket_file)"
[ "$(fact socket_service_state)" = active/running ] || fail "with the socket: $(fact socket_service_state)"
[ "$(fact socket_handed_over)" = 0 ] || { show_journal; fail "joulesd did not take the socket from systemd"; }
[ "$(fact sender_rc)" = 0 ] || fail "ingest-send in group joules: $(cat "$outdir/sender.txt")"
jq -e '.units[] | select(.unit == "ci-sender.service") | .requests == 7' "$outdir/services.json" >/dev/null ||
  fail "requests of ci-sender.service: $(jq -c '.units[] | select(.unit == "ci-sender.service")' "$outdir/services.json" 2>&1)"
note "joulesd.socket: $(fact socket_file), handed over; 7 requests counted for ci-sender.service"

# the scrape worker under the unit
[ "$(fact scrape_restart_rc)" = 0 ] || { show_journal; fail "restart with a scrape target"; }
[ "$(fact scrape_daemon_capeff)" = 0000004000000004 ] ||
  fail "joulesd with a scrape target: CapEff $(fact scrape_daemon_capeff)"
# Inheritable keeps the unit's two (its filter refuses capset): inert, since with no_new_privs
# and an empty ambient set no execve can make one permitted (file capabilities are ignored).
[ "$(fact worker_caps)" = "0000000000000000 0000000000000000 0000000000000000 " ] ||
  { show_journal; fail "the scrape worker holds capabilities (Prm Eff Amb): $(fact worker_caps)"; }
[ "$(fact worker_uid)" = "$(fact joules_uid)" ] && [ "$(fact worker_nnp)" = 1 ] ||
  fail "the scrape worker: uid $(fact worker_uid), NoNewPrivs $(fact worker_nnp)"
jq -e '.units[] | select(.unit == "ci-web.service") | .requests == 7' "$outdir/services-scrape.json" \
  >/dev/null || { show_journal; fail "scraped requests of ci-web.service: $(cat "$outdir/services-scrape.json")"; }
note "scrape worker under joulesd.service: uid joules, CapPrm/CapEff/CapAmb 0 (CapInh $(fact worker_capinh)), no_new_privs (joulesd: CapEff $(fact scrape_daemon_capeff)); 7 requests scraped"

# stop
[ "$(fact stop)" = "success 0" ] || fail "systemctl stop: Result/ExecMainStatus $(fact stop)"

# joules-exporter
[ "$(fact exporter_start_rc)" = 0 ] && [ "$(fact exporter_state)" = active/running ] ||
  { show_journal; fail "joules-exporter: start $(fact exporter_start_rc), $(fact exporter_state)"; }
euid=$(fact exporter_uid)
[ -n "$euid" ] && [ "$euid" != 0 ] && [ "$euid" != "$(fact joules_uid)" ] ||
  fail "joules-exporter runs as uid '$euid' (root or joules)"
echo " $(fact exporter_groups) " | grep -q " $(fact joules_gid) " ||
  fail "joules-exporter is not in group joules: groups $(fact exporter_groups)"
[ "$(fact exporter_capeff)" = 0000000000000000 ] && [ "$(fact exporter_capbnd)" = 0000000000000000 ] ||
  fail "joules-exporter holds capabilities: CapEff $(fact exporter_capeff) CapBnd $(fact exporter_capbnd)"
exporter_body() { sed '1,/^\r$/d' "$1"; }
for f in metrics.txt metrics-end.txt; do
  head -1 "$outdir/$f" | grep -q '^HTTP/1.[01] 200' || { head -5 "$outdir/$f"; show_journal; fail "joules-exporter: $f"; }
  exporter_body "$outdir/$f" | grep -q '^joules_history_up 1$' || fail "$f: history not up"
  exporter_body "$outdir/$f" | awk '
    /^joules_host_energy_joules_total / { split($2, p, "."); h = p[1] * 1000000 + p[2] }
    /^joules_unit_energy_joules_total\{/ { split($NF, p, "."); u += p[1] * 1000000 + p[2] }
    END { if (!(h > 0 && h == u)) { printf "host %d uJ, units %d uJ\n", h, u; exit 1 } }' ||
    fail "$f: the units do not add up to the host"
done
host_of() { exporter_body "$1" | awk '/^joules_host_energy_joules_total / { print $2 }'; }
awk -v a="$(host_of "$outdir/metrics.txt")" -v b="$(host_of "$outdir/metrics-end.txt")" \
  'BEGIN { exit !(b + 0 > a + 0) }' || fail "the host counter did not grow"
[ "$(fact exporter_stop)" = "success 0" ] || fail "joules-exporter stop: $(fact exporter_stop)"
note "joules-exporter.service: uid $euid (dynamic) in group joules, no capabilities; host $(host_of "$outdir/metrics.txt") J, then $(host_of "$outdir/metrics-end.txt") J after joulesd stopped"
echo "ok: nspawn test took $(ms_since "$t_start") ms (boot and checks $boot_ms ms)"

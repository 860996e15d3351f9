# The Debian package in a booted Debian 12: `./dev.sh package` builds it once and lints it (no
# lintian error or warning), or JOULES_DEB_DIR names a directory holding a built
# joules_<version>_<arch>.deb; the rules and dashboard in it pass promtool and jq; a copy repacked
# with a higher version stands for the next release (the maintainer scripts are the same), and a minimal bookworm root (debootstrap, cached in
# ${JOULES_CI_CACHE:-/var/cache/joules-ci} like the nspawn test's, with the package's dependencies
# already in it: the container has no network) boots in systemd-nspawn. A oneshot unit inside
# (ci-check.sh) drives apt-get and systemctl and writes what it saw to /ci-out; this script checks:
#   - apt-get install ./joules_*.deb: user and group joules, /var/lib/joules 0750 joules:joules,
#     /etc/joules/joulesd.conf a conffile, the units enabled, joulesd, joulesd.socket and
#     joules-exporter active; the exporter answers on loopback; joules status works for a user
#     added to group joules and is refused to one outside it
#   - an upgrade to the higher version: the history kept (no tick lost, the first one still
#     there), both daemons restarted (new MainPID, later ActiveEnterTimestamp), the
#     administrator's change to the conffile kept
#   - apt-get remove: the daemons stopped, the history kept (postrm says so)
#   - apt-get purge: postrm says it deletes the history; no unit, no file of the package, no
#     /etc/joules, /var/lib/joules or /run/joules, no process of user joules, and nothing new in
#     the file system apart from the system user (kept, as Debian does) and package-manager logs
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-nspawn.sh"

t_start=$(date +%s%N)

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, mounts, systemd-nspawn)"
for tool in systemd-nspawn debootstrap dpkg-deb; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (./dev.sh installs it)"
done
if readelf -d "$JOULESD" | grep -q 'NEEDED.*libasan'; then
  # The package is built from the source, not from this build: once per suite is enough.
  skip "sanitizer build: the package does not depend on it; the plain build runs this test"
fi

# --- the package, and the same repacked as a higher version ------------------------------------
debs=$SCRATCH/debs
mkdir -p "$debs"
if [ -n "${JOULES_DEB_DIR:-}" ]; then
  cp "$JOULES_DEB_DIR"/joules_*.deb "$debs/"
  note "package from $JOULES_DEB_DIR"
else
  for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (./dev.sh installs it)"
  done
  t=$(date +%s%N)
  "$JOULES_SRC/dev.sh" package "$SCRATCH/built" >"$SCRATCH/package.log" 2>&1 ||
    { tail -40 "$SCRATCH/package.log"; fail "./dev.sh package"; }
  cp "$SCRATCH"/built/joules_*.deb "$debs/"
  note "./dev.sh package (dpkg-buildpackage and lintian) took $(ms_since "$t") ms"
fi
set -- "$debs"/joules_*.deb
[ $# -eq 1 ] && [ -f "$1" ] || fail "want one joules_*.deb, found: $*"
deb1=$1
version=$(dpkg-deb -f "$deb1" Version)
arch=$(dpkg-deb -f "$deb1" Architecture)
[ "$(basename "$deb1")" = "joules_${version}_${arch}.deb" ] || fail "file name $(basename "$deb1")"
version2="$version+ci1"
dpkg --compare-versions "$version2" gt "$version" || fail "$version2 is not above $version"
dpkg-deb -R "$deb1" "$SCRATCH/repack"
sed -i "s/^Version: .*/Version: $version2/" "$SCRATCH/repack/DEBIAN/control"
deb2=$debs/joules_${version2}_${arch}.deb
dpkg-deb --root-owner-group -Zxz -b "$SCRATCH/repack" "$deb2" >/dev/null
chmod -R a+rX "$debs"
# The monitoring files: Prometheus rules that promtool accepts, a dashboard that is JSON.
mkdir -p "$SCRATCH/x"
dpkg-deb -x "$deb1" "$SCRATCH/x"
for f in usr/share/joules/joules.rules.yml usr/share/joules/joules-dashboard.json; do
  [ -f "$SCRATCH/x/$f" ] || fail "the package has no /$f"
done
jq -e '.panels | length > 0' "$SCRATCH/x/usr/share/joules/joules-dashboard.json" >/dev/null ||
  fail "/usr/share/joules/joules-dashboard.json: not a dashboard"
if command -v promtool >/dev/null; then
  promtool check rules "$SCRATCH/x/usr/share/joules/joules.rules.yml" >"$SCRATCH/promtool.log" 2>&1 ||
    { cat "$SCRATCH/promtool.log"; fail "promtool check rules /usr/share/joules/joules.rules.yml"; }
fi
note "packages: $(basename "$deb1"), repacked as $(basename "$deb2")"

# The exporter's endpoint, from the unit the package ships.
exporter_port=$(dpkg-deb --fsys-tarfile "$deb1" | tar -xOf - ./lib/systemd/system/joules-exporter.service 2>/dev/null |
  sed -n 's/^ExecStart=.*--listen[ =][^ ]*:\([0-9]*\).*/\1/p' | head -1 || true)
# joules-exporter's default, when the unit names no --listen.
exporter_port=${exporter_port:-29120}

# --- the cached root: the package's dependencies already installed ------------------------------
nspawn_lock
# Depends: the first of each alternative, without the version (the root is bookworm's).
deps=$(dpkg-deb -f "$deb1" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep .)
# curl and sqlite3 for the checks: the endpoint, and the history's row counts.
include=$(printf '%s\n' systemd systemd-sysv dbus curl sqlite3 "$deps" | sort -u | paste -sd, -)
nspawn_rootfs "$include"

# --- the container's root: an overlay over the cache ----------------------------------------
nspawn_machine joules-pkg
machine=$NSPAWN_MACHINE

cat >"$machine/etc/systemd/system/ci-check.service" <<'EOF'
[Unit]
Description=joules package checks
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/bash /ci-check.sh
TimeoutStartSec=240
ExecStopPost=/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/ci-check.service "$machine/etc/systemd/system/multi-user.target.wants/"
printf 'DEB1=/ci-deb/%s\nDEB2=/ci-deb/%s\nPORT=%s\n' "$(basename "$deb1")" "$(basename "$deb2")" \
  "$exporter_port" >"$machine/ci-env"
cat >"$machine/ci-check.sh" <<'CHECK'
# Inside the container: drives apt-get and systemctl, records facts (KEY=VALUE) and files in /ci-out.
set -u
. /ci-env
out=/ci-out
export DEBIAN_FRONTEND=noninteractive
fact() { echo "$1=$2" >>"$out/facts"; }
now_ms() { date +%s%3N; }
prop() { systemctl show -p "$2" --value "$1"; }
wait_until() { # wait_until SECONDS COMMAND...
  local end=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do [ "$(now_ms)" -lt "$end" ] || return 1; sleep 0.2; done
}
db=/var/lib/joules/joules.db
sql() { sqlite3 -readonly "$db" "$1" 2>>"$out/sqlite.err"; }
has_ticks() { [ "$(sql 'SELECT count(*) FROM ticks')" -ge "$1" ] 2>/dev/null; }
# Every path in the file system but the kernel's, the mounts of the test and the ephemeral ones.
snapshot() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
    -o -path /ci-out -o -path /ci-deb -o -path /var/log -o -path /var/cache/apt \
    -o -path /var/lib/apt/lists \) -prune -o -print | sort >"$1"
}
# Processes of user joules, or named joulesd or joules-exporter (a DynamicUser= of its own).
# pgrep is in procps, which minbase leaves out.
procs_of_joules() {
  local n=0 p
  for p in /proc/[0-9]*; do
    if [ "$(stat -c %U "$p" 2>/dev/null)" = joules ] ||
      grep -qx -e joulesd -e joules-exporter "$p/comm" 2>/dev/null; then
      n=$((n + 1))
    fi
  done
  echo "$n"
}
units_state() { # unit1 unit2 ...: "active/enabled active/enabled ..."
  local u s=""
  for u in "$@"; do s="$s $(systemctl is-active "$u")/$(systemctl is-enabled "$u" 2>/dev/null)"; done
  echo "${s# }"
}
fact boot "$(systemctl is-system-running)"
systemd-run --quiet --unit=ci-journal -p StandardOutput=file:/ci-out/journal.txt \
  journalctl -f -b -o short-monotonic --no-pager
snapshot "$out/files-before.txt"

# install
t=$(now_ms)
apt-get install -y --no-install-recommends "$DEB1" >"$out/install.txt" 2>&1
fact install_rc $?
fact install_ms $(($(now_ms) - t))
fact version1 "$(dpkg-query -W -f='${Version} ${db:Status-Status}' joules)"
fact user "$(getent passwd joules | cut -d: -f1,6,7)"
fact group "$(getent group joules | cut -d: -f1)"
fact statedir "$(stat -c '%a %U:%G' /var/lib/joules)"
fact shared "$(ls /usr/share/joules | paste -sd' ')"
fact conffiles "$(dpkg-query -W -f='${Conffiles}' joules | awk 'NF { print $1 }' | paste -sd' ')"
fact units "$(units_state joulesd.service joulesd.socket joules-exporter.service)"
fact socket_file "$(stat -c '%F %a %U:%G' /run/joules/ingest.sock 2>&1)"
wait_until 10 has_ticks 3
fact ticks_waited $?
journalctl -u joulesd -o cat --no-pager >"$out/joulesd-install.txt"
# the exporter's endpoint
wait_until 10 curl -sf -o "$out/metrics.txt" "http://127.0.0.1:$PORT/metrics"
fact metrics_rc $?
# joules status: a user added to group joules, and one outside it
useradd -m -G joules ci-member
useradd -m ci-other
runuser -u ci-member -- joules status >"$out/status-member.txt" 2>&1
fact status_member_rc $?
runuser -u ci-other -- joules status >"$out/status-other.txt" 2>&1
fact status_other_rc $?

# upgrade: the administrator changed the configuration first
sed -i 's/^#interval = 1s$/interval = 500ms/' /etc/joules/joulesd.conf
systemctl restart joulesd
fact conf_changed "$(grep -c '^interval = 500ms$' /etc/joules/joulesd.conf)"
wait_until 10 has_ticks 6
pid1=$(prop joulesd MainPID)
enter1=$(prop joulesd ActiveEnterTimestampMonotonic)
xpid1=$(prop joules-exporter MainPID)
xenter1=$(prop joules-exporter ActiveEnterTimestampMonotonic)
ticks1=$(sql 'SELECT count(*) FROM ticks')
first1=$(sql 'SELECT min(ts_us) FROM ticks')
runs1=$(sql 'SELECT count(*) FROM runs')
t=$(now_ms)
apt-get install -y --no-install-recommends "$DEB2" >"$out/upgrade.txt" 2>&1
fact upgrade_rc $?
fact upgrade_ms $(($(now_ms) - t))
fact version2 "$(dpkg-query -W -f='${Version} ${db:Status-Status}' joules)"
fact units2 "$(units_state joulesd.service joulesd.socket joules-exporter.service)"
fact restarted "$pid1 $(prop joulesd MainPID) $enter1 $(prop joulesd ActiveEnterTimestampMonotonic)"
fact xrestarted "$xpid1 $(prop joules-exporter MainPID) $xenter1 $(prop joules-exporter ActiveEnterTimestampMonotonic)"
fact conf_kept "$(grep -c '^interval = 500ms$' /etc/joules/joulesd.conf)"
wait_until 10 has_ticks $((ticks1 + 2))
fact history "$ticks1 $(sql 'SELECT count(*) FROM ticks') $first1 $(sql 'SELECT min(ts_us) FROM ticks') $runs1 $(sql 'SELECT count(*) FROM runs')"
wait_until 10 curl -sf -o "$out/metrics2.txt" "http://127.0.0.1:$PORT/metrics"
fact metrics2_rc $?

# remove: stopped, history kept
apt-get remove -y joules >"$out/remove.txt" 2>&1
fact remove_rc $?
fact units_removed "$(units_state joulesd.service joulesd.socket joules-exporter.service)"
fact removed_history "$(sql 'SELECT count(*) FROM ticks')"
fact removed_procs "$(procs_of_joules)"

# purge: nothing left
apt-get purge -y joules >"$out/purge.txt" 2>&1
fact purge_rc $?
fact purged_status "$(dpkg-query -W -f='${db:Status-Status}' joules 2>&1)"
fact purged_procs "$(procs_of_joules)"
fact purged_units "$(systemctl list-unit-files --no-legend 'joules*' | wc -l) $(systemctl list-units --all --no-legend 'joules*' | grep -vc 'not-found')"
for p in /etc/joules /var/lib/joules /run/joules /usr/share/doc/joules /usr/share/joules /lib/systemd/system/joulesd.service \
  /lib/systemd/system/joulesd.socket /lib/systemd/system/joules-exporter.service /usr/sbin/joulesd \
  /usr/bin/joules /usr/lib/sysusers.d/joules.conf /usr/lib/tmpfiles.d/joules.conf; do
  [ -e "$p" ] && echo "$p" >>"$out/purge-left.txt"
done
find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /ci-out -o -path /ci-deb \) -prune \
  -o -name '*joules*' -print >>"$out/purge-named.txt" 2>/dev/null
snapshot "$out/files-after.txt"
fact user_after_purge "$(getent passwd joules | cut -d: -f1)"
fact done 1
CHECK

# --- boot ---------------------------------------------------------------------------------------
if ! systemd-nspawn -q -D "$machine" --register=no --keep-unit --console=pipe /bin/true \
  >"$SCRATCH/probe.log" 2>&1; then
  skip "systemd-nspawn cannot run a container here: $(tr '\n' ' ' <"$SCRATCH/probe.log")"
fi
nspawn_remove_leftover_cgroups
outdir=$SCRATCH/out
mkdir -p "$outdir"
t_boot=$(date +%s%N)
rc=0
# --private-network: no mirror to fall back on (the dependencies must be in the root), and the
# exporter's port is the container's own.
timeout -k 10 280 systemd-nspawn -q -D "$machine" -M joules-pkg --boot --register=no --keep-unit \
  --console=pipe --private-network --capability=CAP_PERFMON --system-call-filter=perf_event_open \
  --bind="$outdir:/ci-out" --bind-ro="$debs:/ci-deb" >"$SCRATCH/boot.log" 2>&1 || rc=$?
boot_ms=$(ms_since "$t_boot")
facts=$outdir/facts
if [ ! -s "$facts" ]; then
  tail -30 "$SCRATCH/boot.log"
  tail -30 "$outdir/journal.txt" 2>/dev/null
  fail "the container ran no checks (systemd-nspawn exit $rc)"
fi
[ "$rc" -eq 0 ] || note "systemd-nspawn exited $rc"
fact() { sed -n "s/^$1=//p" "$facts" | tail -1; }
show() { echo "--- $1:" >&2; tail -30 "$outdir/$1" >&2 2>/dev/null || true; }
[ "$(fact done)" = 1 ] || { cat "$facts"; show journal.txt; fail "the checks inside did not finish"; }
note "container: booted, installed, upgraded and purged in $boot_ms ms"

# install
[ "$(fact install_rc)" = 0 ] || { show install.txt; fail "apt-get install ./$(basename "$deb1")"; }
[ "$(fact version1)" = "$version installed" ] || fail "after install: $(fact version1)"
note "apt-get install took $(fact install_ms) ms, offline (the dependencies were in the root)"
[ "$(fact user)" = "joules:/var/lib/joules:/usr/sbin/nologin" ] || fail "user: $(fact user)"
[ "$(fact group)" = joules ] || fail "group: $(fact group)"
[ "$(fact statedir)" = "750 joules:joules" ] || fail "/var/lib/joules is $(fact statedir)"
[ "$(fact conffiles)" = /etc/joules/joulesd.conf ] || fail "conffiles: '$(fact conffiles)'"
[ "$(fact shared)" = "joules-dashboard.json joules.rules.yml" ] || fail "/usr/share/joules: $(fact shared)"
want="active/enabled active/enabled active/enabled"
[ "$(fact units)" = "$want" ] || { show journal.txt; fail "after install, joulesd/socket/exporter: $(fact units)"; }
# root:joules as joulesd.socket makes it, or joules:joules when joulesd's start then chowns its
# RuntimeDirectory= (which the socket unit created first) recursively: the same senders.
case "$(fact socket_file)" in
  "socket 660 root:joules" | "socket 660 joules:joules") ;;
  *) fail "ingest.sock: $(fact socket_file)" ;;
esac
grep -q '(socket from systemd)' "$outdir/joulesd-install.txt" ||
  { show joulesd-install.txt; fail "joulesd did not take the ingest socket from joulesd.socket"; }
[ "$(fact ticks_waited)" = 0 ] || { show joulesd-install.txt; show sqlite.err; fail "no ticks in the history"; }
note "installed: user and group joules, /var/lib/joules 750, conffile /etc/joules/joulesd.conf, /usr/share/joules: $(fact shared), units: $want"
[ "$(fact metrics_rc)" = 0 ] || { show journal.txt; fail "the exporter does not answer on 127.0.0.1:$exporter_port/metrics"; }
grep -q '^joules_' "$outdir/metrics.txt" || fail "no joules_ metric from the exporter: $(head -5 "$outdir/metrics.txt")"
note "exporter: 127.0.0.1:$exporter_port/metrics answers, $(grep -c '^joules_' "$outdir/metrics.txt") joules_ samples"
[ "$(fact status_member_rc)" = 0 ] || fail "joules status in group joules: $(cat "$outdir/status-member.txt")"
grep -q ' W' "$outdir/status-member.txt" || fail "joules status as a member: $(cat "$outdir/status-member.txt")"
[ "$(fact status_other_rc)" != 0 ] || fail "joules status worked for a user outside group joules"
note "joules status: works for a user added to group joules; outside: $(head -1 "$outdir/status-other.txt")"

# upgrade
[ "$(fact upgrade_rc)" = 0 ] || { show upgrade.txt; fail "apt-get install ./$(basename "$deb2")"; }
[ "$(fact version2)" = "$version2 installed" ] || fail "after the upgrade: $(fact version2)"
[ "$(fact units2)" = "$want" ] || fail "after the upgrade: $(fact units2)"
read -r p1 p2 e1 e2 <<<"$(fact restarted)"
[ "$p1" != 0 ] && [ "$p2" != 0 ] && [ "$p1" != "$p2" ] && [ "$e2" -gt "$e1" ] ||
  fail "joulesd not restarted by the upgrade: MainPID $p1 -> $p2, ActiveEnterTimestampMonotonic $e1 -> $e2"
read -r xp1 xp2 xe1 xe2 <<<"$(fact xrestarted)"
[ "$xp1" != 0 ] && [ "$xp2" != 0 ] && [ "$xp1" != "$xp2" ] && [ "$xe2" -gt "$xe1" ] ||
  fail "joules-exporter not restarted by the upgrade: MainPID $xp1 -> $xp2, ActiveEnterTimestampMonotonic $xe1 -> $xe2"
[ "$(fact conf_changed)" = 1 ] || fail "the test could not change the conffile"
[ "$(fact conf_kept)" = 1 ] || fail "the upgrade lost the administrator's change to /etc/joules/joulesd.conf"
read -r n1 n2 f1 f2 r1 r2 <<<"$(fact history)"
[ "$n2" -ge "$n1" ] && [ "$f1" = "$f2" ] && [ "$r2" -gt "$r1" ] ||
  fail "history across the upgrade: ticks $n1 -> $n2, first tick $f1 -> $f2, runs $r1 -> $r2"
[ "$(fact metrics2_rc)" = 0 ] || fail "the exporter does not answer after the upgrade"
note "upgrade $version -> $version2 in $(fact upgrade_ms) ms: joulesd pid $p1 -> $p2, exporter pid $xp1 -> $xp2; ticks $n1 -> $n2 (first kept), runs $r1 -> $r2; conffile change kept"

# remove
[ "$(fact remove_rc)" = 0 ] || { show remove.txt; fail "apt-get remove"; }
case " $(fact units_removed)" in
  *" active/"* | *" activating/"* | *" deactivating/"*) fail "after remove: $(fact units_removed)" ;;
esac
[ "$(fact removed_procs)" = 0 ] || fail "$(fact removed_procs) process(es) of user joules after remove"
[ "$(fact removed_history)" -ge "$n2" ] 2>/dev/null || fail "remove lost the history ($(fact removed_history) ticks)"
grep -q 'history in /var/lib/joules is kept' "$outdir/remove.txt" || { show remove.txt; fail "postrm remove does not say the history is kept"; }
note "remove: daemons stopped, $(fact removed_history) ticks kept; postrm: $(grep -o 'joules: the history.*' "$outdir/remove.txt")"

# purge
[ "$(fact purge_rc)" = 0 ] || { show purge.txt; fail "apt-get purge"; }
grep -q 'purge: deleting the history in /var/lib/joules' "$outdir/purge.txt" || { show purge.txt; fail "postrm purge does not say it deletes the history"; }
[ "$(fact purged_status)" != installed ] || fail "joules still installed after purge"
[ "$(fact purged_procs)" = 0 ] || fail "$(fact purged_procs) process(es) of user joules after purge"
[ "$(fact purged_units)" = "0 0" ] || fail "unit files / loaded units after purge: $(fact purged_units)"
[ ! -s "$outdir/purge-left.txt" ] || fail "left after purge: $(paste -sd' ' "$outdir/purge-left.txt")"
# The test's own users' homes hold nothing of the package's; any other name with joules in it does.
left=$(grep -v -e '^/home/ci-' "$outdir/purge-named.txt" || true)
[ -z "$left" ] || fail "named *joules* after purge: $(echo "$left" | paste -sd' ')"
# New paths since before the install, apart from the accounts (the kept system user, the test's
# two users and their homes) and dpkg's and apt's own records.
new=$(comm -13 "$outdir/files-before.txt" "$outdir/files-after.txt" |
  grep -v -E '^/(home/ci-(member|other)(/.*)?|etc/(passwd|group|shadow|gshadow|subuid|subgid)-?|var/lib/dpkg(/.*)?|var/lib/apt(/.*)?|var/cache/debconf(/.*)?|var/lib/systemd(/.*)?|var/cache/ldconfig(/.*)?)$' || true)
[ -z "$new" ] || fail "new paths after purge: $(echo "$new" | paste -sd' ')"
[ "$(fact user_after_purge)" = joules ] || note "user joules is gone after purge"
note "purge: no unit, file, directory or process left (user joules kept, as Debian keeps system users)"
echo "ok: package test took $(ms_since "$t_start") ms (container $boot_ms ms)"

# What `cmake --install` ships for systemd, checked without booting anything:
#   - the file layout Debian expects with --prefix /usr (DESTDIR install), ExecStart= naming the
#     installed joulesd, an administrator's /etc/joules/joulesd.conf kept on reinstall
#   - `systemd-analyze verify` of the installed units prints nothing (it only warns, exit 0, on
#     an unknown key: any output fails), against an install whose paths really exist
#   - `systemd-analyze security --offline=yes` exposure <= 2.5 (printed); joules-exporter's
#     <= 2.0, with no capabilities at all and read-only access to /var/lib/joules
#   - sysusers.d and tmpfiles.d entries applied to a scratch root
#   - a bad config file: FILE:LINE: reason and exit 78, at start-up and with --check-config
#   - every config key in the example file and joulesd.conf(5), and the example's commented-out
#     values are the real defaults; every joulesd option in joulesd(8), every joules command in
#     joules(1); man pages render without warnings; bash completion answers from --help
source "$JOULES_SRC/tests/lib.sh"

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed (./dev.sh installs it)"
BUILD=$(dirname "$JOULES_BIN")
[ -f "$BUILD/cmake_install.cmake" ] || fail "no cmake_install.cmake in $BUILD"

# --- layout with --prefix /usr -------------------------------------------------------------
root=$SCRATCH/root
DESTDIR=$root cmake --install "$BUILD" --prefix /usr >"$SCRATCH/install.log" ||
  { cat "$SCRATCH/install.log"; fail "cmake --install failed"; }
for f in usr/sbin/joulesd usr/bin/joules usr/sbin/joules-exporter \
  usr/lib/systemd/system/joulesd.service usr/lib/systemd/system/joulesd.socket \
  usr/lib/systemd/system/joules-exporter.service usr/share/man/man8/joules-exporter.8 \
  usr/lib/sysusers.d/joules.conf usr/lib/tmpfiles.d/joules.conf \
  etc/joules/joulesd.conf usr/share/doc/joules/joulesd.conf.example \
  usr/share/man/man1/joules.1 usr/share/man/man5/joulesd.conf.5 usr/share/man/man8/joulesd.8 \
  usr/share/bash-completion/completions/joules usr/share/bash-completion/completions/joulesd; do
  [ -f "$root/$f" ] || fail "cmake --install did not install /$f"
done
[ -x "$root/usr/sbin/joulesd" ] && [ -x "$root/usr/bin/joules" ] || fail "binaries not executable"
exec_start=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/joulesd.service")
[ "$exec_start" = /usr/sbin/joulesd ] || fail "ExecStart=$exec_start (want /usr/sbin/joulesd)"
exec_start=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/joules-exporter.service")
[ "$exec_start" = /usr/sbin/joules-exporter ] ||
  fail "joules-exporter ExecStart=$exec_start (want /usr/sbin/joules-exporter)"
note "installed $(wc -l <"$BUILD/install_manifest.txt") files; ExecStart=$exec_start"

echo '[daemon]' >"$root/etc/joules/joulesd.conf"
DESTDIR=$root cmake --install "$BUILD" --prefix /usr >/dev/null
[ "$(cat "$root/etc/joules/joulesd.conf")" = '[daemon]' ] || fail "reinstall overwrote /etc/joules/joulesd.conf"

# --- sysusers.d, tmpfiles.d ------------------------------------------------------------------
systemd-sysusers --root="$root" >"$SCRATCH/sysusers.log" 2>&1 ||
  { cat "$SCRATCH/sysusers.log"; fail "systemd-sysusers"; }
grep -q '^joules:x:[0-9]*:[0-9]*:.*:/var/lib/joules:/usr/sbin/nologin$' "$root/etc/passwd" ||
  fail "no joules system user: $(cat "$root/etc/passwd")"
grep -q '^joules:x:' "$root/etc/group" || fail "no joules group"
systemd-tmpfiles --root="$root" --create "$root/usr/lib/tmpfiles.d/joules.conf" ||
  fail "systemd-tmpfiles --create"
uid=$(awk -F: '$1 == "joules" { print $3 }' "$root/etc/passwd")
[ "$(stat -c '%a %u' "$root/var/lib/joules")" = "750 $uid" ] ||
  fail "/var/lib/joules is $(stat -c '%a %u' "$root/var/lib/joules")"

# --- systemd-analyze -------------------------------------------------------------------------
# An install whose paths are real on this machine: ExecStart= names the installed joulesd (and
# --config its installed file), MANPATH finds the installed pages for Documentation=man:...
p=$SCRATCH/prefix
cmake --install "$BUILD" --prefix "$p" >/dev/null
units="$p/lib/systemd/system/joulesd.service $p/lib/systemd/system/joulesd.socket
  $p/lib/systemd/system/joules-exporter.service"
# shellcheck disable=SC2086
MANPATH=$p/share/man: SYSTEMD_LOG_COLOR=0 systemd-analyze verify $units >"$SCRATCH/verify.out" 2>&1 ||
  { cat "$SCRATCH/verify.out"; fail "systemd-analyze verify failed"; }
[ -s "$SCRATCH/verify.out" ] && { cat "$SCRATCH/verify.out"; fail "systemd-analyze verify printed something"; }
note "systemd-analyze verify: clean ($(systemd-analyze --version | head -1))"

systemd-analyze security --offline=yes --no-pager "$p/lib/systemd/system/joulesd.service" \
  >"$SCRATCH/security.out" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for joulesd.service: \([0-9.]*\).*/\1/p' "$SCRATCH/security.out")
[ -n "$exposure" ] || { cat "$SCRATCH/security.out"; fail "no exposure level"; }
echo "systemd-analyze security --offline=yes: exposure $exposure (at most 2.5)"
grep '✗' "$SCRATCH/security.out" | sed -E 's/ {2,}/  /g' >&2 || true
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' || fail "exposure $exposure is above 2.5"

# joules-exporter parses HTTP: no capabilities at all, nothing writable, the history read-only.
unit=$p/lib/systemd/system/joules-exporter.service
systemd-analyze security --offline=yes --no-pager "$unit" >"$SCRATCH/security-exporter.out" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for joules-exporter.service: \([0-9.]*\).*/\1/p' \
  "$SCRATCH/security-exporter.out")
[ -n "$exposure" ] || { cat "$SCRATCH/security-exporter.out"; fail "no exposure level for joules-exporter"; }
echo "joules-exporter: systemd-analyze security --offline=yes: exposure $exposure (at most 2.0)"
grep '✗' "$SCRATCH/security-exporter.out" | sed -E 's/ {2,}/  /g' >&2 || true
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "joules-exporter exposure $exposure is above 2.0"
grep -qx 'CapabilityBoundingSet=' "$unit" || fail "joules-exporter.service keeps capabilities"
grep -qx 'BindReadOnlyPaths=-/var/lib/joules' "$unit" || fail "joules-exporter.service: history not read-only"
grep -q '^ReadWritePaths=\|^StateDirectory=\|^AmbientCapabilities=.' "$unit" &&
  fail "joules-exporter.service may write somewhere or gains capabilities"
grep -qx 'SupplementaryGroups=joules' "$unit" || fail "joules-exporter.service is not in group joules"

# --- every key documented, the example's values are the defaults -----------------------------
example=$JOULES_SRC/systemd/joulesd.conf.example
man5=$JOULES_SRC/man/joulesd.conf.5
# All keys, the per-unit [requests "UNIT"] ones too (they are dumped only when configured).
cat >"$SCRATCH/all.conf" <<'EOF'
[requests "a.service"]
scrape_url = http://127.0.0.1:1/metrics
scrape_metric = x_total
access_log = /var/log/a.log
access_log_filter = x
EOF
"$JOULESD" --dump-config --config "$SCRATCH/all.conf" >"$SCRATCH/all.dump" || fail "--dump-config"
section=""
while read -r line; do
  case $line in
    '['*) section=${line#[}; section=${section%]}; section=${section%% *} ;;
    '#'* | '') ;;
    *)
      key=${line%% =*}
      grep -Eq "^#?#?$key =" "$example" || fail "$section.$key is not in $example"
      grep -Eq "^\.BI $key \" = " "$man5" || fail "$section.$key is not in joulesd.conf(5)"
      grep -Eq "^\.SH \[$section" "$man5" || fail "section [$section] is not in joulesd.conf(5)"
      ;;
  esac
done <"$SCRATCH/all.dump"
# Uncommented, the example's general keys are exactly the defaults, and the whole file is valid.
awk '/^#\[requests/ { exit } { print }' "$example" | sed -E 's/^#([a-z_]+ =)/\1/' >"$SCRATCH/uncommented.conf"
: >"$SCRATCH/empty.conf"
diff <("$JOULESD" --dump-config --config "$SCRATCH/empty.conf") \
  <("$JOULESD" --dump-config --config "$SCRATCH/uncommented.conf") >&2 ||
  fail "the example's commented-out values are not the defaults"
sed -E 's/^#([a-z_]+ =|\[requests)/\1/' "$example" >"$SCRATCH/requests.conf"
"$JOULESD" --check-config --config "$SCRATCH/requests.conf" >/dev/null ||
  fail "the example with everything uncommented is not valid"
"$JOULESD" --check-config --config "$example" >/dev/null || fail "the example is not valid"

# --- a bad file stops start-up with FILE:LINE: reason and 78 (RestartPreventExitStatus=78) ----
printf '[daemon]\ninterval = 1s\n[energy]\nsource = magic\n' >"$SCRATCH/bad.conf"
for args in "--check-config" "--db $SCRATCH/never.db --duration 1s"; do
  rc=0
  # shellcheck disable=SC2086
  "$JOULESD" --config "$SCRATCH/bad.conf" $args >/dev/null 2>"$SCRATCH/bad.err" || rc=$?
  [ "$rc" = 78 ] || fail "joulesd $args with a bad file exited $rc, want 78"
  grep -q "$SCRATCH/bad.conf:4: energy.source: 'magic' is not an energy source" "$SCRATCH/bad.err" ||
    fail "no FILE:LINE: reason: $(cat "$SCRATCH/bad.err")"
done
[ ! -e "$SCRATCH/never.db" ] || fail "joulesd started with a bad file"
rc=0
"$JOULESD" --check-config --config "$SCRATCH/empty.conf" --interval soon 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "a bad flag exited $rc, want 2"

# --- options and commands in the man pages; the pages render cleanly -------------------------
for opt in $("$JOULESD" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  grep -q -- "$(echo "$opt" | sed 's/-/\\\\-/g')" "$JOULES_SRC/man/joulesd.8" || fail "joulesd $opt is not in joulesd(8)"
done
for cmd in $("$JOULES" --help | awk '/^Commands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && NF { print $1 }'); do
  grep -q "^\.B $cmd\$" "$JOULES_SRC/man/joules.1" || fail "joules $cmd is not in joules(1)"
done
for opt in $("$JOULES_BIN/joules-exporter" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  grep -q -- "$(echo "$opt" | sed 's/-/\\\\-/g')" "$JOULES_SRC/man/joules-exporter.8" ||
    fail "joules-exporter $opt is not in joules-exporter(8)"
done
for page in man/joulesd.8 man/joules.1 man/joulesd.conf.5 man/joules-exporter.8; do
  warnings=$(groff -man -ww -z -t "$JOULES_SRC/$page" 2>&1)
  [ -z "$warnings" ] || fail "$page: $warnings"
done

# --- bash completion -------------------------------------------------------------------------
got=$(PATH=$JOULES_BIN:$PATH bash -c '
  compopt() { :; }
  source "$1"
  c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); "_$1"; echo "${COMPREPLY[*]}"; }
  c joules ""; c joules services --si; c joulesd --log-level ""; c joulesd --check' _ \
  "$root/usr/share/bash-completion/completions/joules")
want=$(printf '%s\n' "$("$JOULES" --help | awk '/^Commands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && NF { printf "%s%s", s, $1; s = " " }')" \
  --since "error warning notice info debug" --check-config)
[ "$got" = "$want" ] || fail "bash completion: got
$got
want
$want"
echo "ok"

# A real Debian 12 systemd booted in systemd-nspawn, for the tests that need one
# (systemd-nspawn.sh, package.sh). Sourced after tests/lib.sh (uses SCRATCH, CLEANUP, note, fail).
#
#   nspawn_lock                   serializes the runs that share the cache of roots
#   nspawn_rootfs PKG,PKG,...     a bookworm minbase root with those packages, debootstrapped once
#                                 and cached by package list; sets NSPAWN_ROOTFS
#   nspawn_machine NAME           a throw-away overlay over that root in the scratch directory
#                                 (a copy where overlayfs is missing); sets NSPAWN_MACHINE, and
#                                 removes the cgroups a --keep-unit run leaves behind
# The cache is JOULES_CI_CACHE, default /var/cache/joules-ci; a root unused for a week is removed.

NSPAWN_CACHE=${JOULES_CI_CACHE:-/var/cache/joules-ci}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

nspawn_lock() {
  mkdir -p "$NSPAWN_CACHE"
  exec 9>"$NSPAWN_CACHE/lock"
  flock -w 600 9 || fail "another run holds $NSPAWN_CACHE/lock"
}

nspawn_rootfs() {
  local include=$1 key t old
  key=$(echo "bookworm minbase $include" | sha256sum | cut -c1-16)
  NSPAWN_ROOTFS=$NSPAWN_CACHE/rootfs-$key
  if [ ! -f "$NSPAWN_ROOTFS/.complete" ]; then
    note "debootstrap bookworm into $NSPAWN_ROOTFS (--include=$include)"
    t=$(date +%s%N)
    rm -rf "$NSPAWN_ROOTFS" "$NSPAWN_ROOTFS.tmp"
    debootstrap --variant=minbase --include="$include" bookworm "$NSPAWN_ROOTFS.tmp" \
      >"$SCRATCH/debootstrap.log" 2>&1 || { tail -20 "$SCRATCH/debootstrap.log"; fail "debootstrap failed"; }
    touch "$NSPAWN_ROOTFS.tmp/.complete"
    mv "$NSPAWN_ROOTFS.tmp" "$NSPAWN_ROOTFS"
    note "debootstrap took $(ms_since "$t") ms"
  else
    note "cached root $NSPAWN_ROOTFS"
  fi
  # Roots of other package lists (other builds) are kept a week after their last use.
  touch "$NSPAWN_ROOTFS/.complete"
  find "$NSPAWN_CACHE" -maxdepth 2 -path "$NSPAWN_CACHE/rootfs-*/.complete" -mtime +7 -printf '%h\n' |
    while read -r old; do rm -rf "$old"; done
}

# The cgroups nspawn --keep-unit leaves beside ours: cgroup v2 (unified or hybrid) and the v1
# name=systemd hierarchy, at our own cgroup's path.
nspawn_leftover_cgroups() {
  local own mnt
  own=$(sed -n 's/^0:://p' /proc/self/cgroup)
  mnt=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo)
  [ -n "$mnt" ] && echo "$mnt${own%/}/payload" "$mnt${own%/}/supervisor"
  own=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
  mnt=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i + 1) == "cgroup" && $(i + 3) ~ /name=systemd/) { print $5; exit } }' /proc/self/mountinfo)
  [ -n "$mnt" ] && [ -n "$own" ] && echo "$mnt${own%/}/payload" "$mnt${own%/}/supervisor"
  return 0
}
nspawn_remove_leftover_cgroups() {
  local d
  for d in $(nspawn_leftover_cgroups); do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$d" ] && echo "warning: could not remove $d" >&2
  done
  return 0
}

nspawn_machine() {
  nspawn_remove_leftover_cgroups
  CLEANUP+=("nspawn_remove_leftover_cgroups")
  NSPAWN_MACHINE=$SCRATCH/$1
  mkdir -p "$NSPAWN_MACHINE" "$SCRATCH/upper" "$SCRATCH/work"
  if mount -t overlay overlay -o "lowerdir=$NSPAWN_ROOTFS,upperdir=$SCRATCH/upper,workdir=$SCRATCH/work" \
    "$NSPAWN_MACHINE" 2>/dev/null; then
    CLEANUP=("umount -l '$NSPAWN_MACHINE'" "${CLEANUP[@]}")
  else
    note "overlayfs unavailable: copying the root"
    cp -a "$NSPAWN_ROOTFS/." "$NSPAWN_MACHINE/"
  fi
}

# The history under faults:
#  - a corrupt database: the CLI says so and how to recover; joulesd moves the file aside (never
#    deletes it), starts a new history and logs both paths;
#  - a full disk (a 2 MiB tmpfs filled up while joulesd writes): joulesd keeps sampling, logs the
#    problem once, holds the ticks in memory and writes them when space returns, losing none;
#  - a reader without write access (another user, group read only) while the daemon writes:
#    never "database is locked".
source "$JOULES_SRC/tests/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (tmpfs mount, other users)"

# 1. corrupt
db=$SCRATCH/corrupt.db
head -c 65536 /dev/urandom >"$db"
cp "$db" "$SCRATCH/corrupt.orig"
rc=0
"$JOULES" --db "$db" status 2>"$SCRATCH/cli.err" || rc=$?
[ "$rc" -eq 1 ] || fail "CLI on a corrupt file: exit $rc"
grep -q "not a valid joules database" "$SCRATCH/cli.err" || fail "CLI: $(cat "$SCRATCH/cli.err")"
grep -q "Move it aside" "$SCRATCH/cli.err" || fail "CLI gives no way out: $(cat "$SCRATCH/cli.err")"
"$JOULESD" --db "$db" --interval 100ms --energy-source model --duration 0.5s 2>"$SCRATCH/d.err" ||
  fail "joulesd on a corrupt file: $(cat "$SCRATCH/d.err")"
aside=$(ls "$SCRATCH"/corrupt.db.corrupt-* 2>/dev/null | head -n1)
[ -n "$aside" ] || fail "nothing moved aside"
cmp -s "$aside" "$SCRATCH/corrupt.orig" || fail "the corrupt file was changed"
grep -q "moved it to $aside" "$SCRATCH/d.err" || fail "log does not name both paths: $(cat "$SCRATCH/d.err")"
[ "$("$JOULES" --db "$db" status --json | jq .host.samples)" -ge 3 ] || fail "no new history"

# 2. full disk
mnt=$SCRATCH/small
mkdir -p "$mnt"
mount -t tmpfs -o size=2m tmpfs "$mnt" || skip "cannot mount a tmpfs here"
CLEANUP+=("umount -l '$mnt'")
db=$mnt/full.db
# Committing every 0.5 s, so that commits fail while the disk is full: the tick journal's file
# has its blocks already (it is mapped, preallocated) and goes on taking ticks meanwhile.
"$JOULESD" --db "$db" --interval 50ms --commit-interval 500ms --energy-source model --events none \
  2>"$SCRATCH/full.err" &
pid=$!
CLEANUP+=("kill $pid 2>/dev/null")
sleep 1
start_us=$(($(date +%s%N) / 1000))
dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null || true # fills the file system
sleep 3
kill -0 $pid || fail "joulesd died on a full disk: $(cat "$SCRATCH/full.err")"
rm -f "$mnt/filler"
sleep 2
kill -TERM $pid
wait $pid || fail "joulesd exit $? after the disk filled"
errors=$(grep -c "writing $db: " "$SCRATCH/full.err" || true)
[ "$errors" -eq 1 ] || fail "the full disk was logged $errors times: $(cat "$SCRATCH/full.err")"
grep -q "writing $db works again" "$SCRATCH/full.err" ||
  fail "recovery not logged: $(cat "$SCRATCH/full.err")"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check after a full disk"
# no tick lost: consecutive ticks of the run leave no hole while the disk was full
holes=$(sqlite3 "$db" "SELECT COUNT(*) FROM ticks a JOIN ticks b ON b.id = a.id + 1
  WHERE b.ts_us - a.ts_us > 400000 AND a.ts_us > $start_us - 1000000")
[ "$holes" = 0 ] || fail "$holes holes in the ticks written after the disk was full"
n=$(sqlite3 "$db" "SELECT COUNT(*) FROM ticks WHERE ts_us BETWEEN $start_us AND $start_us + 3000000")
[ "$n" -ge 40 ] || fail "only $n ticks stored for the 3 s the disk was full"
cat "$SCRATCH/full.err" >&2

# 3. an unprivileged reader with group read access, while the daemon writes
chmod 0711 "$SCRATCH"
dir=$SCRATCH/shared
mkdir -p "$dir"
chgrp 65534 "$dir"
chmod 0750 "$dir"
db=$dir/j.db
(umask 0027 && exec "$JOULESD" --db "$db" --interval 50ms --energy-source model 2>/dev/null) &
pid=$!
CLEANUP+=("kill $pid 2>/dev/null")
sleep 0.5
chgrp 65534 "$db" "$db"-wal "$db"-shm 2>/dev/null || true
for i in $(seq 40); do
  out=$(setpriv --reuid=65534 --regid=65534 --groups=65534 \
    "$JOULES" --db "$db" status --json 2>&1) || fail "reader failed on try $i: $out"
  echo "$out" | grep -q "locked" && fail "database is locked: $out"
  sleep 0.05
done
kill -TERM $pid
wait $pid || true
echo ok

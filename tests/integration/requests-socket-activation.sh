# The ingest socket passed by systemd (socket activation, LISTEN_FDS): joulesd uses it instead of
# creating its own, takes counts from it, and leaves the socket file to its owner at exit.
# systemd-socket-activate stands in for joulesd.socket (ListenDatagram=). It starts joulesd on the
# first datagram, which was queued before joulesd set SO_PASSCRED: that one has no credentials and
# is rejected (joulesd.socket sets PassCredentials=yes so that cannot happen under systemd).
source "$JOULES_SRC/tests/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "no systemd-socket-activate"

db=$SCRATCH/joules.db
sock=$SCRATCH/ingest.sock
SEND=$JOULES_TESTS_BIN/ingest-send

systemd-socket-activate -d -l "$sock" -- "$JOULESD" --config /dev/null --db "$db" \
  --interval 200ms --energy-source model --events none --ingest-socket "$sock" \
  2>"$SCRATCH/joulesd.err" &
act=$!
CLEANUP+=("kill $act 2>/dev/null; wait $act 2>/dev/null")
wait_for_file "$sock" 5 || fail "systemd-socket-activate did not listen"
"$SEND" --socket "$sock" --count 1 >/dev/null # starts joulesd
for _ in $(seq 100); do grep -q "counting requests" "$SCRATCH/joulesd.err" && break; sleep 0.05; done
grep -q "counting requests sent to $sock (socket from systemd)" "$SCRATCH/joulesd.err" ||
  { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not take the socket from systemd"; }
"$SEND" --socket "$sock" --count 25 --per-dgram 5 --linger-ms 300 >/dev/null
sleep 0.6
kill -TERM "$act"
wait "$act" || { cat "$SCRATCH/joulesd.err" >&2; fail "joulesd did not stop cleanly"; }
cat "$SCRATCH/joulesd.err" >&2
read -r acc rej < <(sqlite3 -separator ' ' "$db" "SELECT SUM(accepted), SUM(rejected) FROM ingest_stats")
note "accepted $acc, rejected $rej"
[ "$acc" -eq 25 ] || fail "accepted $acc, expected 25"
[ "$rej" -le 1 ] || fail "rejected $rej, expected at most the first datagram"
[ -S "$sock" ] || fail "joulesd removed the socket systemd owns"
note "ok"

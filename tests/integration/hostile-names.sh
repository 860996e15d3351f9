# Names that joules did not write are hostile: any local user can name a process anything
# (PR_SET_NAME), and a history may come from an old or foreign joulesd. Here:
#   (a) a real process in a real cgroup unit names itself with a terminal escape sequence, a
#       BEL and bytes that are not UTF-8, while the real joulesd samples it with --show;
#   (b) a copy of that history gets hostile unit, host and domain names (as a foreign history
#       could hold them: escapes, C1 and bidirectional controls, invalid UTF-8, CSV and
#       formula characters);
# and every output format of every command that can show them is checked: tables and charts
# for people hold no control byte and are valid UTF-8 (the names shown as \xHH), --json is
# valid UTF-8 JSON that carries the name (invalid bytes as U+FFFD), CSV is valid RFC 4180
# UTF-8 with one field per column, SVG is well-formed XML. joulesd's own --show and log lines
# are checked the same way. Needs root and a cgroup2 mount (else skipped, 77).
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
cg_require
command -v python3 >/dev/null || skip "python3 is not installed (./dev.sh installs it)"

BURN=$JOULES_TESTS_BIN/burn
db=$SCRATCH/joules.db
unit=t-hostile-$$.service
comm=$'\e[2J\e]0;X\a\xff\xfe' # 12 bytes: clear screen, set title, BEL, not UTF-8
# 11 bytes that show nothing: C1 CSI, WORD JOINER (U+2060), SOFT HYPHEN (U+00AD)
comm2=$'\xc2\x9b2J\xe2\x81\xa0WJ\xc2\xad'

# --- checkers ---------------------------------------------------------------------------------
cat >"$SCRATCH/check.py" <<'EOF'
import csv, io, json, sys, unicodedata
import xml.etree.ElementTree as ET

kind, path = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
try:
    text = raw.decode("utf-8")  # strict: invalid UTF-8 raises
except UnicodeDecodeError as e:
    sys.exit(f"{path}: not valid UTF-8: {e}")

def inert(s, allowed="\n"):
    for i, ch in enumerate(s):
        c = ord(ch)
        if ch in allowed:
            continue
        if c < 0x20 or c == 0x7F or 0x80 <= c < 0xA0 or unicodedata.category(ch) == "Cf":
            sys.exit(f"{path}: control or format character U+{c:04X} at {i}: {s[max(0, i - 20):i + 20]!r}")

if kind == "people":
    inert(text)
elif kind == "json":  # one document per line (top --json prints one per frame)
    docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not docs:
        sys.exit(f"{path}: no JSON")
    inert(text)  # raw output is inert too: controls are \u escapes
    print(json.dumps(docs))
elif kind == "csv":
    if not text.endswith("\r\n"):
        sys.exit(f"{path}: CSV lines must end in CRLF")
    inert(text, "\r\n")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    width = len(rows[0])
    for n, r in enumerate(rows):
        if len(r) != width:
            sys.exit(f"{path}: row {n + 1} has {len(r)} fields, the header {width}")
    print(json.dumps(rows))
elif kind == "svg":
    ET.fromstring(raw)
    inert(text)
else:
    sys.exit("unknown kind " + kind)
EOF
check() { python3 "$SCRATCH/check.py" "$1" "$2" >"$2.parsed" || fail "$1 output of $3 is not safe (file $2)"; }
# contains FILE STRING: the parsed or raw output holds STRING (fixed string)
contains() { grep -qF -- "$2" "$1" || fail "$3: '$2' not in $(head -c 2000 "$1")"; }

# --- (a) a real process with a hostile name -------------------------------------------------
cg_unit "$unit"
cg_spawn "$unit" "$BURN" --duty 0.5 --comm "$comm"
pid=$CG_LAST_PID
cg_spawn "$unit" "$BURN" --duty 0.5 --comm "$comm2"
pid2=$CG_LAST_PID
for _ in $(seq 50); do
  [ "$(cat "/proc/$pid/comm")" = "$comm" ] && [ "$(cat "/proc/$pid2/comm")" = "$comm2" ] && break
  sleep 0.05
done
[ "$(cat "/proc/$pid/comm")" = "$comm" ] || fail "burn did not rename itself"
[ "$(cat "/proc/$pid2/comm")" = "$comm2" ] || fail "the second burn did not rename itself"

"$JOULESD" --db "$db" --interval 200ms --energy-source model --cgroup-root "$CG_ROOT" \
  --events none --duration 3s --show >"$SCRATCH/show.out" 2>"$SCRATCH/joulesd.err" ||
  { cat "$SCRATCH/joulesd.err"; fail "joulesd failed"; }
check people "$SCRATCH/show.out" "joulesd --show"
check people "$SCRATCH/joulesd.err" "joulesd's log"

J() { "$JOULES" --db "$1" "${@:2}"; }
J "$db" top --once --processes --window 1h --rows 50 >"$SCRATCH/top.txt" || fail "joules top"
check people "$SCRATCH/top.txt" "joules top --processes"
contains "$SCRATCH/top.txt" '\x1b[2J\x1b]0;X\x07\xff\xfe' "top shows the name made visible"
J "$db" top --once --processes --window 1h --json >"$SCRATCH/top.json" || fail "joules top --json"
check json "$SCRATCH/top.json" "joules top --json"
contains "$SCRATCH/top.json.parsed" '\u001b[2J\u001b]0;X\u0007\ufffd\ufffd' "top --json carries the name"
contains "$SCRATCH/top.txt" '\u{009b}2J\u{2060}WJ\u{00ad}' "top shows the invisible characters"
J "$db" processes --since 1h >"$SCRATCH/procs.txt" || fail "joules processes"
check people "$SCRATCH/procs.txt" "joules processes"
contains "$SCRATCH/procs.txt" '\u{009b}2J\u{2060}WJ\u{00ad}' "processes shows the invisible characters"
J "$db" processes --since 1h --json >"$SCRATCH/procs.json" || fail "joules processes --json"
check json "$SCRATCH/procs.json" "joules processes --json"
contains "$SCRATCH/procs.json" '\u009b2J\u2060WJ\u00ad' "processes --json escapes them"

# --- (b) a foreign history with hostile unit, host and domain names --------------------------
fdb=$SCRATCH/foreign.db
sqlite3 "$db" ".backup '$fdb'"
# b"evil\x1b[31m" C1-CSI, RLO, "\xff", ",\"=x.service" -- and the host and domain names
hostile_hex=6576696c1b5b33316dc29be280aeff2c223d782e73657276696365
# the model's method: "=" OSC-title BEL red-on newline quote backslash
sqlite3 "$fdb" "UPDATE units SET name = CAST(X'$hostile_hex' AS TEXT) WHERE name = '$unit';
  UPDATE runs SET hostname = CAST(X'686f73741b5d303b74070ae281a0' AS TEXT),
    model_method = CAST(X'3d1b5d303b54071b5b33316d0a225c' AS TEXT);
  UPDATE domains SET name = CAST(X'6d6f64656c1b5b314bff' AS TEXT);" || fail "sqlite3"
hostile=$(printf '%b' "$(echo "$hostile_hex" | sed 's/../\\x&/g')")
[ "${#hostile}" -gt 10 ] || fail "hostile name not built"
people_name='evil\x1b[31m\u{009b}\u{202e}\xff,"=x.service'

run_people() { # NAME ARGS...: the command's people output, checked
  local out=$SCRATCH/$1.txt
  J "$fdb" "${@:2}" >"$out" 2>"$out.err" || { cat "$out.err"; fail "joules $1 failed"; }
  check people "$out" "joules $1"
  check people "$out.err" "joules $1 (stderr)"
}
run_json() {
  local out=$SCRATCH/$1.json
  J "$fdb" "${@:2}" >"$out" 2>"$out.err" || { cat "$out.err"; fail "joules $1 failed"; }
  check json "$out" "joules $1"
}

run_people status status
contains "$SCRATCH/status.txt" 'host\x1b]0;t\x07\x0a\u{2060}' "status shows the host name made visible"
contains "$SCRATCH/status.txt" '=\x1b]0;T\x07\x1b[31m\x0a"\\' "status shows the model's method made visible"
contains "$SCRATCH/status.txt" 'model\x1b[1K\xff' "status shows the domain name made visible"
run_json status-j status --json
contains "$SCRATCH/status-j.json.parsed" 'host\u001b]0;t\u0007\n\u2060' "status --json host"
contains "$SCRATCH/status-j.json.parsed" 'model\u001b[1K\ufffd' "status --json domain"

run_people services services --since 1h --wide
contains "$SCRATCH/services.txt" "$people_name" "services"
run_json services-j services --since 1h --json
contains "$SCRATCH/services-j.json.parsed" 'evil\u001b[31m\u009b\u202e\ufffd,\"=x.service' "services --json"

run_people top-f top --once --processes --window 1h --rows 50
# a long name shows its start and its end (cut between escapes) around a '~'
contains "$SCRATCH/top-f.txt" 'evil\x1b[31m' "top"
contains "$SCRATCH/top-f.txt" '~' "top"
contains "$SCRATCH/top-f.txt" ',"=x.service' "top"
run_json top-fj top --once --processes --window 1h --json

run_people report report --since 1h
contains "$SCRATCH/report.txt" 'evil\x1b[31m' "report"
run_json report-j report --since 1h --json
run_people report-u report --since 1h --unit "$hostile" --svg "$SCRATCH/report.svg"
contains "$SCRATCH/report-u.txt" 'Power of evil\x1b[31m' "report --unit chart title"
check svg "$SCRATCH/report.svg" "report --svg"
run_json report-uj report --since 1h --unit "$hostile" --json

run_people compare compare "$hostile" "$hostile" --since 1h
contains "$SCRATCH/compare.txt" "A: $people_name" "compare"
run_json compare-j compare "$hostile" "$hostile" --since 1h --json
run_people sci sci --unit "$hostile" --since 1h
contains "$SCRATCH/sci.txt" "SCI of $people_name" "sci"
run_json sci-j sci --unit "$hostile" --since 1h --json

from=$(date -u -d '-2 hours' +%Y-%m-%dT%H:00:00Z)
to=$(date -u -d '+1 hour' +%Y-%m-%dT%H:00:00Z)
J "$fdb" export --format csv --from "$from" --to "$to" >"$SCRATCH/export.csv" || fail "export csv"
check csv "$SCRATCH/export.csv" "export --format csv"
contains "$SCRATCH/export.csv.parsed" '"evil\\x1b[31m\\u{009b}\\u{202e}\\xff,\"=x.service"' "export csv field"
contains "$SCRATCH/export.csv.parsed" '"host\\x1b]0;t\\x07\\x0a\\u{2060}"' "export csv host"
run_json export-j export --format json --from "$from" --to "$to"

# A hostile name typed as an argument is echoed safely in errors, too.
J "$fdb" compare $'no\e[5msuch' kernel --since 1h >"$SCRATCH/err.txt" 2>&1 && fail "compare of no unit succeeded"
check people "$SCRATCH/err.txt" "compare's error"
contains "$SCRATCH/err.txt" 'no\x1b[5msuch' "compare's error names the argument"
J "$fdb" services --since $'\e[31m' >"$SCRATCH/err2.txt" 2>&1 && fail "bad --since accepted"
check people "$SCRATCH/err2.txt" "services' error"
# unknown commands and options, --db, and joulesd's own arguments
e=$'\e]0;PWN\a\e[2J'
J "$fdb" "$e" >"$SCRATCH/err3.txt" 2>&1 && fail "an unknown command ran"
J "$fdb" services "--$e" >>"$SCRATCH/err3.txt" 2>&1 && fail "an unknown option was taken"
"$JOULES" "--$e" >>"$SCRATCH/err3.txt" 2>&1 && fail "an unknown option was taken"
J "/tmp/$e" status >>"$SCRATCH/err3.txt" 2>&1 && fail "a missing history was read"
"$JOULESD" --duration "$e" >>"$SCRATCH/err3.txt" 2>&1 && fail "joulesd took a bad duration"
"$JOULESD" "--$e" >>"$SCRATCH/err3.txt" 2>&1 && fail "joulesd took an unknown option"
"$JOULESD" --interval "$e" >>"$SCRATCH/err3.txt" 2>&1 && fail "joulesd took a bad interval"
J "$fdb" report --since 1h --svg "/nonexistent/$e.svg" >>"$SCRATCH/err3.txt" 2>&1 &&
  fail "report wrote an SVG where it cannot"
: >"$SCRATCH/$e.conf"
"$JOULESD" --config "$SCRATCH/$e.conf" --check-config >>"$SCRATCH/err3.txt" 2>&1 ||
  fail "joulesd --check-config refused an empty file"
J "$fdb" services --json=x >>"$SCRATCH/err3.txt" 2>&1 && fail "--json took a value"
grep -qF "option '--json' takes no value" "$SCRATCH/err3.txt" || fail "--json=x not named"
check people "$SCRATCH/err3.txt" "the errors of bad arguments"
[ "$(grep -cF '\x1b]0;PWN\x07' "$SCRATCH/err3.txt")" -ge 8 ] ||
  fail "the errors do not name the arguments: $(cat "$SCRATCH/err3.txt")"

note "every output of status, services, top, report, compare, sci, export and joulesd is inert"

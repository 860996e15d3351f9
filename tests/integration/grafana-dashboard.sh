# The shipped Grafana dashboard (grafana/joules-dashboard.json), checked offline:
#   (a) its structure against @grafana/schema's TypeScript types (tests/grafana/): the dashboard
#       is written out as an object literal with `satisfies`, and `tsc --noEmit` must accept it;
#   (b) the check can fail: broken copies (an unknown field, a wrong type, a bad enum value, a
#       misspelled query field, a missing one) must each be rejected;
#   (c) what the types cannot say: every panel and variable query uses the ${datasource}
#       variable, the instance and unit variables exist and every panel filters on instance,
#       panel ids are unique and panels fit the 24-column grid.
# npm ci (pinned versions, tests/grafana/package-lock.json) runs once into the build directory
# and again only when the lock file changes. Needs node and npm (else skipped, 77); the npm
# registry must be reachable the first time.
source "$JOULES_SRC/tests/lib.sh"
command -v node >/dev/null && command -v npm >/dev/null || skip "no node/npm"
: "${JOULES_BUILD:?run through ctest}"

dash=$JOULES_SRC/grafana/joules-dashboard.json
src=$JOULES_SRC/tests/grafana
work=$JOULES_BUILD/grafana-check
mkdir -p "$work"
# An exclusive lock: the sanitizer build has its own directory, but two runs of one build must
# not run npm ci into the same node_modules at once.
exec 9>"$work/.lock"
flock 9
cp "$src/package.json" "$src/tsconfig.json" "$src/dashboard-types.ts" "$src/dashboard-ts.mjs" "$work/"
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -x "$work/node_modules/.bin/tsc" ]; then
  cp "$src/package-lock.json" "$work/"
  note "npm ci in $work"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in $work"
fi
rm -f "$work"/*.gen.ts
gen() { node "$work/dashboard-ts.mjs" "$1" "$work/$2.gen.ts" || fail "dashboard-ts.mjs $1"; }

# (a) the dashboard, and (b) broken copies, each in a file of its own, checked by one tsc run:
# the dashboard's file must have no error, each broken one the error TypeScript gives for it.
jq -e . "$dash" >/dev/null || fail "$dash is not JSON"
gen "$dash" dashboard
BROKEN=(
  '.titel = "x"' TS2353                                           # unknown dashboard field
  '.panels[0].gridPos.x = "0"' TS2322                             # wrong type
  '.panels[3].targets[0].exprr = .panels[3].targets[0].expr' TS2353 # misspelled query field
  '.panels[3].targets[0] |= del(.expr)' TS2741                    # query without expr
  '.panels[3].options.tooltip.mode = "multiple"' TS2322           # not a TooltipDisplayMode
  '.panels[3].options.legend.placemnt = "right"' TS2353           # timeseries options
  '.panels[0].options.colorMode = "rainbow"' TS2322               # stat options
  '.templating.list[1].type = "querry"' TS2820                    # not a VariableType
  '.panels[0].fieldConfig.defaults.mappings[0].type = "val"' TS2322 # not a MappingType
  'del(.schemaVersion)' TS1360                                    # a required field
)
for ((i = 0; i < ${#BROKEN[@]}; i += 2)); do
  jq "${BROKEN[i]}" "$dash" >"$SCRATCH/broken$i.json" || fail "jq ${BROKEN[i]}"
  gen "$SCRATCH/broken$i.json" "broken$i"
done
rc=0
(cd "$work" && node node_modules/typescript/bin/tsc -p tsconfig.json) >"$SCRATCH/tsc.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "tsc accepted every file, the broken ones too"
if grep -q '^dashboard\.gen\.ts' "$SCRATCH/tsc.out"; then
  grep '^dashboard\.gen\.ts' -A3 "$SCRATCH/tsc.out" >&2
  fail "tsc rejects $dash"
fi
note "tsc accepts $dash ($(node "$work/node_modules/typescript/bin/tsc" --version), @grafana/schema $(jq -r .version "$work/node_modules/@grafana/schema/package.json"))"
for ((i = 0; i < ${#BROKEN[@]}; i += 2)); do
  grep -q "^broken$i\.gen\.ts(.*error ${BROKEN[i + 1]}" "$SCRATCH/tsc.out" || {
    cat "$SCRATCH/tsc.out" >&2
    fail "tsc did not reject ${BROKEN[i]} with ${BROKEN[i + 1]}"
  }
done
note "tsc rejects all $((${#BROKEN[@]} / 2)) broken copies"

# (c)
jq -e '[.templating.list[].name] | index("datasource") and index("instance") and index("unit")' \
  "$dash" >/dev/null || fail "variables datasource, instance and unit must exist"
jq -e '.templating.list[] | select(.name == "datasource") | .type == "datasource" and .query == "prometheus"' \
  "$dash" >/dev/null || fail "the datasource variable must be a Prometheus data source variable"
jq -e '[.panels[] | .datasource, .targets[].datasource] + [.templating.list[] | select(.type == "query") | .datasource]
       | all(.uid == "${datasource}" and .type == "prometheus")' "$dash" >/dev/null ||
  fail "every panel, query and variable must use the \${datasource} variable"
jq -e '[.panels[].targets[].expr] | all(test("instance=~\"\\$instance\""))' "$dash" >/dev/null ||
  fail "every query must filter on \$instance"
jq -e '[.panels[].id] | length == (unique | length)' "$dash" >/dev/null || fail "panel ids are not unique"
jq -e '[.panels[].gridPos] | all(.x >= 0 and .w > 0 and .x + .w <= 24 and .h > 0)' "$dash" >/dev/null ||
  fail "a panel does not fit the 24-column grid"
for title in "Host power" "Power per unit (stacked)" "Energy per request" "Measured or estimated"; do
  jq -e --arg t "$title" '[.panels[].title] | index($t)' "$dash" >/dev/null || fail "no panel \"$title\""
done
jq -e '.panels[] | select(.title == "Power per unit (stacked)") | .fieldConfig.defaults.custom.stacking.mode == "normal"' \
  "$dash" >/dev/null || fail "power per unit is not stacked"
echo "ok"

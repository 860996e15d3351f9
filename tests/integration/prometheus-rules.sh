# The shipped Prometheus rules: `promtool check rules` (syntax, PromQL, names) and
# `promtool test rules` (prometheus/joules.rules.test.yml: input series with known values, the
# recording rules' results and the alerts compared with values computed by hand).
# Needs promtool (Debian's prometheus package), else skipped (77).
source "$JOULES_SRC/tests/lib.sh"
command -v promtool >/dev/null || skip "no promtool (Debian package prometheus)"

rules=$JOULES_SRC/prometheus/joules.rules.yml
promtool check rules "$rules" || fail "promtool check rules $rules"
# promtool test rules resolves rule_files relative to the test file.
(cd "$JOULES_SRC/prometheus" && promtool test rules joules.rules.test.yml) ||
  fail "promtool test rules prometheus/joules.rules.test.yml"

# Every recording rule and alert has a test: the names in the rules file all appear in the tests.
while read -r name; do
  grep -qF "$name" "$JOULES_SRC/prometheus/joules.rules.test.yml" || fail "no test for $name"
done < <(sed -n 's/^ *- \(record\|alert\): *//p' "$rules")
echo "ok"

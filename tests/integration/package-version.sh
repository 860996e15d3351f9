# The version is written twice, in CMakeLists.txt's project() and in debian/changelog (which
# names the package's version): they must agree, and the three built binaries must report it.
source "$JOULES_SRC/tests/lib.sh"

command -v dpkg-parsechangelog >/dev/null || skip "dpkg-parsechangelog is not installed (dpkg-dev)"
cmake_v=$(sed -n 's/^project(joules VERSION \([^ )]*\).*/\1/p' "$JOULES_SRC/CMakeLists.txt")
[ -n "$cmake_v" ] || fail "no version in CMakeLists.txt's project()"
deb_v=$(dpkg-parsechangelog -l "$JOULES_SRC/debian/changelog" -S Version)
[ "$deb_v" = "$cmake_v" ] ||
  fail "debian/changelog says $deb_v, CMakeLists.txt $cmake_v: add a debian/changelog entry for $cmake_v"
for b in "$JOULESD" "$JOULES" "$JOULES_BIN/joules-exporter"; do
  out=$("$b" --version 2>&1) || fail "$b --version: $out"
  echo "$out" | grep -qw -- "$cmake_v" || fail "$b --version says '$out', not $cmake_v"
done
echo "ok: version $cmake_v in CMakeLists.txt, debian/changelog and the three binaries"

# examples/clients/rust (std only, no crates) through the real joulesd: tests/lib-clients.sh.
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
source "$JOULES_SRC/tests/lib-clients.sh"
cg_require
command -v rustc >/dev/null || skip "no rustc (Debian: rustc)"
rustc --edition 2021 -O -D warnings "$JOULES_SRC/examples/clients/rust/count.rs" \
  -o "$SCRATCH/count" || fail "rustc"
clients_check rust "$SCRATCH/count"
note "ok"

# examples/clients/go (standard library only) through the real joulesd: tests/lib-clients.sh.
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
source "$JOULES_SRC/tests/lib-clients.sh"
cg_require
command -v go >/dev/null || skip "no go (Debian: golang-go)"
(cd "$JOULES_SRC/examples/clients/go" && GOPROXY=off GOFLAGS=-mod=mod go vet ./... &&
  GOPROXY=off GOFLAGS=-mod=mod go build -o "$SCRATCH/count" ./count) || fail "go build"
clients_check go "$SCRATCH/count"
note "ok"

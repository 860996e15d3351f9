# examples/clients/python (standard library only) through the real joulesd: tests/lib-clients.sh.
source "$JOULES_SRC/tests/lib.sh"
source "$JOULES_SRC/tests/lib-cgroup.sh"
source "$JOULES_SRC/tests/lib-clients.sh"
cg_require
command -v python3 >/dev/null || skip "no python3"
clients_check python python3 -B "$JOULES_SRC/examples/clients/python/count.py"
note "ok"

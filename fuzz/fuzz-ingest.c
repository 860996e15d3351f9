/* StatsD lines on the ingest socket (daemon/ingest.c): any local process may send datagrams. The
 * input is one datagram, handed to ingest_datagram as root sent it (so unit tags are honoured)
 * with a sink that checks every count. Invariants: each non-empty line is either counted or
 * malformed, exactly as ingest_parse_line alone decides; a count is finite, >= 0 and at most
 * INGEST_VALUE_MAX; a name is 1..127 characters of [A-Za-z0-9_.-]; a tagged unit is valid. */

#include "fuzz/fuzz.h"

#include <math.h>
#include <unistd.h>

#include "daemon/ingest.h"

static Ingest *in;
static uint64_t sunk;

static bool sink(void *userdata, const char *unit, const char *name, double count)
{
        FUZZ_CHECK(isfinite(count) && count >= 0 && count <= INGEST_VALUE_MAX);
        size_t nl = strlen(name);
        FUZZ_CHECK(nl > 0 && nl < INGEST_NAME_MAX);
        FUZZ_CHECK(
                strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                nl);
        FUZZ_CHECK(strlen(unit) < INGEST_UNIT_MAX);
        sunk++;
        return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        static char path[108];
        char err[256];
        snprintf(path, sizeof(path), "/tmp/joules-fuzz-ingest-%d.sock", (int)getpid());
        IngestOptions o = {.path = path, .sink = sink};
        if (ingest_open(&o, &in, err, sizeof(err)) < 0) {
                fprintf(stderr, "fuzz-ingest: %s\n", err);
                abort();
        }
        /* the socket itself is never read: only its path needs to go */
        (void)unlink(path);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > INGEST_DGRAM_MAX)
                return 0;
        const char *buf = (const char *)data;
        uint64_t good = 0, lines = 0;
        for (const char *p = buf, *end = buf + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t ll = (size_t)((nl ? nl : end) - p);
                if (ll > 0 && p[ll - 1] == '\r')
                        ll--;
                if (ll > 0) {
                        IngestLine l;
                        lines++;
                        if (ingest_parse_line(p, ll, &l) == 0) {
                                good++;
                                FUZZ_CHECK(isfinite(l.count) && l.count >= 0 &&
                                           l.count <= INGEST_VALUE_MAX);
                                FUZZ_CHECK(!l.has_unit || ingest_unit_name_valid(l.unit));
                        }
                }
                p = nl ? nl + 1 : end;
        }
        sunk = 0;
        ingest_datagram(in, buf, size, getpid(), 0);
        IngestStats st;
        ingest_take_stats(in, &st);
        FUZZ_CHECK(st.accepted == good && sunk == good);
        FUZZ_CHECK(st.malformed == lines - good && st.rejected == 0);
        return 0;
}

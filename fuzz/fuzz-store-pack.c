/* The packed raw ticks of the history (storage/store-pack.c): a BLOB read back from a database
 * file that may be corrupt, old or foreign. A bad blob must give -EBADMSG, never a crash, and a
 * blob that decodes must be one the encoder could have written: unit ids increasing, its values
 * adding up to the sums it carries (so a report never shows a wrong total), and decode -> encode
 * -> decode giving the same values. The first byte picks what the rest is:
 *   0: a unit blob, 1: a request blob, 2: values to encode (unit list), 3: values to encode
 *   (request list), 4: a domain blob, 5: a process blob (storage/store-pack-side.c); the encoded
 *   form must decode to exactly those values. */

#include "fuzz/fuzz.h"

#include <errno.h>
#include <math.h>

#include "storage/store-internal.h"
#include "storage/store-varint.h"

/* 8 bytes at p as a little-endian integer (fewer at the end of the input: zero-padded). */
static uint64_t take64(const uint8_t **p, const uint8_t *end)
{
        uint64_t v = 0;
        for (int b = 0; b < 8 && *p < end; b++)
                v |= (uint64_t) * (*p)++ << (8 * b);
        return v;
}

/* The sums a unit blob carries (see the format in store-pack.c): its values must add up to them. */
static void check_unit_sums(const uint8_t *blob, size_t len, const StoreUnitValue *u, size_t n)
{
        size_t at = 1;
        /* the short header (schema 12: 0x04) has K as a flag (0x08) and leaves out the sum of
         * the values: A in layout 1, C in layout 2 */
        bool short_header = blob[0] & 0x04, by_cpu = (blob[0] & 3) == 2;
        uint64_t bn, scale = (blob[0] & 0x08) ? 1000 : 1, a = 0, i, c = 0;
        FUZZ_CHECK(get_varint(blob, len, &at, &bn) == 0 &&
                   (short_header || get_varint(blob, len, &at, &scale) == 0) &&
                   ((short_header && !by_cpu) || get_varint(blob, len, &at, &a) == 0) &&
                   get_varint(blob, len, &at, &i) == 0 &&
                   ((short_header && by_cpu) || get_varint(blob, len, &at, &c) == 0));
        FUZZ_CHECK(bn == n && (scale == 1 || scale == 1000));
        unsigned __int128 sa = 0, si = 0, sc = 0;
        for (size_t k = 0; k < n; k++) {
                sa += u[k].active_uj;
                si += u[k].idle_uj;
                FUZZ_CHECK(u[k].cpu_ns % scale == 0);
                sc += u[k].cpu_ns / scale;
        }
        FUZZ_CHECK((short_header && !by_cpu ? sa <= UINT64_MAX : sa == a) && si == i &&
                   (short_header && by_cpu ? sc <= UINT64_MAX : sc == c));
}

static void check_units(const StoreUnitValue *u, size_t n)
{
        size_t bound = store_pack_bound(n);
        uint8_t *blob = malloc(bound ? bound : 1);
        FUZZ_CHECK(blob);
        size_t len = store_pack_units(u, n, blob);
        FUZZ_CHECK(len <= bound);
        check_unit_sums(blob, len, u, n);
        StoreUnitValue *back = NULL;
        size_t cap = 0, m = 0;
        FUZZ_CHECK(store_unpack_units(blob, len, &back, &cap, &m) == 0);
        FUZZ_CHECK(m == n);
        for (size_t k = 0; k < n; k++)
                FUZZ_CHECK(back[k].unit_id == u[k].unit_id && back[k].active_uj == u[k].active_uj &&
                           back[k].idle_uj == u[k].idle_uj && back[k].cpu_ns == u[k].cpu_ns);
        free(back);
        free(blob);
}

/* Counts compare as numbers: -0.0 comes back as 0 (whole counts are varints), which is the
 * same count. */
static void check_requests(const StoreRequestValue *q, size_t n)
{
        uint8_t *blob = malloc(store_pack_requests_bound(n));
        FUZZ_CHECK(blob);
        size_t len = store_pack_requests(q, n, blob);
        FUZZ_CHECK(len <= store_pack_requests_bound(n));
        StoreRequestValue *back = NULL;
        size_t cap = 0, m = 0;
        FUZZ_CHECK(store_unpack_requests(blob, len, &back, &cap, &m) == 0);
        FUZZ_CHECK(m == n);
        for (size_t k = 0; k < n; k++)
                FUZZ_CHECK(back[k].unit_id == q[k].unit_id && back[k].metric_id == q[k].metric_id &&
                           back[k].count == q[k].count);
        free(back);
        free(blob);
}

/* A domain blob that decodes encodes again, and that decodes to the same rows. */
static void check_domains(const StorePackedDomain *d, size_t n)
{
        for (size_t k = 0; k < n; k++)
                FUZZ_CHECK(k ? d[k].domain_id > d[k - 1].domain_id : d[k].domain_id >= 0);
        uint8_t *blob = malloc(store_pack_domains_bound(d, n));
        FUZZ_CHECK(blob);
        size_t len = store_pack_domains(d, n, blob);
        FUZZ_CHECK(len > 0 && len <= store_pack_domains_bound(d, n));
        StorePackedDomain *back = NULL;
        size_t cap = 0, m = 0;
        FUZZ_CHECK(store_unpack_domains(blob, len, &back, &cap, &m) == 0);
        FUZZ_CHECK(m == n);
        for (size_t k = 0; k < n; k++) {
                FUZZ_CHECK(back[k].domain_id == d[k].domain_id &&
                           back[k].has_energy == d[k].has_energy &&
                           (!d[k].has_energy || back[k].energy_uj == d[k].energy_uj) &&
                           !back[k].reason == !d[k].reason &&
                           back[k].reason_len == d[k].reason_len);
                if (d[k].reason)
                        FUZZ_CHECK(memcmp(back[k].reason, d[k].reason, d[k].reason_len) == 0);
        }
        free(back);
        free(blob);
}

/* A process blob that decodes encodes again, and that decodes to the same rows. */
static void check_procs(const StorePackedProc *v, size_t n)
{
        StoreProcValue *in = calloc(n ? n : 1, sizeof(*in));
        char **names = calloc(n ? n : 1, sizeof(*names));
        FUZZ_CHECK(in && names);
        for (size_t k = 0; k < n; k++) {
                FUZZ_CHECK(k ? v[k].unit_id > v[k - 1].unit_id ||
                                           (v[k].unit_id == v[k - 1].unit_id &&
                                            v[k].pid > v[k - 1].pid)
                             : v[k].unit_id >= 0);
                FUZZ_CHECK(v[k].pid >= 0 && !memchr(v[k].comm, 0, v[k].comm_len));
                names[k] = strndup(v[k].comm, v[k].comm_len);
                FUZZ_CHECK(names[k]);
                in[k] = (StoreProcValue){v[k].unit_id,   v[k].pid,     v[k].start_time, names[k],
                                         v[k].active_uj, v[k].idle_uj, v[k].cpu_ns};
        }
        size_t bound = store_pack_procs_bound(in, n);
        uint8_t *blob = malloc(bound);
        FUZZ_CHECK(blob);
        size_t len = store_pack_procs(in, n, blob);
        FUZZ_CHECK(len > 0 && len <= bound);
        StorePackedProc *back = NULL;
        size_t cap = 0, m = 0;
        FUZZ_CHECK(store_unpack_procs(blob, len, &back, &cap, &m) == 0);
        FUZZ_CHECK(m == n);
        for (size_t k = 0; k < n; k++)
                FUZZ_CHECK(back[k].unit_id == v[k].unit_id && back[k].pid == v[k].pid &&
                           back[k].start_time == v[k].start_time &&
                           back[k].comm_len == v[k].comm_len &&
                           memcmp(back[k].comm, v[k].comm, v[k].comm_len) == 0 &&
                           back[k].active_uj == v[k].active_uj && back[k].idle_uj == v[k].idle_uj &&
                           back[k].cpu_ns == v[k].cpu_ns);
        for (size_t k = 0; k < n; k++)
                free(names[k]);
        free(names);
        free(in);
        free(back);
        free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        const uint8_t *p = data + 1, *end = data + size;
        switch (data[0] % 6) {
        case 0: {
                StoreUnitValue *u = NULL;
                size_t cap = 0, n = 0;
                int r = store_unpack_units(p, (size_t)(end - p), &u, &cap, &n);
                FUZZ_CHECK(r == 0 || r == -EBADMSG);
                if (r == 0) {
                        for (size_t k = 0; k < n; k++)
                                FUZZ_CHECK(k ? u[k].unit_id > u[k - 1].unit_id : u[k].unit_id >= 0);
                        check_unit_sums(p, (size_t)(end - p), u, n);
                        check_units(u, n);
                }
                free(u);
                break;
        }
        case 1: {
                StoreRequestValue *q = NULL;
                size_t cap = 0, n = 0;
                int r = store_unpack_requests(p, (size_t)(end - p), &q, &cap, &n);
                FUZZ_CHECK(r == 0 || r == -EBADMSG);
                if (r == 0) {
                        for (size_t k = 0; k < n; k++) {
                                FUZZ_CHECK(k ? q[k].unit_id >= q[k - 1].unit_id
                                             : q[k].unit_id >= 0);
                                FUZZ_CHECK(q[k].metric_id >= 0);
                                FUZZ_CHECK(isfinite(q[k].count) && q[k].count >= 0);
                        }
                        check_requests(q, n);
                }
                free(q);
                break;
        }
        case 2: {
                /* 4 x 8 bytes per unit: id step, active, idle, cpu; the sums must fit in 64 bits,
                 * as a tick's do */
                size_t n = (size_t)(end - p) / 32;
                StoreUnitValue *u = calloc(n ? n : 1, sizeof(*u));
                FUZZ_CHECK(u);
                int64_t id = 0;
                for (size_t k = 0; k < n; k++) {
                        id += 1 + (int64_t)(take64(&p, end) % 100000);
                        u[k] = (StoreUnitValue){.unit_id = id,
                                                .active_uj = take64(&p, end) >> 16,
                                                .idle_uj = take64(&p, end) >> 16,
                                                .cpu_ns = take64(&p, end) >> 16};
                }
                check_units(u, n);
                free(u);
                break;
        }
        case 4: {
                StorePackedDomain *d = NULL;
                size_t cap = 0, n = 0;
                int r = store_unpack_domains(p, (size_t)(end - p), &d, &cap, &n);
                FUZZ_CHECK(r == 0 || r == -EBADMSG);
                if (r == 0)
                        check_domains(d, n);
                free(d);
                break;
        }
        case 5: {
                StorePackedProc *v = NULL;
                size_t cap = 0, n = 0;
                int r = store_unpack_procs(p, (size_t)(end - p), &v, &cap, &n);
                FUZZ_CHECK(r == 0 || r == -EBADMSG);
                if (r == 0)
                        check_procs(v, n);
                free(v);
                break;
        }
        default: {
                size_t n = (size_t)(end - p) / 24;
                StoreRequestValue *q = calloc(n ? n : 1, sizeof(*q));
                FUZZ_CHECK(q);
                int64_t id = 0;
                for (size_t k = 0; k < n; k++) {
                        id += (int64_t)(take64(&p, end) % 3);
                        q[k].unit_id = id;
                        q[k].metric_id = (int64_t)(take64(&p, end) >> 1);
                        uint64_t bits = take64(&p, end);
                        memcpy(&q[k].count, &bits, sizeof(double));
                        if (!isfinite(q[k].count) || q[k].count < 0)
                                q[k].count = (double)(bits >> 12);
                }
                check_requests(q, n);
                free(q);
                break;
        }
        }
        return 0;
}

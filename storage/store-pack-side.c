/* The packed tick's other BLOBs, beside its units (store-pack.c): its requests (tick_requests
 * since schema 6, tick_units.requests since 12), its domain energies (tick_units.domains since
 * 12) and its processes (tick_units.procs since 14), written when the tick is packed
 * (store-packed.c, store-rollup.c) and decoded for reading (store-unpack.c). Integers are LEB128
 * varints (store-varint.h). */

#include "storage/store.h"
#include "storage/store-internal.h"
#include "storage/store-varint.h"

#include "common/util.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Requests: a first byte, n, then per entry its unit id - the previous entry's, its metric id
 * and its count. The first byte is 1 (written before schema 11) or 2 with flags or-ed in:
 *   REQ_ONE_METRIC: every entry has the same metric id, written once after n, not per entry;
 *   REQ_WHOLE: every count is a whole number below 2^52, written as a plain varint.
 * Otherwise a count is varint(count * 2) when it is a whole number below 2^52, else varint(1)
 * and the 8 bytes of the double, little-endian (a history file may be read on another host). */
#define REQ_V1         1
#define REQ_V2         2
#define REQ_ONE_METRIC 0x10
#define REQ_WHOLE      0x20

size_t store_pack_requests_bound(size_t n)
{
        return 1 + 20 + n * 40;
}

static bool count_whole(double c)
{
        return c >= 0 && c < 4503599627370496.0 && c == floor(c);
}

size_t store_pack_requests(const StoreRequestValue *q, size_t n, uint8_t *buf)
{
        bool one_metric = n > 0, whole = true;
        for (size_t k = 0; k < n; k++) {
                one_metric &= q[k].metric_id == q[0].metric_id;
                whole &= count_whole(q[k].count);
        }
        size_t o = 0;
        buf[o++] = REQ_V2 | (one_metric ? REQ_ONE_METRIC : 0) | (whole ? REQ_WHOLE : 0);
        o += put_varint(buf + o, n);
        if (one_metric)
                o += put_varint(buf + o, (uint64_t)q[0].metric_id);
        int64_t prev = 0;
        for (size_t k = 0; k < n; k++) {
                assert(k == 0 || q[k].unit_id >= q[k - 1].unit_id);
                o += put_varint(buf + o, (uint64_t)(q[k].unit_id - prev));
                prev = q[k].unit_id;
                if (!one_metric)
                        o += put_varint(buf + o, (uint64_t)q[k].metric_id);
                double c = q[k].count;
                if (whole) {
                        o += put_varint(buf + o, (uint64_t)c);
                } else if (count_whole(c)) {
                        o += put_varint(buf + o, (uint64_t)c << 1);
                } else {
                        uint64_t bits;
                        memcpy(&bits, &c, sizeof(bits));
                        o += put_varint(buf + o, 1);
                        for (int b = 0; b < 8; b++)
                                buf[o++] = (uint8_t)(bits >> (8 * b));
                }
        }
        return o;
}

int store_unpack_requests(const void *data, size_t len, StoreRequestValue **buf, size_t *cap,
                          size_t *ret_n)
{
        const uint8_t *p = data;
        size_t at = 0;
        uint64_t n, metric = 0;
        if (len < 1 || (p[0] != REQ_V1 && (p[0] & ~(REQ_ONE_METRIC | REQ_WHOLE)) != REQ_V2))
                return -EBADMSG;
        bool one_metric = p[0] & REQ_ONE_METRIC, whole = p[0] & REQ_WHOLE;
        at++;
        /* every entry takes at least 3 bytes, 2 when the metric is written once */
        if (get_varint(p, len, &at, &n) < 0 ||
            (one_metric && get_varint(p, len, &at, &metric) < 0) ||
            n > (len - at) / (one_metric ? 2 : 3) || metric > (uint64_t)INT64_MAX)
                return -EBADMSG;
        if (array_grow((void **)buf, cap, (size_t)n, sizeof(**buf)) < 0)
                return -ENOMEM;
        uint64_t id = 0;
        for (size_t k = 0; k < n; k++) {
                uint64_t d, c;
                if (get_varint(p, len, &at, &d) < 0 ||
                    (!one_metric && get_varint(p, len, &at, &metric) < 0) ||
                    get_varint(p, len, &at, &c) < 0 || d > (uint64_t)INT64_MAX - id ||
                    metric > (uint64_t)INT64_MAX)
                        return -EBADMSG;
                id += d;
                double count;
                if (whole) {
                        if (c >= UINT64_C(1) << 52)
                                return -EBADMSG;
                        count = (double)c;
                } else if (c & 1) {
                        if (at + 8 > len)
                                return -EBADMSG;
                        uint64_t bits = 0;
                        for (int b = 0; b < 8; b++)
                                bits |= (uint64_t)p[at++] << (8 * b);
                        memcpy(&count, &bits, sizeof(count));
                        /* what is counted is finite and never negative (ingest, scrape deltas) */
                        if (!isfinite(count) || count < 0)
                                return -EBADMSG;
                } else {
                        count = (double)(c >> 1);
                }
                (*buf)[k] = (StoreRequestValue){
                        .unit_id = (int64_t)id, .metric_id = (int64_t)metric, .count = count};
        }
        *ret_n = (size_t)n;
        return 0;
}

/* Domains: a first byte (1), n, then per row, by increasing domain id, the varint
 * (id - the previous row's id, the first from 0) * 4 + 1 when the energy is not NULL + 2 when the
 * drop reason is not NULL; then the energy, zigzag-coded, and the reason, its length and bytes,
 * when they are there. A domain row is 16 bytes of SQLite; packed, about 6. */
#define DOM_V1 1

size_t store_pack_domains_bound(const StorePackedDomain *d, size_t n)
{
        size_t b = 1 + 10;
        for (size_t k = 0; k < n; k++)
                b += 3 * 10 + (d[k].reason ? d[k].reason_len : 0);
        return b;
}

size_t store_pack_domains(const StorePackedDomain *d, size_t n, uint8_t *buf)
{
        size_t o = 0;
        buf[o++] = DOM_V1;
        o += put_varint(buf + o, n);
        int64_t prev = 0;
        for (size_t k = 0; k < n; k++) {
                if (d[k].domain_id < prev || (k > 0 && d[k].domain_id == prev))
                        return 0;
                uint64_t delta = (uint64_t)(d[k].domain_id - prev);
                if (delta >= UINT64_C(1) << 62)
                        return 0;
                prev = d[k].domain_id;
                o += put_varint(buf + o,
                                delta << 2 | (d[k].has_energy ? 1 : 0) | (d[k].reason ? 2 : 0));
                if (d[k].has_energy)
                        o += put_varint(buf + o, zigzag(d[k].energy_uj));
                if (d[k].reason) {
                        o += put_varint(buf + o, d[k].reason_len);
                        memcpy(buf + o, d[k].reason, d[k].reason_len);
                        o += d[k].reason_len;
                }
        }
        return o;
}

int store_unpack_domains(const void *data, size_t len, StorePackedDomain **buf, size_t *cap,
                         size_t *ret_n)
{
        const uint8_t *p = data;
        size_t at = 1;
        uint64_t n;
        /* every row takes at least a byte */
        if (len < 1 || p[0] != DOM_V1 || get_varint(p, len, &at, &n) < 0 || n > len - at)
                return -EBADMSG;
        if (array_grow((void **)buf, cap, (size_t)n, sizeof(**buf)) < 0)
                return -ENOMEM;
        uint64_t id = 0;
        for (size_t k = 0; k < n; k++) {
                uint64_t h, e = 0, rl = 0;
                if (get_varint(p, len, &at, &h) < 0 || (k > 0 && h >> 2 == 0) ||
                    h >> 2 > (uint64_t)INT64_MAX - id ||
                    ((h & 1) && get_varint(p, len, &at, &e) < 0) ||
                    ((h & 2) && (get_varint(p, len, &at, &rl) < 0 || rl > len - at)))
                        return -EBADMSG;
                id += h >> 2;
                (*buf)[k] = (StorePackedDomain){
                        .domain_id = (int64_t)id,
                        .has_energy = h & 1,
                        .energy_uj = unzigzag(e),
                        .reason = (h & 2) ? (const char *)p + at : NULL,
                        .reason_len = (size_t)rl,
                };
                at += (size_t)rl;
        }
        if (at != len)
                return -EBADMSG;
        *ret_n = (size_t)n;
        return 0;
}

/* Processes: a first byte (1), n, then per row, by (unit id, pid): the varint unit id - the
 * previous row's (the first from 0), the pid, the start time, the name's length and bytes, and
 * active_uj, idle_uj and cpu_ns. A process_energy row is about 60 bytes of SQLite (its key and
 * name included); packed, about 25. */
#define PROC_V1 1

size_t store_pack_procs_bound(const StoreProcValue *v, size_t n)
{
        size_t b = 1 + 10;
        for (size_t k = 0; k < n; k++)
                b += 7 * 10 + (v[k].comm ? strlen(v[k].comm) : 0);
        return b;
}

size_t store_pack_procs(const StoreProcValue *v, size_t n, uint8_t *buf)
{
        size_t o = 0;
        buf[o++] = PROC_V1;
        o += put_varint(buf + o, n);
        for (size_t k = 0; k < n; k++) {
                const StoreProcValue *p = &v[k];
                int64_t prev = k > 0 ? v[k - 1].unit_id : 0;
                if (p->unit_id < prev || p->pid < 0 || !p->comm || p->start_time > INT64_MAX ||
                    p->active_uj > INT64_MAX || p->idle_uj > INT64_MAX || p->cpu_ns > INT64_MAX ||
                    (k > 0 && p->unit_id == prev && p->pid <= v[k - 1].pid))
                        return 0;
                size_t cl = strlen(p->comm);
                o += put_varint(buf + o, (uint64_t)(p->unit_id - prev));
                o += put_varint(buf + o, (uint64_t)p->pid);
                o += put_varint(buf + o, p->start_time);
                o += put_varint(buf + o, cl);
                memcpy(buf + o, p->comm, cl);
                o += cl;
                o += put_varint(buf + o, p->active_uj);
                o += put_varint(buf + o, p->idle_uj);
                o += put_varint(buf + o, p->cpu_ns);
        }
        return o;
}

int store_unpack_procs(const void *data, size_t len, StorePackedProc **buf, size_t *cap,
                       size_t *ret_n)
{
        const uint8_t *p = data;
        size_t at = 1;
        uint64_t n;
        /* every row takes at least 7 bytes */
        if (len < 1 || p[0] != PROC_V1 || get_varint(p, len, &at, &n) < 0 || n > (len - at) / 7)
                return -EBADMSG;
        if (array_grow((void **)buf, cap, (size_t)n, sizeof(**buf)) < 0)
                return -ENOMEM;
        uint64_t unit = 0, prev_pid = 0;
        for (size_t k = 0; k < n; k++) {
                uint64_t du, pid, st, cl, a, i, c;
                if (get_varint(p, len, &at, &du) < 0 || du > (uint64_t)INT64_MAX - unit ||
                    get_varint(p, len, &at, &pid) < 0 || pid > INT32_MAX ||
                    (k > 0 && du == 0 && pid <= prev_pid) || get_varint(p, len, &at, &st) < 0 ||
                    get_varint(p, len, &at, &cl) < 0 || cl > len - at)
                        return -EBADMSG;
                const char *comm = (const char *)p + at;
                if (memchr(comm, 0, (size_t)cl)) /* a name was a C string */
                        return -EBADMSG;
                at += (size_t)cl;
                if (get_varint(p, len, &at, &a) < 0 || get_varint(p, len, &at, &i) < 0 ||
                    get_varint(p, len, &at, &c) < 0 || st > INT64_MAX || a > INT64_MAX ||
                    i > INT64_MAX || c > INT64_MAX)
                        return -EBADMSG;
                unit += du;
                prev_pid = pid;
                (*buf)[k] = (StorePackedProc){
                        .unit_id = (int64_t)unit,
                        .pid = (int)pid,
                        .start_time = st,
                        .comm = comm,
                        .comm_len = (size_t)cl,
                        .active_uj = a,
                        .idle_uj = i,
                        .cpu_ns = c,
                };
        }
        if (at != len)
                return -EBADMSG;
        *ret_n = (size_t)n;
        return 0;
}

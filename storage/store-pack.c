/* Packed raw ticks: once a tick is older than the hot window (STORE_HOT_US) and its minute is
 * rolled up, its unit_energy rows become one BLOB in tick_units (migration 5), about 6 bytes per
 * unit instead of about 23. Recent ticks stay plain rows, for sqlite3 and cheap writes.
 *
 * Format, all integers LEB128 varints, signed ones zigzag-coded (x/y below rounds down):
 *   layout (1 or 2), n, K = the CPU scale (1000 when every cpu_ns is whole microseconds, as
 *   cgroup usage_usec gives them, else 1), A = sum of active_uj, I = sum of idle_uj, C = sum of
 *   cpu_ns / K, then the unit ids, either (layout | 0x10) as the number of runs of consecutive
 *   ids and per run its first id - the end of the run before (the first from 0) and its length,
 *   or per unit before its values, the id - the previous one (the first from 0); and per unit,
 *   by increasing unit id,
 *     layout 1: active_uj, idle_uj - active_uj * I / A, cpu_ns / K - active_uj * C / A
 *     layout 2: cpu_ns / K, active_uj - (cpu_ns / K) * A / C, idle_uj - (cpu_ns / K) * I / C
 *   (a share is 0 when its divisor is). The attribution splits a tick's active and idle energy
 * by one weight with largest remainders: split by CPU time (layout 2) both energies are their
 * share of the CPU within a microjoule, split by cycles (layout 1) idle is the active energy's
 * share; either way the residuals take a byte. Each tick keeps the shorter layout. Decoding is
 * exact: the sums ride along.
 *
 * With PACK_RES_BITS (or-ed into the layout byte; written since schema 10) the two residuals of
 * a unit are not varints after its value but 2-bit codes, after every unit's id and value: the
 * zigzag-coded residual when it is 0, 1 or 2 (a residual of 0, -1 or 1), 3 when it is not; per
 * unit the first residual in the low two bits of a nibble, the second in the high two, unit k in
 * the low nibble of byte k/2 when k is even, the high one when odd; then, in unit order, the
 * zigzag varints of the residuals coded 3. A share rounded by largest remainder is its floor or
 * one more, so the residuals nearly always fit: half a byte per unit instead of two. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PACK_VERSION   1    /* requests */
#define PACK_BY_ACTIVE 1    /* units, layout 1 */
#define PACK_BY_CPU    2    /* units, layout 2 */
#define PACK_ID_RUNS   0x10 /* or-ed in: unit ids as runs of consecutive ids */
#define PACK_RES_BITS  0x20 /* or-ed in: residuals as 2-bit codes after the values (schema 10) */
#define PACK_FLAGS     (PACK_ID_RUNS | PACK_RES_BITS)

static size_t put_varint(uint8_t *p, uint64_t v)
{
        size_t n = 0;
        while (v >= 0x80) {
                p[n++] = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        p[n++] = (uint8_t)v;
        return n;
}

static int get_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *ret)
{
        uint64_t v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
                if (*at >= len)
                        return -EBADMSG;
                uint8_t b = p[(*at)++];
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

static uint64_t zigzag(int64_t v)
{
        return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
        return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static uint64_t share(uint64_t active, uint64_t total, uint64_t active_sum)
{
        if (active_sum == 0)
                return 0;
        return (uint64_t)((unsigned __int128)active * total / active_sum);
}

/* The encoded size of one layout: 1 + 5 varints + 4 varints and a nibble per unit. */
static size_t pack_one_bound(size_t n)
{
        return 1 + 5 * 10 + n * 41;
}

size_t store_pack_bound(size_t n)
{
        return 2 * pack_one_bound(n); /* both layouts are tried */
}

/* by_cpu false: layout 1 (active first); true: layout 2 (CPU first). */
static size_t pack_layout(const StoreUnitValue *u, size_t n, bool by_cpu, bool res_bits,
                          uint64_t scale, uint64_t a, uint64_t i, uint64_t c, uint8_t *buf)
{
        size_t o = 0;
        buf[o++] = by_cpu ? PACK_BY_CPU : PACK_BY_ACTIVE;
        o += put_varint(buf + o, n);
        o += put_varint(buf + o, scale);
        o += put_varint(buf + o, a);
        o += put_varint(buf + o, i);
        o += put_varint(buf + o, c);
        /* The unit ids: as runs of consecutive ids when that is shorter (services found at
         * start-up get consecutive ids and run every tick), else as deltas. */
        size_t runs = 0, runs_len = 0, deltas_len = 0;
        uint8_t scratch[10];
        for (size_t k = 0, start = 0; k < n; k++) {
                int64_t prev = k ? u[k - 1].unit_id : 0;
                deltas_len += put_varint(scratch, (uint64_t)(u[k].unit_id - prev));
                if (k + 1 == n || u[k + 1].unit_id != u[k].unit_id + 1) {
                        int64_t end = start ? u[start - 1].unit_id + 1 : 0;
                        runs_len += put_varint(scratch, (uint64_t)(u[start].unit_id - end)) +
                                    put_varint(scratch, k + 1 - start);
                        runs++;
                        start = k + 1;
                }
        }
        bool by_runs = runs_len + put_varint(scratch, runs) < deltas_len;
        if (by_runs) {
                buf[0] |= PACK_ID_RUNS;
                o += put_varint(buf + o, runs);
                for (size_t k = 0, start = 0; k < n; k++)
                        if (k + 1 == n || u[k + 1].unit_id != u[k].unit_id + 1) {
                                int64_t end = start ? u[start - 1].unit_id + 1 : 0;
                                o += put_varint(buf + o, (uint64_t)(u[start].unit_id - end));
                                o += put_varint(buf + o, k + 1 - start);
                                start = k + 1;
                        }
        }
        int64_t prev = 0;
        for (size_t k = 0; k < n; k++) {
                uint64_t cpu = u[k].cpu_ns / scale, act = u[k].active_uj;
                if (!by_runs)
                        o += put_varint(buf + o, (uint64_t)(u[k].unit_id - prev));
                prev = u[k].unit_id;
                uint64_t r1, r2;
                if (by_cpu) {
                        o += put_varint(buf + o, cpu);
                        r1 = zigzag((int64_t)(act - share(cpu, a, c)));
                        r2 = zigzag((int64_t)(u[k].idle_uj - share(cpu, i, c)));
                } else {
                        o += put_varint(buf + o, act);
                        r1 = zigzag((int64_t)(u[k].idle_uj - share(act, i, a)));
                        r2 = zigzag((int64_t)(cpu - share(act, c, a)));
                }
                if (!res_bits) {
                        o += put_varint(buf + o, r1);
                        o += put_varint(buf + o, r2);
                }
        }
        if (!res_bits)
                return o;
        /* The codes, then the residuals too large for them. The values are computed again
         * rather than kept: n is a few hundred at most and this runs once per packed tick. */
        buf[0] |= PACK_RES_BITS;
        size_t bits_at = o, n_bytes = (n + 1) / 2;
        memset(buf + bits_at, 0, n_bytes);
        o += n_bytes;
        for (size_t k = 0; k < n; k++) {
                uint64_t cpu = u[k].cpu_ns / scale, act = u[k].active_uj, r[2];
                if (by_cpu) {
                        r[0] = zigzag((int64_t)(act - share(cpu, a, c)));
                        r[1] = zigzag((int64_t)(u[k].idle_uj - share(cpu, i, c)));
                } else {
                        r[0] = zigzag((int64_t)(u[k].idle_uj - share(act, i, a)));
                        r[1] = zigzag((int64_t)(cpu - share(act, c, a)));
                }
                for (size_t j = 0; j < 2; j++) {
                        unsigned code = r[j] < 3 ? (unsigned)r[j] : 3;
                        buf[bits_at + k / 2] |= (uint8_t)(code << (4 * (k % 2) + 2 * j));
                        if (code == 3)
                                o += put_varint(buf + o, r[j]);
                }
        }
        return o;
}

size_t store_pack_units(const StoreUnitValue *u, size_t n, uint8_t *buf)
{
        uint64_t a = 0, i = 0, c = 0, scale = 1000;
        for (size_t k = 0; k < n; k++) {
                assert(k == 0 || u[k].unit_id > u[k - 1].unit_id);
                a += u[k].active_uj;
                i += u[k].idle_uj;
                if (u[k].cpu_ns % 1000 != 0)
                        scale = 1;
        }
        for (size_t k = 0; k < n; k++)
                c += u[k].cpu_ns / scale;
        /* Split by CPU time, the CPU predicts the energy best; split by cycles, the active
         * energy predicts the idle share. Both are tried, the shorter kept. */
        size_t best = pack_layout(u, n, false, true, scale, a, i, c, buf);
        uint8_t *alt = buf + pack_one_bound(n);
        for (int v = 1; v < 4; v++) {
                size_t l = pack_layout(u, n, v & 1, v < 2, scale, a, i, c, alt);
                if (l < best) {
                        memmove(buf, alt, l);
                        best = l;
                }
        }
        return best;
}

int store_unpack_units(const void *data, size_t len, StoreUnitValue **buf, size_t *cap,
                       size_t *ret_n)
{
        const uint8_t *p = data;
        size_t at = 0;
        uint64_t n, scale, a, i, c;
        if (len < 1 ||
            ((p[0] & ~PACK_FLAGS) != PACK_BY_ACTIVE && (p[0] & ~PACK_FLAGS) != PACK_BY_CPU))
                return -EBADMSG;
        bool by_runs = p[0] & PACK_ID_RUNS;
        bool res_bits = p[0] & PACK_RES_BITS;
        bool by_cpu = (p[at++] & ~PACK_FLAGS) == PACK_BY_CPU;
        /* every unit takes at least 3 bytes, or 1.5 with the codes */
        if (get_varint(p, len, &at, &n) < 0 || get_varint(p, len, &at, &scale) < 0 ||
            (scale != 1 && scale != 1000) || get_varint(p, len, &at, &a) < 0 ||
            get_varint(p, len, &at, &i) < 0 || get_varint(p, len, &at, &c) < 0 ||
            n > (res_bits ? (len - at) * 2 / 3 : (len - at) / 3))
                return -EBADMSG;
        if (n > *cap) {
                StoreUnitValue *nb = realloc(*buf, n * sizeof(*nb));
                if (!nb)
                        return -ENOMEM;
                *buf = nb;
                *cap = n;
        }
        /* Unit ids are SQLite rowids: increasing, at most INT64_MAX. Kept unsigned here so a
         * corrupt gap cannot overflow a signed sum. */
        uint64_t id = 0;
        if (by_runs) {
                uint64_t runs;
                size_t k = 0;
                if (get_varint(p, len, &at, &runs) < 0 || runs > n)
                        return -EBADMSG;
                for (uint64_t run = 0; run < runs; run++) {
                        uint64_t gap, rl, first;
                        if (get_varint(p, len, &at, &gap) < 0 || get_varint(p, len, &at, &rl) < 0 ||
                            rl > n - k || __builtin_add_overflow(id, gap, &first) ||
                            (rl > 0 &&
                             (first > (uint64_t)INT64_MAX || rl - 1 > (uint64_t)INT64_MAX - first)))
                                return -EBADMSG;
                        for (uint64_t j = 0; j < rl; j++)
                                (*buf)[k++].unit_id = (int64_t)(first + j);
                        id = first + rl;
                }
                if (k != n)
                        return -EBADMSG;
        }
        /* The sums ride along: values that do not add up to them are corrupt, and would give a
         * report a wrong total. 128 bits, so a residual that wrapped a value cannot hide. */
        unsigned __int128 sum_a = 0, sum_i = 0, sum_c = 0;
        /* With the codes, the values come first: each x waits in active_uj for its residuals. */
        size_t bits_at = 0;
        if (res_bits) {
                for (size_t k = 0; k < n; k++) {
                        uint64_t d = 0, x;
                        if ((!by_runs && get_varint(p, len, &at, &d) < 0) ||
                            get_varint(p, len, &at, &x) < 0)
                                return -EBADMSG;
                        StoreUnitValue *v = &(*buf)[k];
                        if (!by_runs) {
                                if ((k > 0 && d == 0) || d > (uint64_t)INT64_MAX - id)
                                        return -EBADMSG;
                                id += d;
                                v->unit_id = (int64_t)id;
                        }
                        v->active_uj = x;
                }
                bits_at = at;
                if ((len - at) < (n + 1) / 2)
                        return -EBADMSG;
                at += (n + 1) / 2;
        }
        for (size_t k = 0; k < n; k++) {
                uint64_t d = 0, x, r1, r2, cpu;
                if (res_bits) {
                        uint64_t r[2];
                        for (size_t j = 0; j < 2; j++) {
                                r[j] = (p[bits_at + k / 2] >> (4 * (k % 2) + 2 * j)) & 3;
                                if (r[j] == 3 && get_varint(p, len, &at, &r[j]) < 0)
                                        return -EBADMSG;
                        }
                        x = (*buf)[k].active_uj;
                        r1 = r[0];
                        r2 = r[1];
                } else if ((!by_runs && get_varint(p, len, &at, &d) < 0) ||
                           get_varint(p, len, &at, &x) < 0 || get_varint(p, len, &at, &r1) < 0 ||
                           get_varint(p, len, &at, &r2) < 0)
                        return -EBADMSG;
                StoreUnitValue *v = &(*buf)[k];
                if (!by_runs && !res_bits) {
                        if ((k > 0 && d == 0) || d > (uint64_t)INT64_MAX - id)
                                return -EBADMSG;
                        id += d;
                        v->unit_id = (int64_t)id;
                }
                if (by_cpu) {
                        cpu = x;
                        v->active_uj = share(x, a, c) + (uint64_t)unzigzag(r1);
                        v->idle_uj = share(x, i, c) + (uint64_t)unzigzag(r2);
                } else {
                        v->active_uj = x;
                        v->idle_uj = share(x, i, a) + (uint64_t)unzigzag(r1);
                        cpu = share(x, c, a) + (uint64_t)unzigzag(r2);
                }
                if (cpu > UINT64_MAX / scale)
                        return -EBADMSG;
                v->cpu_ns = cpu * scale;
                sum_a += v->active_uj;
                sum_i += v->idle_uj;
                sum_c += cpu;
        }
        if (sum_a != a || sum_i != i || sum_c != c)
                return -EBADMSG;
        *ret_n = (size_t)n;
        return 0;
}

/* Requests: version (1), n, then per entry: unit id delta, metric id, and the count as
 * varint(count * 2) when it is a whole number below 2^52, else varint(1) and the 8 bytes of the
 * double, little-endian (a history file may be read on another host). */
size_t store_pack_requests_bound(size_t n)
{
        return 1 + 10 + n * 40;
}

size_t store_pack_requests(const StoreRequestValue *q, size_t n, uint8_t *buf)
{
        size_t o = 0;
        buf[o++] = PACK_VERSION;
        o += put_varint(buf + o, n);
        int64_t prev = 0;
        for (size_t k = 0; k < n; k++) {
                assert(k == 0 || q[k].unit_id >= q[k - 1].unit_id);
                o += put_varint(buf + o, (uint64_t)(q[k].unit_id - prev));
                prev = q[k].unit_id;
                o += put_varint(buf + o, (uint64_t)q[k].metric_id);
                double c = q[k].count;
                if (c >= 0 && c < 4503599627370496.0 && c == floor(c)) {
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
        uint64_t n;
        if (len < 1 || p[at++] != PACK_VERSION)
                return -EBADMSG;
        /* every entry takes at least 3 bytes */
        if (get_varint(p, len, &at, &n) < 0 || n > (len - at) / 3)
                return -EBADMSG;
        if (n > *cap) {
                StoreRequestValue *nb = realloc(*buf, n * sizeof(*nb));
                if (!nb)
                        return -ENOMEM;
                *buf = nb;
                *cap = n;
        }
        uint64_t id = 0;
        for (size_t k = 0; k < n; k++) {
                uint64_t d, metric, c;
                if (get_varint(p, len, &at, &d) < 0 || get_varint(p, len, &at, &metric) < 0 ||
                    get_varint(p, len, &at, &c) < 0 || d > (uint64_t)INT64_MAX - id ||
                    metric > (uint64_t)INT64_MAX)
                        return -EBADMSG;
                id += d;
                double count;
                if (c & 1) {
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

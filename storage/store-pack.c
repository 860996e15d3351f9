/* Packed raw ticks: a tick's units are one BLOB in tick_units (migration 5), about 2 to 3 bytes
 * per unit instead of about 23 in unit_energy rows. Since schema 13 a tick is packed as it is
 * committed (store-packed.c); before, its plain rows were packed once its minute was rolled up
 * (store-rollup.c's pack_and_roll, which still packs the plain rows an older joulesd left).
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
 * one more, so the residuals nearly always fit: half a byte per unit instead of two.
 *
 * Since schema 11 two more flags may be or-ed in:
 *   PACK_APPORTIONED (layout 2, never with PACK_RES_BITS): no residuals at all. The packer found
 *   every unit's active and idle energy to be exactly attr_apportion's largest-remainder split of
 *   A and I by the units' CPU values, in unit order (common/attribution.h, rules 2 and 3), which
 *   is how joulesd splits a tick weighted by CPU time; the reader makes that split again.
 *   PACK_VALUE_BITS (with PACK_RES_BITS or PACK_APPORTIONED, at most PACK_BITS_MAX_UNITS
 *   units): without runs, every unit id delta first; then varint lmin and varint w, then a bit
 *   stream, least significant bit first: per unit, the code of L - lmin, L being the bit length
 *   of its value, then the value's low L - 1 bits (its leading 1 is implied); zero bits pad the
 *   last byte. Then the residual codes, if any. The code of L - lmin is w bits (w from 1 to 7),
 *   or, when w is 0, a canonical Huffman code: varint m (the symbols 0 to m - 1) before the bit
 *   stream, which starts with m code lengths of 4 bits (0: a symbol not used), the codes
 *   assigned as DEFLATE does (RFC 1951, 3.2.2) and written from their first bit. A 15-bit value
 *   takes 14 bits and its length code instead of 3 varint bytes.
 * Since schema 12, with PACK_RES_BITS or PACK_APPORTIONED (the values before any residual),
 * PACK_SHORT may be or-ed in: the header leaves out K, given by PACK_K1000 (1000 when set, else
 * 1), and the sum of the values (A in layout 1, C in layout 2), which the reader adds up.
 * Every candidate is written and the shortest kept, so a tick never grows; a blob has no byte
 * after its last field. */

#include "storage/store.h"
#include "storage/store-internal.h"
#include "storage/store-varint.h"

#include "common/attribution.h"
#include "common/util.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PACK_BY_ACTIVE   1    /* units, layout 1 */
#define PACK_BY_CPU      2    /* units, layout 2 */
#define PACK_SHORT       0x04 /* or-ed in: neither K nor the sum of the values written (12) */
#define PACK_K1000       0x08 /* or-ed in, with PACK_SHORT: K is 1000 (12) */
#define PACK_ID_RUNS     0x10 /* or-ed in: unit ids as runs of consecutive ids */
#define PACK_RES_BITS    0x20 /* or-ed in: residuals as 2-bit codes after the values (schema 10) */
#define PACK_APPORTIONED 0x40 /* or-ed in, layout 2: no residuals, the split made again (11) */
#define PACK_VALUE_BITS  0x80 /* or-ed in: values as bit lengths and mantissas (schema 11) */
#define PACK_FLAGS                                                                                 \
        (PACK_SHORT | PACK_K1000 | PACK_ID_RUNS | PACK_RES_BITS | PACK_APPORTIONED |               \
         PACK_VALUE_BITS)
/* A unit may take a single bit with bit values: the most a tick holds that way, so that a small
 * corrupt blob cannot ask for a large allocation (joulesd stores hundreds of units a tick). */
#define PACK_BITS_MAX_UNITS 65536

static uint64_t share(uint64_t active, uint64_t total, uint64_t active_sum)
{
        if (active_sum == 0)
                return 0;
        return (uint64_t)((unsigned __int128)active * total / active_sum);
}

/* The encoded size of one layout: 1 + 7 varints + 4 varints and a nibble per unit. */
static size_t pack_one_bound(size_t n)
{
        return 1 + 7 * 10 + n * 41;
}

size_t store_pack_bound(size_t n)
{
        return 2 * pack_one_bound(n); /* the candidates are written in turn, the shortest kept */
}

/* A bit stream, least significant bit first within each byte (PACK_VALUE_BITS). */
typedef struct BitsOut {
        uint8_t *p;
        size_t o;
        uint64_t acc;
        unsigned n; /* bits waiting in acc, < 8 between calls */
} BitsOut;

static void bits_put(BitsOut *b, uint64_t v, unsigned w)
{
        while (w > 0) {
                unsigned take = w < 32 ? w : 32;
                b->acc |= (v & ((UINT64_C(1) << take) - 1)) << b->n;
                b->n += take;
                v >>= take;
                w -= take;
                for (; b->n >= 8; b->n -= 8, b->acc >>= 8)
                        b->p[b->o++] = (uint8_t)b->acc;
        }
}

static size_t bits_end(BitsOut *b)
{
        if (b->n > 0)
                b->p[b->o++] = (uint8_t)b->acc;
        return b->o;
}

typedef struct BitsIn {
        const uint8_t *p;
        size_t len, at;
        unsigned acc, n; /* bits of p[at - 1] not read yet */
} BitsIn;

static int bits_get(BitsIn *b, unsigned w, uint64_t *ret)
{
        uint64_t v = 0;
        for (unsigned got = 0; got < w;) {
                if (b->n == 0) {
                        if (b->at >= b->len)
                                return -EBADMSG;
                        b->acc = b->p[b->at++];
                        b->n = 8;
                }
                unsigned take = w - got < b->n ? w - got : b->n;
                v |= (uint64_t)(b->acc & ((1u << take) - 1)) << got;
                b->acc >>= take;
                b->n -= take;
                got += take;
        }
        *ret = v;
        return 0;
}

static unsigned bit_length(uint64_t x)
{
        return x ? 64 - (unsigned)__builtin_clzll(x) : 0;
}

/* The bit lengths of a tick's values (PACK_VALUE_BITS), as symbols L - lmin, 0..m-1: w bits each,
 * or (w = 0) a canonical Huffman code, its code lengths given first, 4 bits per symbol (0: not
 * used), the codes as DEFLATE assigns them (RFC 1951, 3.2.2), each written from its first bit. */
#define LEN_SYMBOLS  65
#define LEN_MAX_BITS 15

typedef struct LenCode {
        unsigned lmin, m, w;
        uint8_t bits[LEN_SYMBOLS];  /* each symbol's code length (w = 0) */
        uint16_t code[LEN_SYMBOLS]; /* the encoder's codes */
        uint16_t count[LEN_MAX_BITS + 1], sorted[LEN_SYMBOLS]; /* the decoder's table */
} LenCode;

/* Huffman code lengths for the symbols' counts; false when one would pass LEN_MAX_BITS (only
 * with thousands of units in a tick), and the fixed width is used. */
static bool len_huffman(const size_t *freq, unsigned m, uint8_t *bits)
{
        size_t weight[2 * LEN_SYMBOLS];
        int parent[2 * LEN_SYMBOLS];
        bool done[2 * LEN_SYMBOLS] = {false};
        unsigned nodes = 0, used = 0;
        int leaf[LEN_SYMBOLS];
        for (unsigned k = 0; k < m; k++) {
                bits[k] = 0;
                leaf[k] = -1;
                if (freq[k] > 0) {
                        leaf[k] = (int)nodes;
                        parent[nodes] = -1;
                        weight[nodes++] = freq[k];
                        used++;
                }
        }
        if (used == 1) {
                for (unsigned k = 0; k < m; k++)
                        bits[k] = freq[k] > 0;
                return true;
        }
        for (unsigned left = used; left > 1; left--) {
                int a = -1, b = -1;
                for (unsigned j = 0; j < nodes; j++) {
                        if (done[j])
                                continue;
                        if (a < 0 || weight[j] < weight[a]) {
                                b = a;
                                a = (int)j;
                        } else if (b < 0 || weight[j] < weight[b]) {
                                b = (int)j;
                        }
                }
                done[a] = done[b] = true;
                parent[a] = parent[b] = (int)nodes;
                parent[nodes] = -1;
                weight[nodes++] = weight[a] + weight[b];
        }
        for (unsigned k = 0; k < m; k++) {
                unsigned depth = 0;
                for (int j = leaf[k]; j >= 0 && parent[j] >= 0; j = parent[j])
                        depth++;
                if (depth > LEN_MAX_BITS)
                        return false;
                bits[k] = (uint8_t)depth;
        }
        return true;
}

/* The canonical codes of c->bits (encoder) and the decoder's table; -EBADMSG when the lengths
 * are no prefix code (more codes than a length has room for) or there is none. */
static int len_canonical(LenCode *c)
{
        memset(c->count, 0, sizeof(c->count));
        for (unsigned k = 0; k < c->m; k++)
                c->count[c->bits[k]]++;
        c->count[0] = 0;
        int left = 1;
        for (unsigned l = 1; l <= LEN_MAX_BITS; l++) {
                left = 2 * left - c->count[l];
                if (left < 0)
                        return -EBADMSG;
        }
        if (left == 1 << LEN_MAX_BITS)
                return -EBADMSG;
        uint16_t next[LEN_MAX_BITS + 2], offs[LEN_MAX_BITS + 2];
        next[1] = 0;
        offs[1] = 0;
        for (unsigned l = 1; l <= LEN_MAX_BITS; l++) {
                next[l + 1] = (uint16_t)((next[l] + c->count[l]) << 1);
                offs[l + 1] = (uint16_t)(offs[l] + c->count[l]);
        }
        for (unsigned k = 0; k < c->m; k++)
                if (c->bits[k]) {
                        c->code[k] = next[c->bits[k]]++;
                        c->sorted[offs[c->bits[k]]++] = (uint16_t)k;
                }
        return 0;
}

static void len_put(BitsOut *b, const LenCode *c, unsigned sym)
{
        if (c->w > 0) {
                bits_put(b, sym, c->w);
                return;
        }
        for (unsigned j = c->bits[sym]; j-- > 0;)
                bits_put(b, c->code[sym] >> j, 1);
}

static int len_get(BitsIn *b, const LenCode *c, unsigned *sym)
{
        uint64_t v;
        if (c->w > 0) {
                if (bits_get(b, c->w, &v) < 0 || v >= c->m)
                        return -EBADMSG;
                *sym = (unsigned)v;
                return 0;
        }
        /* puff.c's decode: the codes of each length are consecutive, in symbol order */
        unsigned code = 0, first = 0, index = 0;
        for (unsigned l = 1; l <= LEN_MAX_BITS; l++) {
                if (bits_get(b, 1, &v) < 0)
                        return -EBADMSG;
                code |= (unsigned)v;
                if (code - first < c->count[l]) {
                        *sym = c->sorted[index + code - first];
                        return 0;
                }
                index += c->count[l];
                first = (first + c->count[l]) << 1;
                code <<= 1;
        }
        return -EBADMSG;
}

/* A unit's value and its two residuals in a layout (see the format above). */
static uint64_t pack_value(const StoreUnitValue *u, bool by_cpu, uint64_t scale)
{
        return by_cpu ? u->cpu_ns / scale : u->active_uj;
}

static void pack_residuals(const StoreUnitValue *u, bool by_cpu, uint64_t scale, uint64_t a,
                           uint64_t i, uint64_t c, uint64_t r[2])
{
        uint64_t cpu = u->cpu_ns / scale, act = u->active_uj;
        if (by_cpu) {
                r[0] = zigzag((int64_t)(act - share(cpu, a, c)));
                r[1] = zigzag((int64_t)(u->idle_uj - share(cpu, i, c)));
        } else {
                r[0] = zigzag((int64_t)(u->idle_uj - share(act, i, a)));
                r[1] = zigzag((int64_t)(cpu - share(act, c, a)));
        }
}

/* True when the units' active and idle energy are exactly attr_apportion's split of their sums
 * by the units' CPU values, in unit order: the split the reader makes again (PACK_APPORTIONED).
 * The daemon splits by the CPU time of the units it stores, in its own order: a tie that order
 * broke otherwise does not match, and the tick keeps its residuals. */
static bool pack_apportioned(const StoreUnitValue *u, size_t n, uint64_t scale, uint64_t a,
                             uint64_t i)
{
        if (n == 0 || n > PACK_BITS_MAX_UNITS)
                return false;
        uint64_t *w = malloc(3 * n * sizeof(*w));
        if (!w)
                return false; /* the residuals then */
        uint64_t *act = w + n, *idle = w + 2 * n;
        for (size_t k = 0; k < n; k++)
                w[k] = u[k].cpu_ns / scale;
        bool same = attr_apportion(a, w, n, act) == 0 && attr_apportion(i, w, n, idle) == 0;
        for (size_t k = 0; same && k < n; k++)
                same = act[k] == u[k].active_uj && idle[k] == u[k].idle_uj;
        free(w);
        return same;
}

/* One candidate: layout by_cpu (false: layout 1, active first; true: layout 2, CPU first) with
 * the flags PACK_RES_BITS, PACK_APPORTIONED and PACK_VALUE_BITS as asked. */
static size_t pack_layout(const StoreUnitValue *u, size_t n, bool by_cpu, unsigned flags,
                          uint64_t scale, uint64_t a, uint64_t i, uint64_t c, uint8_t *buf)
{
        size_t o = 0;
        /* the values first: their sum is left for the reader to add up */
        if (flags & (PACK_RES_BITS | PACK_APPORTIONED))
                flags |= PACK_SHORT | (scale == 1000 ? PACK_K1000 : 0);
        bool short_header = flags & PACK_SHORT;
        buf[o++] = by_cpu ? PACK_BY_CPU : PACK_BY_ACTIVE;
        o += put_varint(buf + o, n);
        if (!short_header)
                o += put_varint(buf + o, scale);
        if (!short_header || by_cpu)
                o += put_varint(buf + o, a);
        o += put_varint(buf + o, i);
        if (!short_header || !by_cpu)
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
        bool value_bits = flags & PACK_VALUE_BITS;
        bool res_own = flags & (PACK_RES_BITS | PACK_APPORTIONED); /* not after each value */
        buf[0] |= (uint8_t)(flags | (by_runs ? PACK_ID_RUNS : 0));
        if (by_runs) {
                o += put_varint(buf + o, runs);
                for (size_t k = 0, start = 0; k < n; k++)
                        if (k + 1 == n || u[k + 1].unit_id != u[k].unit_id + 1) {
                                int64_t end = start ? u[start - 1].unit_id + 1 : 0;
                                o += put_varint(buf + o, (uint64_t)(u[start].unit_id - end));
                                o += put_varint(buf + o, k + 1 - start);
                                start = k + 1;
                        }
        } else if (value_bits) {
                for (size_t k = 0; k < n; k++)
                        o += put_varint(buf + o,
                                        (uint64_t)(u[k].unit_id - (k ? u[k - 1].unit_id : 0)));
        }
        if (value_bits) {
                LenCode lc = {.lmin = 64};
                unsigned lmax = 0;
                for (size_t k = 0; k < n; k++) {
                        unsigned l = bit_length(pack_value(&u[k], by_cpu, scale));
                        lc.lmin = l < lc.lmin ? l : lc.lmin;
                        lmax = l > lmax ? l : lmax;
                }
                lc.m = lmax >= lc.lmin ? lmax - lc.lmin + 1 : 1;
                /* the Huffman code when it and its table are shorter than w bits each */
                size_t freq[LEN_SYMBOLS] = {0}, huff = 8 + 4 * (size_t)lc.m; /* m, table */
                for (size_t k = 0; k < n; k++)
                        freq[bit_length(pack_value(&u[k], by_cpu, scale)) - lc.lmin]++;
                unsigned w = lc.m > 1 ? bit_length(lc.m - 1) : 1;
                bool use_huff = len_huffman(freq, lc.m, lc.bits) && len_canonical(&lc) == 0;
                for (unsigned k = 0; use_huff && k < lc.m; k++)
                        huff += freq[k] * lc.bits[k];
                lc.w = use_huff && huff < n * w ? 0 : w;
                o += put_varint(buf + o, lc.lmin);
                o += put_varint(buf + o, lc.w);
                if (lc.w == 0)
                        o += put_varint(buf + o, lc.m);
                BitsOut b = {.p = buf, .o = o};
                for (unsigned k = 0; lc.w == 0 && k < lc.m; k++)
                        bits_put(&b, lc.bits[k], 4);
                for (size_t k = 0; k < n; k++) {
                        uint64_t x = pack_value(&u[k], by_cpu, scale);
                        unsigned l = bit_length(x);
                        len_put(&b, &lc, l - lc.lmin);
                        if (l >= 2)
                                bits_put(&b, x, l - 1); /* the leading 1 is implied */
                }
                o = bits_end(&b);
        } else {
                for (size_t k = 0; k < n; k++) {
                        if (!by_runs)
                                o += put_varint(buf + o, (uint64_t)(u[k].unit_id -
                                                                    (k ? u[k - 1].unit_id : 0)));
                        o += put_varint(buf + o, pack_value(&u[k], by_cpu, scale));
                        if (!res_own) {
                                uint64_t r[2];
                                pack_residuals(&u[k], by_cpu, scale, a, i, c, r);
                                o += put_varint(buf + o, r[0]);
                                o += put_varint(buf + o, r[1]);
                        }
                }
        }
        if (!(flags & PACK_RES_BITS))
                return o;
        /* The codes, then the residuals too large for them. The values are computed again
         * rather than kept: n is a few hundred at most and this runs once per packed tick. */
        size_t bits_at = o, n_bytes = (n + 1) / 2;
        memset(buf + bits_at, 0, n_bytes);
        o += n_bytes;
        for (size_t k = 0; k < n; k++) {
                uint64_t r[2];
                pack_residuals(&u[k], by_cpu, scale, a, i, c, r);
                for (size_t j = 0; j < 2; j++) {
                        unsigned code = r[j] < 3 ? (unsigned)r[j] : 3;
                        buf[bits_at + k / 2] |= (uint8_t)(code << (4 * (k % 2) + 2 * j));
                        if (code == 3)
                                o += put_varint(buf + o, r[j]);
                }
        }
        return o;
}

/* Whether a tick's units can be packed: ids not negative, and sums that fit in 64 bits, as the
 * BLOB's header and its reader need (joulesd's never come near; a foreign or corrupt file's
 * might, and its rows must not be lost). */
bool store_pack_units_fit(const StoreUnitValue *u, size_t n)
{
        unsigned __int128 a = 0, i = 0, c = 0;
        for (size_t k = 0; k < n; k++) {
                if (u[k].unit_id < 0)
                        return false;
                a += u[k].active_uj;
                i += u[k].idle_uj;
                c += u[k].cpu_ns;
        }
        return a <= UINT64_MAX && i <= UINT64_MAX && c <= UINT64_MAX;
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
        /* Split by CPU time, the CPU predicts the energy best, and when the energies are the
         * attribution's own split of the sums no residual is needed; split by cycles, the
         * active energy predicts the idle share. Each candidate is written, the shortest kept. */
        bool apportioned = pack_apportioned(u, n, scale, a, i);
        bool bits_ok = n <= PACK_BITS_MAX_UNITS;
        static const struct {
                bool by_cpu;
                unsigned flags;
        } cands[] = {
                {false, PACK_RES_BITS},   {false, PACK_RES_BITS | PACK_VALUE_BITS},   {false, 0},
                {true, PACK_RES_BITS},    {true, PACK_RES_BITS | PACK_VALUE_BITS},    {true, 0},
                {true, PACK_APPORTIONED}, {true, PACK_APPORTIONED | PACK_VALUE_BITS},
        };
        size_t best = SIZE_MAX;
        uint8_t *alt = buf + pack_one_bound(n);
        for (size_t k = 0; k < ELEMENTSOF(cands); k++) {
                /* split again when it can be (no residuals beats any), bit values for a tick of
                 * at most PACK_BITS_MAX_UNITS */
                if ((cands[k].by_cpu && apportioned) != !!(cands[k].flags & PACK_APPORTIONED) ||
                    ((cands[k].flags & PACK_VALUE_BITS) && !bits_ok))
                        continue;
                uint8_t *to = best == SIZE_MAX ? buf : alt;
                size_t l = pack_layout(u, n, cands[k].by_cpu, cands[k].flags, scale, a, i, c, to);
                if (l < best) {
                        if (to != buf)
                                memmove(buf, alt, l);
                        best = l;
                }
        }
        return best;
}

/* The unit ids of a blob without runs, all before the values (PACK_VALUE_BITS), or one before
 * each value: increasing, at most INT64_MAX. */
static int unpack_id(const uint8_t *p, size_t len, size_t *at, size_t k, uint64_t *id,
                     StoreUnitValue *v)
{
        uint64_t d;
        if (get_varint(p, len, at, &d) < 0 || (k > 0 && d == 0) || d > (uint64_t)INT64_MAX - *id)
                return -EBADMSG;
        *id += d;
        v->unit_id = (int64_t)*id;
        return 0;
}

/* The split the packer found to be attr_apportion's (PACK_APPORTIONED), made again from the CPU
 * values waiting in active_uj. */
static int unpack_apportioned(StoreUnitValue *u, size_t n, uint64_t scale, uint64_t a, uint64_t i)
{
        uint64_t *w = malloc(3 * n * sizeof(*w) + 1);
        if (!w)
                return -ENOMEM;
        uint64_t *act = w + n, *idle = w + 2 * n;
        int r = 0;
        for (size_t k = 0; k < n && r == 0; k++) {
                w[k] = u[k].active_uj;
                if (w[k] > UINT64_MAX / scale)
                        r = -EBADMSG;
        }
        if (r == 0 && (attr_apportion(a, w, n, act) < 0 || attr_apportion(i, w, n, idle) < 0))
                r = -EBADMSG; /* energy but no CPU to split it by */
        for (size_t k = 0; r == 0 && k < n; k++)
                u[k] = (StoreUnitValue){u[k].unit_id, act[k], idle[k], w[k] * scale};
        free(w);
        return r;
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
        bool apportioned = p[0] & PACK_APPORTIONED;
        bool value_bits = p[0] & PACK_VALUE_BITS;
        bool short_header = p[0] & PACK_SHORT;
        bool by_cpu = (p[at++] & ~PACK_FLAGS) == PACK_BY_CPU;
        bool res_own = res_bits || apportioned;
        if ((apportioned && (res_bits || !by_cpu)) || (value_bits && !res_own) ||
            (short_header && !res_own) || ((p[0] & PACK_K1000) && !short_header))
                return -EBADMSG;
        scale = (p[0] & PACK_K1000) ? 1000 : 1;
        a = c = 0; /* with the short header, the value's sum is added up below */
        /* every unit takes at least 3 bytes, 1.5 with the codes, 1 bit with bit values (whose
         * length code is never empty) or a byte with varint values */
        if (get_varint(p, len, &at, &n) < 0 ||
            (!short_header && get_varint(p, len, &at, &scale) < 0) ||
            (scale != 1 && scale != 1000) ||
            ((!short_header || by_cpu) && get_varint(p, len, &at, &a) < 0) ||
            get_varint(p, len, &at, &i) < 0 ||
            ((!short_header || !by_cpu) && get_varint(p, len, &at, &c) < 0) ||
            (value_bits && n > PACK_BITS_MAX_UNITS) ||
            n > (value_bits    ? (len - at) * 8
                 : apportioned ? (len - at)
                 : res_bits    ? (len - at) * 2 / 3
                               : (len - at) / 3))
                return -EBADMSG;
        if (array_grow((void **)buf, cap, (size_t)n, sizeof(**buf)) < 0)
                return -ENOMEM;
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
        } else if (value_bits) {
                for (size_t k = 0; k < n; k++)
                        if (unpack_id(p, len, &at, k, &id, &(*buf)[k]) < 0)
                                return -EBADMSG;
        }
        /* The sums ride along: values that do not add up to them are corrupt, and would give a
         * report a wrong total. 128 bits, so a residual that wrapped a value cannot hide. */
        unsigned __int128 sum_a = 0, sum_i = 0, sum_c = 0;
        /* With the codes or the split made again, the values come first: each x waits in
         * active_uj for its residuals. */
        size_t bits_at = 0;
        if (value_bits) {
                uint64_t lmin, w, m = 0;
                if (get_varint(p, len, &at, &lmin) < 0 || get_varint(p, len, &at, &w) < 0 ||
                    lmin > 64 || w > 7 || (w == 0 && get_varint(p, len, &at, &m) < 0) ||
                    (w == 0 && (m < 1 || m > LEN_SYMBOLS - lmin)))
                        return -EBADMSG;
                LenCode lc = {.lmin = (unsigned)lmin,
                              .w = (unsigned)w,
                              .m = w ? LEN_SYMBOLS - (unsigned)lmin : (unsigned)m};
                BitsIn b = {.p = p, .len = len, .at = at};
                for (unsigned k = 0; w == 0 && k < lc.m; k++) {
                        uint64_t bl;
                        if (bits_get(&b, 4, &bl) < 0)
                                return -EBADMSG;
                        lc.bits[k] = (uint8_t)bl;
                }
                if (w == 0 && len_canonical(&lc) < 0)
                        return -EBADMSG;
                for (size_t k = 0; k < n; k++) {
                        uint64_t x = 0;
                        unsigned sym;
                        if (len_get(&b, &lc, &sym) < 0)
                                return -EBADMSG;
                        unsigned l = lc.lmin + sym;
                        if (l >= 2 && bits_get(&b, l - 1, &x) < 0)
                                return -EBADMSG;
                        (*buf)[k].active_uj = l ? x | UINT64_C(1) << (l - 1) : 0;
                }
                if (b.acc != 0) /* the padding of the last byte */
                        return -EBADMSG;
                at = b.at;
        } else if (res_own) {
                for (size_t k = 0; k < n; k++) {
                        uint64_t x;
                        if ((!by_runs && unpack_id(p, len, &at, k, &id, &(*buf)[k]) < 0) ||
                            get_varint(p, len, &at, &x) < 0)
                                return -EBADMSG;
                        (*buf)[k].active_uj = x;
                }
        }
        if (short_header) {
                /* the values wait in active_uj; their sum must fit where the writer's did */
                unsigned __int128 sum = 0;
                for (size_t k = 0; k < n; k++)
                        sum += (*buf)[k].active_uj;
                if (sum > UINT64_MAX)
                        return -EBADMSG;
                *(by_cpu ? &c : &a) = (uint64_t)sum;
        }
        if (res_bits) {
                bits_at = at;
                if ((len - at) < (n + 1) / 2)
                        return -EBADMSG;
                at += (n + 1) / 2;
        }
        if (apportioned) {
                int r = unpack_apportioned(*buf, (size_t)n, scale, a, i);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < n && !apportioned; k++) {
                uint64_t x, r1, r2, cpu;
                StoreUnitValue *v = &(*buf)[k];
                if (res_bits) {
                        uint64_t r[2];
                        for (size_t j = 0; j < 2; j++) {
                                r[j] = (p[bits_at + k / 2] >> (4 * (k % 2) + 2 * j)) & 3;
                                if (r[j] == 3 && get_varint(p, len, &at, &r[j]) < 0)
                                        return -EBADMSG;
                        }
                        x = v->active_uj;
                        r1 = r[0];
                        r2 = r[1];
                } else if ((!by_runs && unpack_id(p, len, &at, k, &id, v) < 0) ||
                           get_varint(p, len, &at, &x) < 0 || get_varint(p, len, &at, &r1) < 0 ||
                           get_varint(p, len, &at, &r2) < 0)
                        return -EBADMSG;
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
        }
        for (size_t k = 0; k < n; k++) {
                sum_a += (*buf)[k].active_uj;
                sum_i += (*buf)[k].idle_uj;
                sum_c += (*buf)[k].cpu_ns / scale;
        }
        if (sum_a != a || sum_i != i || sum_c != c || at != len)
                return -EBADMSG;
        *ret_n = (size_t)n;
        return 0;
}

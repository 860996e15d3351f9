#include "common/attribution.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

typedef unsigned __int128 u128;

/* One apportioning job: n weights from an array, optionally followed by one more unit (the
 * "exited/other" bucket of a per-process split) whose weight and output live elsewhere. */
typedef struct Apportion {
        uint64_t total;
        const uint64_t *weights;
        size_t n;
        bool has_extra;
        uint64_t extra_w;
        u128 sum; /* of all weights, extra included; > 0 */
        uint64_t *out;
        uint64_t *out_extra;
} Apportion;

static inline size_t ap_count(const Apportion *a)
{
        return a->n + (a->has_extra ? 1 : 0);
}

static inline uint64_t ap_weight(const Apportion *a, size_t i)
{
        return i < a->n ? a->weights[i] : a->extra_w;
}

static inline uint64_t *ap_out(const Apportion *a, size_t i)
{
        return i < a->n ? &a->out[i] : a->out_extra;
}

/* The order in which units receive the left-over microjoules, as one 256-bit number compared
 * word by word (w[0] most significant): remainder, then weight, then lower index first. Keys are
 * unique because the index is part of them. */
typedef struct Key {
        uint64_t w[4];
} Key;

#define KEY_BYTES 32
/* Candidate sets this small are sorted outright rather than narrowed further. */
#define SMALL_SET 32

/* Computes unit i's key from its floor, which out holds during selection. Returns false when the
 * remainder is 0: such a unit never gets an extra microjoule, because the number of extras is
 * the sum of the fractional parts, each < 1, so it is less than the number of non-zero ones. */
static bool ap_key(const Apportion *a, size_t i, Key *ret)
{
        uint64_t w = ap_weight(a, i);
        if (w == 0)
                return false;
        /* total * w < 2^128, and floor * sum <= total * w: no overflow. */
        u128 r = (u128)a->total * w - (u128)*ap_out(a, i) * a->sum;
        if (r == 0)
                return false;
        ret->w[0] = (uint64_t)(r >> 64);
        ret->w[1] = (uint64_t)r;
        ret->w[2] = w;
        ret->w[3] = ~(uint64_t)i;
        return true;
}

static int key_cmp(const Key *a, const Key *b)
{
        for (size_t j = 0; j < 4; j++)
                if (a->w[j] != b->w[j])
                        return a->w[j] < b->w[j] ? -1 : 1;
        return 0;
}

static unsigned key_byte(const Key *k, unsigned level)
{
        return (unsigned)(k->w[level / 8] >> (56 - 8 * (level % 8))) & 0xff;
}

static void key_set_byte(Key *k, unsigned level, unsigned b)
{
        unsigned sh = 56 - 8 * (level % 8);
        k->w[level / 8] = (k->w[level / 8] & ~(UINT64_C(0xff) << sh)) | ((uint64_t)b << sh);
}

/* True when the first nbytes bytes of a and b are equal. */
static bool key_prefix_eq(const Key *a, const Key *b, unsigned nbytes)
{
        unsigned j = 0;
        for (; j < nbytes / 8; j++)
                if (a->w[j] != b->w[j])
                        return false;
        if (nbytes % 8 == 0)
                return true;
        uint64_t mask = ~UINT64_C(0) << (64 - 8 * (nbytes % 8));
        return ((a->w[j] ^ b->w[j]) & mask) == 0;
}

/* Index of the first byte where a and b differ; KEY_BYTES when equal. */
static unsigned key_first_diff(const Key *a, const Key *b)
{
        for (unsigned j = 0; j < 4; j++) {
                uint64_t x = a->w[j] ^ b->w[j];
                if (x != 0)
                        return j * 8 + (unsigned)__builtin_clzll(x) / 8;
        }
        return KEY_BYTES;
}

/* Finds the need-th largest key (need >= 1) among the units with a non-zero remainder, without
 * memory proportional to n: a radix selection over the key's bytes. Each round finds the first
 * byte on which the remaining candidates differ (so runs of equal bytes, such as the high bytes
 * of small remainders, cost one pass), counts the candidates per value of that byte and keeps
 * the bucket holding the need-th largest. Once few candidates remain they are sorted. */
static Key ap_select(const Apportion *a, size_t need)
{
        size_t m = ap_count(a);
        Key prefix = {{0}};
        unsigned level = 0; /* bytes of prefix every candidate shares */

        for (;;) {
                Key small[SMALL_SET], lo = {{0}}, hi = {{0}}, k;
                size_t cand = 0;

                for (size_t i = 0; i < m; i++) {
                        if (!ap_key(a, i, &k) || !key_prefix_eq(&k, &prefix, level))
                                continue;
                        if (cand < SMALL_SET)
                                small[cand] = k;
                        if (cand == 0 || key_cmp(&k, &lo) < 0)
                                lo = k;
                        if (cand == 0 || key_cmp(&k, &hi) > 0)
                                hi = k;
                        cand++;
                }
                assert(cand >= need);

                if (cand <= SMALL_SET) {
                        /* Insertion sort, largest first. */
                        for (size_t i = 1; i < cand; i++) {
                                Key x = small[i];
                                size_t j = i;
                                for (; j > 0 && key_cmp(&small[j - 1], &x) < 0; j--)
                                        small[j] = small[j - 1];
                                small[j] = x;
                        }
                        return small[need - 1];
                }

                /* More than one candidate, and keys are unique: they differ somewhere after the
                 * shared prefix. */
                level = key_first_diff(&lo, &hi);
                assert(level < KEY_BYTES);
                prefix = lo;

                size_t hist[256] = {0};
                for (size_t i = 0; i < m; i++)
                        if (ap_key(a, i, &k) && key_prefix_eq(&k, &prefix, level))
                                hist[key_byte(&k, level)]++;

                unsigned b = 255;
                for (; hist[b] < need; b--) {
                        assert(b > 0);
                        need -= hist[b];
                }
                key_set_byte(&prefix, level, b);
                level++;
        }
}

/* Puts the need largest of the n unique keys (need < n) first, in no particular order: a
 * quickselect, finished by an insertion sort once the range is small. */
static void keys_top(Key *k, size_t n, size_t need)
{
        size_t lo = 0, hi = n;
        while (hi - lo > SMALL_SET) {
                /* Median of three as the pivot, moved to the end of the range. */
                size_t mid = lo + (hi - lo) / 2, last = hi - 1;
                Key t;
                if (key_cmp(&k[mid], &k[lo]) > 0)
                        t = k[mid], k[mid] = k[lo], k[lo] = t;
                if (key_cmp(&k[last], &k[lo]) > 0)
                        t = k[last], k[last] = k[lo], k[lo] = t;
                if (key_cmp(&k[mid], &k[last]) > 0)
                        t = k[mid], k[mid] = k[last], k[last] = t;
                /* Larger keys to the front: k[lo..store) > pivot > k[store+1..hi). */
                size_t store = lo;
                for (size_t i = lo; i < last; i++)
                        if (key_cmp(&k[i], &k[last]) > 0) {
                                t = k[i], k[i] = k[store], k[store] = t;
                                store++;
                        }
                t = k[store], k[store] = k[last], k[last] = t;
                if (need == store || need == store + 1)
                        return;
                if (need < store)
                        hi = store;
                else
                        lo = store + 1;
        }
        /* Insertion sort of the rest, largest first. */
        for (size_t i = lo + 1; i < hi; i++) {
                Key x = k[i];
                size_t j = i;
                for (; j > lo && key_cmp(&k[j - 1], &x) < 0; j--)
                        k[j] = k[j - 1];
                k[j] = x;
        }
}

/* Jobs with at most this many units keep their keys on the stack (8 KiB), computed once with the
 * floors; larger ones take the radix selection, which recomputes them but needs no memory. */
#define AP_CACHED 256

/* Largest-remainder apportioning of a->total by the weights; a->sum must be > 0. */
static void ap_run(const Apportion *a)
{
        size_t m = ap_count(a);
        uint64_t given = 0;
        Key cache[AP_CACHED];
        size_t nk = 0;

        assert(a->sum > 0);
        for (size_t i = 0; i < m; i++) {
                uint64_t w = ap_weight(a, i);
                if (w == 0) {
                        *ap_out(a, i) = 0;
                        continue;
                }
                /* <= total because w <= sum. */
                u128 tw = (u128)a->total * w;
                uint64_t f = (uint64_t)(tw / a->sum);
                *ap_out(a, i) = f;
                given += f;
                /* The same key as ap_key's. */
                u128 r = tw - (u128)f * a->sum;
                if (m <= AP_CACHED && r != 0)
                        cache[nk++] = (Key){{(uint64_t)(r >> 64), (uint64_t)r, w, ~(uint64_t)i}};
        }
        assert(given <= a->total);

        size_t extras = (size_t)(a->total - given); /* < m, so it fits */
        if (extras == 0)
                return;

        if (m <= AP_CACHED) {
                /* Every unit with a non-zero remainder is in the cache, and extras < nk (see
                 * ap_key). */
                assert(extras < nk);
                keys_top(cache, nk, extras);
                for (size_t j = 0; j < extras; j++)
                        (*ap_out(a, (size_t)~cache[j].w[3]))++;
                return;
        }

        Key threshold = ap_select(a, extras), k;
        size_t handed = 0;
        for (size_t i = 0; i < m; i++)
                if (ap_key(a, i, &k) && key_cmp(&k, &threshold) >= 0) {
                        (*ap_out(a, i))++;
                        handed++;
                }
        assert(handed == extras);
        (void)handed;
}

static u128 sum_weights(const uint64_t *weights, size_t n)
{
        u128 sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += weights[i];
        return sum;
}

int attr_apportion(uint64_t total, const uint64_t *weights, size_t n, uint64_t *out)
{
        assert(n == 0 || (weights && out));

        u128 sum = sum_weights(weights, n);
        if (sum == 0) {
                if (n > 0)
                        memset(out, 0, n * sizeof(out[0]));
                return total > 0 ? -EDOM : 0;
        }
        ap_run(&(Apportion){.total = total, .weights = weights, .n = n, .sum = sum, .out = out});
        return 0;
}

/* E_idle = min(E, floor(idle_w * dt_us)) (rule 1). */
static uint64_t idle_energy(uint64_t energy_uj, uint64_t dt_us, double idle_w)
{
        if (dt_us == 0 || idle_w == 0)
                return 0; /* also keeps inf * 0 out */
        double cap = idle_w * (double)dt_us;
        if (!(cap < 0x1p64))
                return energy_uj;
        uint64_t c = (uint64_t)cap; /* truncation: rounds down, cap >= 0 */
        return c < energy_uj ? c : energy_uj;
}

int attr_split(const AttrInput *in, AttrResult *out)
{
        assert(in && out);
        assert(in->n_units == 0 || (in->weights && out->active_uj && out->idle_uj));

        if (isnan(in->idle_w) || in->idle_w < 0)
                return -EINVAL;

        uint64_t e = in->energy_uj, e_idle = idle_energy(e, in->dt_us, in->idle_w);
        size_t n = in->n_units;
        u128 sum = sum_weights(in->weights, n);

        if (sum == 0) {
                /* Rule 5: nothing ran, so all of E is idle and stays with the host. */
                if (n > 0) {
                        memset(out->active_uj, 0, n * sizeof(out->active_uj[0]));
                        memset(out->idle_uj, 0, n * sizeof(out->idle_uj[0]));
                }
                out->active_total_uj = 0;
                out->idle_total_uj = e;
                out->unallocated_idle_uj = e;
                return 0;
        }

        ap_run(&(Apportion){.total = e - e_idle,
                            .weights = in->weights,
                            .n = n,
                            .sum = sum,
                            .out = out->active_uj});
        ap_run(&(Apportion){
                .total = e_idle, .weights = in->weights, .n = n, .sum = sum, .out = out->idle_uj});
        out->active_total_uj = e - e_idle;
        out->idle_total_uj = e_idle;
        out->unallocated_idle_uj = 0;
        return 0;
}

bool attr_result_conserves(const AttrResult *r, size_t n_units, uint64_t energy_uj)
{
        u128 active = 0, idle = 0;

        assert(r);
        for (size_t i = 0; i < n_units; i++) {
                active += r->active_uj[i];
                idle += r->idle_uj[i];
        }
        idle += r->unallocated_idle_uj;
        return active == r->active_total_uj && idle == r->idle_total_uj &&
               (u128)r->active_total_uj + r->idle_total_uj == energy_uj;
}

void attr_split_processes(uint64_t active_uj, uint64_t idle_uj, uint64_t service_cpu_ns,
                          const uint64_t *proc_cpu_ns, size_t n_procs, AttrProcSplit *out)
{
        assert(out);
        assert(n_procs == 0 || (proc_cpu_ns && out->active_uj && out->idle_uj));

        u128 seen = sum_weights(proc_cpu_ns, n_procs);
        uint64_t other = seen < service_cpu_ns ? (uint64_t)(service_cpu_ns - seen) : 0;
        u128 sum = seen + other;

        if (sum == 0) {
                /* No CPU time known at all: nothing to split by. */
                if (n_procs > 0) {
                        memset(out->active_uj, 0, n_procs * sizeof(out->active_uj[0]));
                        memset(out->idle_uj, 0, n_procs * sizeof(out->idle_uj[0]));
                }
                out->other_active_uj = active_uj;
                out->other_idle_uj = idle_uj;
                return;
        }

        Apportion a = {.weights = proc_cpu_ns,
                       .n = n_procs,
                       .has_extra = true,
                       .extra_w = other,
                       .sum = sum};
        a.total = active_uj;
        a.out = out->active_uj;
        a.out_extra = &out->other_active_uj;
        ap_run(&a);
        a.total = idle_uj;
        a.out = out->idle_uj;
        a.out_extra = &out->other_idle_uj;
        ap_run(&a);
}

void attr_idle_init(AttrIdleLearner *l, size_t window, size_t min_ticks, unsigned percentile)
{
        assert(l);
        assert(window <= ATTR_IDLE_WINDOW_MAX);
        assert(percentile <= 100);

        l->window = window > 0 ? window : ATTR_IDLE_DEFAULT_WINDOW;
        l->min_ticks = min_ticks > 0 ? min_ticks : ATTR_IDLE_DEFAULT_MIN_TICKS;
        l->percentile = percentile > 0 ? percentile : ATTR_IDLE_DEFAULT_PERCENTILE;
        l->count = 0;
        l->head = 0;
        l->seen = 0;
}

/* First index in sorted[0..n) whose value is >= v (strict: > v). */
static size_t bound(const double *sorted, size_t n, double v, bool strict)
{
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strict ? sorted[mid] <= v : sorted[mid] < v)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

int attr_idle_push(AttrIdleLearner *l, uint64_t energy_uj, uint64_t dt_us)
{
        assert(l);
        if (dt_us == 0)
                return -EINVAL;

        double p = (double)energy_uj / (double)dt_us; /* uJ / us = W */

        if (l->count == l->window) {
                /* Full: the oldest value sits where the next one goes. */
                double old = l->ring[l->head];
                size_t i = bound(l->sorted, l->count, old, false);
                assert(i < l->count && l->sorted[i] == old);
                memmove(&l->sorted[i], &l->sorted[i + 1], (l->count - i - 1) * sizeof(double));
                l->count--;
        }
        size_t i = bound(l->sorted, l->count, p, true);
        memmove(&l->sorted[i + 1], &l->sorted[i], (l->count - i) * sizeof(double));
        l->sorted[i] = p;
        l->count++;
        l->ring[l->head] = p;
        l->head = (l->head + 1) % l->window;
        l->seen++;
        return 0;
}

double attr_idle_watts(const AttrIdleLearner *l)
{
        assert(l);
        if (l->count == 0 || l->seen < l->min_ticks)
                return 0.0;
        return l->sorted[(size_t)l->percentile * (l->count - 1) / 100];
}

/* Attribution: tables of hand-checked cases, then seeded random properties (the invariant, the
 * 1 uJ bound, the tie rule against an independent reference, order independence), the
 * per-process split, and the idle learner. JOULES_TEST_SEED and JOULES_TEST_CASES override the
 * random runs; the seed is printed on failure. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/attribution.h"

typedef unsigned __int128 u128;

#define MAXU    UINT64_MAX
#define MAX_TAB 8

/* ---- hand-checked tables ---- */

typedef struct SplitCase {
        const char *name;
        uint64_t energy_uj, dt_us;
        double idle_w;
        size_t n;
        uint64_t w[MAX_TAB];
        uint64_t active[MAX_TAB], idle[MAX_TAB];
        uint64_t active_total, idle_total, unallocated;
} SplitCase;

static const SplitCase split_cases[] = {
        {"equal weights, remainder to the first",
         10,
         1000000,
         0,
         3,
         {1, 1, 1},
         {4, 3, 3},
         {0, 0, 0},
         10,
         0,
         0},
        {"2:1 weights", 10, 1000000, 0, 2, {2, 1}, {7, 3}, {0, 0}, 10, 0, 0},
        /* 4 W over 100 us = 400 uJ idle, 600 active; 2/3 of 400 = 266.67 -> 267. */
        {"2:1 with idle", 1000, 100, 4.0, 2, {2, 1}, {400, 200}, {267, 133}, 600, 400, 0},
        /* 1 W over 1000 us = 1000 uJ > E = 100: all idle. */
        {"idle power above measured", 100, 1000, 1.0, 2, {1, 3}, {0, 0}, {25, 75}, 0, 100, 0},
        {"zero energy", 0, 1000000, 5.0, 2, {5, 7}, {0, 0}, {0, 0}, 0, 0, 0},
        {"zero weights: all idle, unallocated",
         100,
         10,
         2.0,
         2,
         {0, 0},
         {0, 0},
         {0, 0},
         0,
         100,
         100},
        {"no units", 100, 10, 2.0, 0, {0}, {0}, {0}, 0, 100, 100},
        {"no units, no energy", 0, 10, 2.0, 0, {0}, {0}, {0}, 0, 0, 0},
        /* 0.5 W over 10 ms = 5000 uJ idle. */
        {"single unit", 12345, 10000, 0.5, 1, {42}, {7345}, {5000}, 7345, 5000, 0},
        {"one zero weight among others",
         3,
         1000000,
         0,
         3,
         {0, 1, 1},
         {0, 2, 1},
         {0, 0, 0},
         3,
         0,
         0},
        /* Shares 0.5 and 1.5: equal remainders, the larger weight wins. */
        {"tie: larger weight first", 2, 1000000, 0, 2, {1, 3}, {0, 2}, {0, 0}, 2, 0, 0},
        {"tie: larger weight first, reversed", 2, 1000000, 0, 2, {3, 1}, {2, 0}, {0, 0}, 2, 0, 0},
        {"tie: equal weights, lower index",
         5,
         1000000,
         0,
         4,
         {0, 7, 7, 7},
         {0, 2, 2, 1},
         {0, 0, 0, 0},
         5,
         0,
         0},
        /* 2.675 W is not exact in binary; one multiplication still rounds to 2675000. */
        {"idle rounding",
         5000000,
         1000000,
         2.675,
         1,
         {1},
         {2325000},
         {2675000},
         2325000,
         2675000,
         0},
        {"huge: E and weights at 2^64-1",
         MAXU,
         1,
         0,
         3,
         {MAXU, MAXU, MAXU},
         {6148914691236517205u, 6148914691236517205u, 6148914691236517205u},
         {0, 0, 0},
         MAXU,
         0,
         0},
        /* Shares 2^64-2 + 2^-64 and 1 - 2^-64: the small unit has the larger remainder. */
        {"huge: 2^64-1 against 1", MAXU, 1, 0, 2, {MAXU, 1}, {MAXU - 1, 1}, {0, 0}, MAXU, 0, 0},
        /* W = 2^65 overflows 64 bits; shares (2^64-1)/4, three extras by index. */
        {"huge: weight sum above 2^64",
         MAXU,
         1,
         0,
         4,
         {UINT64_C(1) << 63, UINT64_C(1) << 63, UINT64_C(1) << 63, UINT64_C(1) << 63},
         {4611686018427387904u, 4611686018427387904u, 4611686018427387904u, 4611686018427387903u},
         {0, 0, 0, 0},
         MAXU,
         0,
         0},
        {"huge idle power",
         MAXU,
         MAXU,
         1e300,
         2,
         {1, 1},
         {0, 0},
         {UINT64_C(1) << 63, (UINT64_C(1) << 63) - 1},
         0,
         MAXU,
         0},
        {"infinite idle power", 7, 3, INFINITY, 2, {1, 1}, {0, 0}, {4, 3}, 0, 7, 0},
        {"zero dt", 7, 0, INFINITY, 2, {1, 1}, {4, 3}, {0, 0}, 7, 0, 0},
};

static void test_split_table(void **state)
{
        (void)state;
        for (size_t c = 0; c < ELEMENTSOF(split_cases); c++) {
                const SplitCase *t = &split_cases[c];
                uint64_t active[MAX_TAB], idle[MAX_TAB];
                AttrResult r = {.active_uj = active, .idle_uj = idle};
                AttrInput in = {.energy_uj = t->energy_uj,
                                .dt_us = t->dt_us,
                                .idle_w = t->idle_w,
                                .weights = t->w,
                                .n_units = t->n};

                print_message("split: %s\n", t->name);
                assert_int_equal(attr_split(&in, &r), 0);
                for (size_t i = 0; i < t->n; i++) {
                        assert_int_equal(active[i], t->active[i]);
                        assert_int_equal(idle[i], t->idle[i]);
                }
                assert_int_equal(r.active_total_uj, t->active_total);
                assert_int_equal(r.idle_total_uj, t->idle_total);
                assert_int_equal(r.unallocated_idle_uj, t->unallocated);
                assert_true(attr_result_conserves(&r, t->n, t->energy_uj));
        }
}

static void test_split_invalid(void **state)
{
        (void)state;
        uint64_t w[1] = {1}, active[1] = {99}, idle[1] = {99};
        AttrResult r = {.active_uj = active, .idle_uj = idle, .active_total_uj = 99};
        AttrInput in = {.energy_uj = 10, .dt_us = 10, .idle_w = -1.0, .weights = w, .n_units = 1};

        assert_int_equal(attr_split(&in, &r), -EINVAL);
        in.idle_w = NAN;
        assert_int_equal(attr_split(&in, &r), -EINVAL);
        /* Untouched on error. */
        assert_int_equal(active[0], 99);
        assert_int_equal(r.active_total_uj, 99);
}

typedef struct ApportionCase {
        uint64_t total;
        size_t n;
        uint64_t w[MAX_TAB];
        int ret;
        uint64_t out[MAX_TAB];
} ApportionCase;

static const ApportionCase apportion_cases[] = {
        {7, 4, {1, 1, 1, 1}, 0, {2, 2, 2, 1}},
        {100, 4, {1, 2, 3, 4}, 0, {10, 20, 30, 40}},
        {1, 3, {1, 2, 3}, 0, {0, 0, 1}},
        {2, 3, {1, 2, 3}, 0, {0, 1, 1}}, /* 1/3, 2/3, 1: remainders 2, 4, 0 of 6 */
        {0, 2, {0, 0}, 0, {0, 0}},
        {5, 2, {0, 0}, -EDOM, {0, 0}},
        {5, 0, {0}, -EDOM, {0}},
        {0, 0, {0}, 0, {0}},
        {MAXU, 1, {1}, 0, {MAXU}},
        {MAXU, 3, {0, MAXU, 0}, 0, {0, MAXU, 0}},
};

static void test_apportion_table(void **state)
{
        (void)state;
        for (size_t c = 0; c < ELEMENTSOF(apportion_cases); c++) {
                const ApportionCase *t = &apportion_cases[c];
                uint64_t out[MAX_TAB];

                memset(out, 0xaa, sizeof(out));
                assert_int_equal(attr_apportion(t->total, t->w, t->n, out), t->ret);
                for (size_t i = 0; i < t->n; i++)
                        assert_int_equal(out[i], t->out[i]);
        }
}

/* More equal remainders than the selection sorts outright: 64 units of weight 7 sharing 100 uJ
 * get 1 each plus 36 extras, which go to the first 36. */
static void test_apportion_many_ties(void **state)
{
        (void)state;
        uint64_t w[64], out[64];

        for (size_t i = 0; i < 64; i++)
                w[i] = 7;
        assert_int_equal(attr_apportion(100, w, 64, out), 0);
        for (size_t i = 0; i < 64; i++)
                assert_int_equal(out[i], i < 36 ? 2 : 1);

        /* 300 units at 2^64-1 share 2^64-1: W overflows 64 bits many times over; 15 extras. */
        static uint64_t bw[300], bout[300];
        for (size_t i = 0; i < 300; i++)
                bw[i] = MAXU;
        assert_int_equal(attr_apportion(MAXU, bw, 300, bout), 0);
        for (size_t i = 0; i < 300; i++)
                assert_int_equal(bout[i], i < 15 ? 61489146912365173u : 61489146912365172u);
}

/* ---- random properties ---- */

static uint64_t rng_state;
static uint64_t seed;
static size_t case_no;

static uint64_t rnd(void)
{
        /* splitmix64 */
        uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
        return n == 0 ? 0 : rnd() % n;
}

#define CHECK(c)                                                                                   \
        do {                                                                                       \
                if (!(c)) {                                                                        \
                        print_error("%s:%d: %s does not hold (JOULES_TEST_SEED=%#" PRIx64          \
                                    ", case %zu)\n",                                               \
                                    __FILE__, __LINE__, #c, seed, case_no);                        \
                        fail();                                                                    \
                }                                                                                  \
        } while (0)

static uint64_t env_u64(const char *name, uint64_t def)
{
        const char *s = getenv(name);
        return s && *s ? strtoull(s, NULL, 0) : def;
}

static void rnd_init(void)
{
        seed = env_u64("JOULES_TEST_SEED", UINT64_C(0x6a6f756c6573));
        rng_state = seed;
        case_no = 0;
}

static uint64_t rnd_weight(unsigned mode, uint64_t common)
{
        switch (mode) {
        case 0: /* small */
                return rnd_below(11);
        case 1: /* mostly zeros, the rest anything */
                return rnd_below(10) == 0 ? rnd() : 0;
        case 2: /* extremes */
                switch (rnd_below(4)) {
                case 0:
                        return MAXU;
                case 1:
                        return MAXU - rnd_below(4);
                case 2:
                        return 1;
                default:
                        return 0;
                }
        case 3: /* log-uniform over every magnitude */
                return rnd() >> rnd_below(64);
        case 4: /* all equal */
                return common;
        case 5: /* CPU ns in a 1 s tick, half idle */
                return rnd_below(2) ? rnd_below(1000000001) : 0;
        default: /* few distinct values: many ties */
                return (common >> 32) * rnd_below(3);
        }
}

static uint64_t rnd_energy(void)
{
        switch (rnd_below(6)) {
        case 0:
                return 0;
        case 1:
                return rnd_below(1000);
        case 2:
                return rnd_below(UINT64_C(100000000000));
        case 3:
                return MAXU - rnd_below(1000);
        default:
                return rnd() >> rnd_below(64);
        }
}

static double rnd_idle_w(void)
{
        switch (rnd_below(6)) {
        case 0:
                return 0;
        case 1:
                return 1e30;
        case 2:
                return INFINITY;
        default:
                return (double)rnd_below(200000) / 1000.0;
        }
}

/* An independent reference for rules 2 and 3: floors, then the extras by a full sort. */
typedef struct RefKey {
        u128 r;
        uint64_t w;
        size_t i;
} RefKey;

static int refkey_cmp(const void *a, const void *b)
{
        const RefKey *x = a, *y = b;
        if (x->r != y->r)
                return x->r > y->r ? -1 : 1;
        if (x->w != y->w)
                return x->w > y->w ? -1 : 1;
        return x->i < y->i ? -1 : x->i > y->i;
}

static void ref_apportion(uint64_t total, const uint64_t *w, size_t n, uint64_t *out)
{
        u128 sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += w[i];
        if (sum == 0) {
                for (size_t i = 0; i < n; i++)
                        out[i] = 0;
                return;
        }
        RefKey *keys = calloc(n, sizeof(*keys));
        assert_non_null(keys);
        u128 given = 0;
        for (size_t i = 0; i < n; i++) {
                u128 p = (u128)total * w[i];
                out[i] = (uint64_t)(p / sum);
                given += out[i];
                keys[i] = (RefKey){.r = p % sum, .w = w[i], .i = i};
        }
        qsort(keys, n, sizeof(*keys), refkey_cmp);
        for (size_t j = 0; j < (size_t)(total - given); j++)
                out[keys[j].i]++;
        free(keys);
}

/* Each part is the exact share rounded down or up, zero weights get zero, the parts sum to total,
 * and the extras went where the reference says. */
static void check_apportioned(uint64_t total, const uint64_t *w, size_t n, const uint64_t *out)
{
        u128 sum = 0, got = 0;
        uint64_t *ref = calloc(n + 1, sizeof(*ref));
        assert_non_null(ref);

        for (size_t i = 0; i < n; i++)
                sum += w[i];
        CHECK(sum > 0);
        for (size_t i = 0; i < n; i++) {
                u128 p = (u128)total * w[i];
                uint64_t lo = (uint64_t)(p / sum);
                bool exact = p % sum == 0;
                CHECK(out[i] == lo || (!exact && out[i] == lo + 1));
                if (w[i] == 0)
                        CHECK(out[i] == 0);
                got += out[i];
        }
        CHECK(got == total);
        ref_apportion(total, w, n, ref);
        for (size_t i = 0; i < n; i++)
                CHECK(out[i] == ref[i]);
        free(ref);
}

static uint64_t expected_idle(uint64_t e, uint64_t dt, double idle_w)
{
        if (dt == 0 || idle_w == 0)
                return 0;
        double cap = floor(idle_w * (double)dt);
        if (cap >= 0x1p64)
                return e;
        return (uint64_t)cap < e ? (uint64_t)cap : e;
}

typedef struct Pair {
        uint64_t w, a, i;
} Pair;

static int pair_cmp(const void *x, const void *y)
{
        const Pair *p = x, *q = y;
        if (p->w != q->w)
                return p->w < q->w ? -1 : 1;
        if (p->a != q->a)
                return p->a < q->a ? -1 : 1;
        return p->i < q->i ? -1 : p->i > q->i;
}

#define MAX_N 300

static void test_split_random(void **state)
{
        (void)state;
        static uint64_t w[MAX_N], active[MAX_N], idle[MAX_N];
        static uint64_t pw[MAX_N], pactive[MAX_N], pidle[MAX_N];
        static size_t perm[MAX_N];
        static Pair p1[MAX_N], p2[MAX_N];
        uint64_t cases = env_u64("JOULES_TEST_CASES", 100000);

        rnd_init();
        for (case_no = 0; case_no < cases; case_no++) {
                size_t n = rnd_below(MAX_N + 1);
                unsigned mode = (unsigned)rnd_below(7);
                uint64_t common = rnd() >> rnd_below(64);
                for (size_t i = 0; i < n; i++)
                        w[i] = rnd_weight(mode, common);

                AttrInput in = {.energy_uj = rnd_energy(),
                                .dt_us = rnd_below(8) ? 1 + rnd_below(10000000) : rnd(),
                                .idle_w = rnd_idle_w(),
                                .weights = w,
                                .n_units = n};
                AttrResult r = {.active_uj = active, .idle_uj = idle};
                CHECK(attr_split(&in, &r) == 0);

                /* The invariant, summed here independently. */
                u128 total = r.unallocated_idle_uj;
                for (size_t i = 0; i < n; i++)
                        total += (u128)active[i] + idle[i];
                CHECK(total == in.energy_uj);
                CHECK(attr_result_conserves(&r, n, in.energy_uj));

                u128 sum = 0;
                for (size_t i = 0; i < n; i++)
                        sum += w[i];
                uint64_t e_idle = expected_idle(in.energy_uj, in.dt_us, in.idle_w);
                if (sum == 0) {
                        CHECK(r.unallocated_idle_uj == in.energy_uj);
                        CHECK(r.idle_total_uj == in.energy_uj);
                        CHECK(r.active_total_uj == 0);
                        for (size_t i = 0; i < n; i++)
                                CHECK(active[i] == 0 && idle[i] == 0);
                        continue;
                }
                CHECK(r.unallocated_idle_uj == 0);
                CHECK(r.idle_total_uj == e_idle);
                CHECK(r.active_total_uj == in.energy_uj - e_idle);
                check_apportioned(r.active_total_uj, w, n, active);
                check_apportioned(r.idle_total_uj, w, n, idle);

                /* Order independence: shuffle the units; each unit keeps its figures, except
                 * that units of equal weight may trade the extra microjoule (the tie rule). */
                for (size_t i = 0; i < n; i++)
                        perm[i] = i;
                for (size_t i = n; i > 1; i--) {
                        size_t j = rnd_below(i), t = perm[i - 1];
                        perm[i - 1] = perm[j];
                        perm[j] = t;
                }
                for (size_t i = 0; i < n; i++)
                        pw[i] = w[perm[i]];
                AttrInput pin = in;
                pin.weights = pw;
                AttrResult pr = {.active_uj = pactive, .idle_uj = pidle};
                CHECK(attr_split(&pin, &pr) == 0);
                for (size_t k = 0; k < 2; k++) {
                        const uint64_t *a = k ? idle : active, *pa = k ? pidle : pactive;
                        for (size_t i = 0; i < n; i++) {
                                p1[i] = (Pair){w[i], a[i], 0};
                                p2[i] = (Pair){pw[i], pa[i], 0};
                                /* Units with a weight of their own must match exactly. */
                                bool unique = true;
                                for (size_t j = 0; j < n && unique && n <= 40; j++)
                                        unique = j == perm[i] || w[j] != w[perm[i]];
                                if (n <= 40 && unique)
                                        CHECK(pa[i] == a[perm[i]]);
                        }
                        qsort(p1, n, sizeof(Pair), pair_cmp);
                        qsort(p2, n, sizeof(Pair), pair_cmp);
                        for (size_t i = 0; i < n; i++)
                                CHECK(p1[i].w == p2[i].w && p1[i].a == p2[i].a);
                }
        }
        print_message("%" PRIu64 " random splits, seed %#" PRIx64 "\n", cases, seed);
}

/* ---- per-process split ---- */

typedef struct ProcCase {
        const char *name;
        uint64_t active, idle, service_ns;
        size_t n;
        uint64_t ns[MAX_TAB];
        uint64_t out_active[MAX_TAB], out_idle[MAX_TAB];
        uint64_t other_active, other_idle;
} ProcCase;

static const ProcCase proc_cases[] = {
        {"half the CPU time in exited processes",
         100,
         50,
         1000,
         2,
         {300, 200},
         {30, 20},
         {15, 10},
         50,
         25},
        {"processes add up to the service",
         90,
         9,
         300,
         3,
         {100, 100, 100},
         {30, 30, 30},
         {3, 3, 3},
         0,
         0},
        /* Read skew: the processes seen add up to more than the cgroup says. */
        {"processes above the service", 101, 0, 100, 2, {60, 60}, {51, 50}, {0, 0}, 0, 0},
        {"no CPU time known", 7, 3, 0, 2, {0, 0}, {0, 0}, {0, 0}, 7, 3},
        {"no processes seen", 7, 3, 500, 0, {0}, {0}, {0}, 7, 3},
        /* Equal weights and remainders: the process comes before the bucket. */
        {"tie with the bucket", 1, 0, 2, 1, {1}, {1}, {0}, 0, 0},
        {"huge",
         MAXU,
         MAXU,
         MAXU,
         2,
         {MAXU, MAXU},
         {MAXU - MAXU / 2, MAXU / 2},
         {MAXU - MAXU / 2, MAXU / 2},
         0,
         0},
};

static void test_proc_table(void **state)
{
        (void)state;
        for (size_t c = 0; c < ELEMENTSOF(proc_cases); c++) {
                const ProcCase *t = &proc_cases[c];
                uint64_t a[MAX_TAB], i[MAX_TAB];
                AttrProcSplit s = {.active_uj = a, .idle_uj = i};

                print_message("processes: %s\n", t->name);
                attr_split_processes(t->active, t->idle, t->service_ns, t->ns, t->n, &s);
                for (size_t k = 0; k < t->n; k++) {
                        assert_int_equal(a[k], t->out_active[k]);
                        assert_int_equal(i[k], t->out_idle[k]);
                }
                assert_int_equal(s.other_active_uj, t->other_active);
                assert_int_equal(s.other_idle_uj, t->other_idle);
        }
}

static void test_proc_random(void **state)
{
        (void)state;
        static uint64_t ns[MAX_N + 1], a[MAX_N], id[MAX_N], all[MAX_N + 1];
        uint64_t cases = env_u64("JOULES_TEST_CASES", 100000) / 4;

        rnd_init();
        for (case_no = 0; case_no < cases; case_no++) {
                size_t n = rnd_below(MAX_N + 1);
                unsigned mode = (unsigned)rnd_below(7);
                uint64_t common = rnd() >> rnd_below(64);
                u128 seen = 0;
                for (size_t k = 0; k < n; k++) {
                        ns[k] = rnd_weight(mode, common);
                        seen += ns[k];
                }
                uint64_t service;
                switch (rnd_below(4)) {
                case 0: /* exactly the processes seen, when it fits */
                        service = seen > MAXU ? MAXU : (uint64_t)seen;
                        break;
                case 1: /* less: read skew */
                        service = seen > MAXU ? MAXU : (uint64_t)seen / 2;
                        break;
                default: /* more: exited processes */
                        service = seen > MAXU ? MAXU
                                              : (uint64_t)seen + rnd_below(MAXU - (uint64_t)seen);
                        break;
                }
                uint64_t act = rnd_energy(), idl = rnd_energy();
                AttrProcSplit s = {.active_uj = a, .idle_uj = id};
                attr_split_processes(act, idl, service, ns, n, &s);

                uint64_t other = seen < service ? service - (uint64_t)seen : 0;
                ns[n] = other;
                if (seen + other == 0) {
                        for (size_t k = 0; k < n; k++)
                                CHECK(a[k] == 0 && id[k] == 0);
                        CHECK(s.other_active_uj == act && s.other_idle_uj == idl);
                        continue;
                }
                for (size_t k = 0; k < 2; k++) {
                        const uint64_t *part = k ? id : a;
                        for (size_t j = 0; j < n; j++)
                                all[j] = part[j];
                        all[n] = k ? s.other_idle_uj : s.other_active_uj;
                        /* The bucket is one more unit, last: same rules, same reference. */
                        check_apportioned(k ? idl : act, ns, n + 1, all);
                }
        }
        print_message("%" PRIu64 " random process splits, seed %#" PRIx64 "\n", cases, seed);
}

/* ---- idle learner ---- */

typedef struct Seg {
        double w;
        size_t ticks;
} Seg;

typedef struct IdleCase {
        const char *name;
        Seg segs[4];
        double expected;
} IdleCase;

/* Window 100, 60 ticks before an estimate, 5th percentile: index floor(5 * 99 / 100) = 4 of a
 * full window, floor(5 * 59 / 100) = 2 of 60 ticks. */
static const IdleCase idle_cases[] = {
        {"too few ticks: conservative 0 W", {{10, 59}}, 0},
        {"enough ticks", {{10, 60}}, 10},
        {"steady, window wrapped", {{10, 250}}, 10},
        {"one-tick dip", {{10, 50}, {1, 1}, {10, 49}}, 10},
        {"dip among the first ticks", {{1, 1}, {10, 59}}, 10},
        {"four dips in the window", {{10, 40}, {1, 4}, {10, 56}}, 10},
        {"five dips: 5% of the window is sustained", {{10, 40}, {1, 5}, {10, 55}}, 1},
        {"dips that left the window", {{1, 10}, {10, 100}}, 10},
        {"step up, not yet", {{10, 100}, {20, 95}}, 10},
        {"step up, followed", {{10, 100}, {20, 96}}, 20},
        {"step down, not yet", {{20, 100}, {10, 4}}, 20},
        {"step down, followed", {{20, 100}, {10, 5}}, 10},
        {"spikes do not matter", {{10, 30}, {500, 10}, {10, 30}}, 10},
};

static void test_idle_table(void **state)
{
        (void)state;
        static AttrIdleLearner l;

        for (size_t c = 0; c < ELEMENTSOF(idle_cases); c++) {
                const IdleCase *t = &idle_cases[c];

                print_message("idle: %s\n", t->name);
                attr_idle_init(&l, 100, 60, 5);
                for (size_t s = 0; s < ELEMENTSOF(t->segs); s++)
                        for (size_t k = 0; k < t->segs[s].ticks; k++)
                                assert_int_equal(
                                        attr_idle_push(&l, (uint64_t)(t->segs[s].w * 1e6), 1000000),
                                        0);
                assert_float_equal(attr_idle_watts(&l), t->expected, 1e-12);
        }
}

static void test_idle_noisy(void **state)
{
        (void)state;
        static AttrIdleLearner l;

        /* 11, 12, 13 W in turn, three dips to 2 W, and ticks of varying length. */
        attr_idle_init(&l, 100, 60, 5);
        for (size_t i = 0; i < 100; i++) {
                double w = (i == 10 || i == 50 || i == 90) ? 2 : 11 + (double)(i % 3);
                uint64_t dt = 250000 * (1 + i % 4);
                assert_int_equal(attr_idle_push(&l, (uint64_t)(w * (double)dt), dt), 0);
        }
        assert_float_equal(attr_idle_watts(&l), 11, 1e-12);
}

static void test_idle_defaults(void **state)
{
        (void)state;
        static AttrIdleLearner l;

        attr_idle_init(&l, 0, 0, 0);
        assert_int_equal(l.window, ATTR_IDLE_DEFAULT_WINDOW);
        assert_int_equal(l.min_ticks, ATTR_IDLE_DEFAULT_MIN_TICKS);
        assert_int_equal(l.percentile, ATTR_IDLE_DEFAULT_PERCENTILE);
        assert_int_equal(attr_idle_push(&l, 5, 0), -EINVAL);
        for (size_t i = 0; i + 1 < ATTR_IDLE_DEFAULT_MIN_TICKS; i++)
                assert_int_equal(attr_idle_push(&l, 7000000, 1000000), 0);
        assert_float_equal(attr_idle_watts(&l), 0, 0);
        assert_int_equal(attr_idle_push(&l, 7000000, 1000000), 0);
        assert_float_equal(attr_idle_watts(&l), 7, 1e-12);
}

static int double_cmp(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* The incremental window against a brute-force one: keep the last `window` powers, sort, pick. */
static void test_idle_random(void **state)
{
        (void)state;
        static AttrIdleLearner l;
        static double hist[20000], tmp[ATTR_IDLE_WINDOW_MAX];

        rnd_init();
        for (case_no = 0; case_no < 20; case_no++) {
                size_t window = 1 + rnd_below(case_no % 2 ? ATTR_IDLE_WINDOW_MAX : 50);
                size_t min_ticks = 1 + rnd_below(2 * window);
                unsigned pct = 1 + (unsigned)rnd_below(100);
                size_t ticks = rnd_below(ELEMENTSOF(hist));

                attr_idle_init(&l, window, min_ticks, pct);
                for (size_t t = 0; t < ticks; t++) {
                        /* Few distinct values, so the window holds many duplicates. */
                        uint64_t dt = 1 + rnd_below(2000000), e = rnd_below(8) * dt;
                        hist[t] = (double)e / (double)dt;
                        CHECK(attr_idle_push(&l, e, dt) == 0);
                        if (t % 97 != 0 && t + 1 != ticks)
                                continue;
                        size_t c = t + 1 < window ? t + 1 : window;
                        memcpy(tmp, &hist[t + 1 - c], c * sizeof(double));
                        qsort(tmp, c, sizeof(double), double_cmp);
                        double want = t + 1 < min_ticks ? 0 : tmp[pct * (c - 1) / 100];
                        CHECK(attr_idle_watts(&l) == want);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_split_table),     cmocka_unit_test(test_split_invalid),
                cmocka_unit_test(test_apportion_table), cmocka_unit_test(test_apportion_many_ties),
                cmocka_unit_test(test_split_random),    cmocka_unit_test(test_proc_table),
                cmocka_unit_test(test_proc_random),     cmocka_unit_test(test_idle_table),
                cmocka_unit_test(test_idle_noisy),      cmocka_unit_test(test_idle_defaults),
                cmocka_unit_test(test_idle_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

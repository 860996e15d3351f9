/* Table tests for the interval math: wraparound, the sanity bound, baselines and drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "collectors/energy-delta.h"
#include "common/util.h"

#define MAXR UINT64_C(262143328850) /* a real Intel package's max_energy_range_uj */

static void test_delta_table(void **state)
{
        static const struct {
                uint64_t prev, cur;
                bool wraps;
                uint64_t max, dt_us;
                double max_w;
                EnergyDeltaStatus st;
                uint64_t uj;
        } rows[] = {
                /* 10 W for 1 s */
                {1000, 10001000, true, MAXR, 1000000, 2000, ENERGY_DELTA_OK, 10000000},
                /* no change */
                {5, 5, true, MAXR, 1000000, 2000, ENERGY_DELTA_OK, 0},
                /* wrap: cur + max - prev */
                {MAXR - 4000000, 6000000, true, MAXR, 1000000, 2000, ENERGY_DELTA_WRAPPED,
                 10000000},
                /* wrap exactly to 0 */
                {MAXR - 10, 0, true, MAXR, 1000000, 2000, ENERGY_DELTA_WRAPPED, 10},
                /* wrap with an unknown range: dropped, never negative */
                {500, 100, true, 0, 1000000, 2000, ENERGY_DELTA_NO_MAX, 0},
                /* a counter reset looks like a wrap of almost the whole range: too high */
                {1000000, 10, true, MAXR, 1000000, 2000, ENERGY_DELTA_TOO_HIGH, 0},
                /* 53 kW on a laptop (scaphandre #147): dropped */
                {0, 53000000000, true, MAXR, 1000000, 2000, ENERGY_DELTA_TOO_HIGH, 0},
                /* exactly at the bound is kept */
                {0, 2000000000, true, MAXR, 1000000, 2000, ENERGY_DELTA_OK, 2000000000},
                /* a perf total never wraps: going back is dropped */
                {100, 50, false, 0, 1000000, 2000, ENERGY_DELTA_BACKWARDS, 0},
                /* perf totals beyond 2^32 are fine */
                {UINT64_C(1) << 40, (UINT64_C(1) << 40) + 5000, false, 0, 1000, 2000,
                 ENERGY_DELTA_OK, 5000},
                /* readings above the declared range */
                {MAXR + 1, 5, true, MAXR, 1000000, 2000, ENERGY_DELTA_OUT_OF_RANGE, 0},
                /* 200 ms interval, 25 W */
                {0, 5000000, true, MAXR, 200000, 2000, ENERGY_DELTA_OK, 5000000},
                /* zero-length interval with energy: too high */
                {0, 1, true, MAXR, 0, 2000, ENERGY_DELTA_TOO_HIGH, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t uj = 777;
                EnergyDeltaStatus st = energy_delta(rows[i].prev, rows[i].cur, rows[i].wraps,
                                                    rows[i].max, rows[i].dt_us, rows[i].max_w, &uj);
                if (st != rows[i].st)
                        fail_msg("row %zu: status %s, expected %s", i,
                                 energy_delta_status_to_string(st),
                                 energy_delta_status_to_string(rows[i].st));
                if (energy_delta_valid(st))
                        assert_int_equal(uj, rows[i].uj);
                else
                        assert_int_equal(uj, 777);
        }
}

static void test_ambiguous_table(void **state)
{
        static const struct {
                double last_w;
                uint64_t dt_us, range_uj;
                bool ambiguous;
        } rows[] = {
                {30, 200000, 50000000, false},            /* 6 J of 50: one wrap at most */
                {30, 4090000, 50000000, true},            /* a 4 s stall: 123 J of 50 */
                {30, 1666666, 50000000, false},           /* just under the range */
                {30, 1666667, 50000000, true},            /* the whole range */
                {200, 1000000, 262143328850ULL, false},   /* real RAPL: 1 s */
                {200, 1310716645, 262143328850ULL, true}, /* a stall of 22 minutes */
                {0, 100000000, 1000000, false},           /* no power known yet */
                {30, 100000000, 0, false},                /* no range: handled as NO_MAX */
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                assert_int_equal(
                        energy_delta_ambiguous(rows[i].last_w, rows[i].dt_us, rows[i].range_uj),
                        rows[i].ambiguous);
}

static void test_tracker(void **state)
{
        EnergyDomain doms[3] = {
                {.name = "package-0", .in_host = true, .wraps = true, .max_range_uj = 1000000},
                {.name = "package-0/core",
                 .in_host = false,
                 .wraps = true,
                 .max_range_uj = 1000000},
                {.name = "dram", .in_host = true, .wraps = true, .max_range_uj = 0},
        };
        EnergyTracker t;
        EnergyInterval iv;
        assert_int_equal(energy_tracker_init(&t, 3, 2000), 0);
        assert_int_equal(energy_interval_init(&iv, 3), 0);
        bool ok[3] = {true, true, true};

        /* first reading: baseline only */
        uint64_t r0[3] = {900000, 500000, 100};
        assert_int_equal(energy_tracker_step(&t, doms, r0, ok, 1000000, &iv), 0);

        /* package wraps, core does not, dram grows: host = package + dram */
        uint64_t r1[3] = {100000, 700000, 300100};
        assert_int_equal(energy_tracker_step(&t, doms, r1, ok, 2000000, &iv), 1);
        assert_int_equal(iv.dt_us, 1000000);
        assert_int_equal(iv.status[0], ENERGY_DELTA_WRAPPED);
        assert_int_equal(iv.delta_uj[0], 200000);
        assert_int_equal(iv.delta_uj[1], 200000);
        assert_int_equal(iv.delta_uj[2], 300000);
        assert_true(iv.host_valid);
        assert_int_equal(iv.host_uj, 500000);

        /* dram goes back with no known range: it drops, and so does the host total */
        uint64_t r2[3] = {200000, 800000, 50};
        assert_int_equal(energy_tracker_step(&t, doms, r2, ok, 3000000, &iv), 1);
        assert_int_equal(iv.status[2], ENERGY_DELTA_NO_MAX);
        assert_false(iv.host_valid);
        assert_int_equal(iv.n_dropped, 1);
        assert_int_equal(t.dropped, 1);

        /* a failed read: that domain drops; the next good read is a new baseline */
        bool bad[3] = {false, true, true};
        uint64_t r3[3] = {0, 900000, 150};
        assert_int_equal(energy_tracker_step(&t, doms, r3, bad, 4000000, &iv), 1);
        assert_int_equal(iv.status[0], ENERGY_DELTA_UNREADABLE);
        assert_false(iv.host_valid);
        assert_int_equal(t.dropped, 2);
        uint64_t r4[3] = {300000, 950000, 250};
        assert_int_equal(energy_tracker_step(&t, doms, r4, ok, 5000000, &iv), 1);
        assert_int_equal(iv.status[0], ENERGY_DELTA_UNREADABLE); /* baseline again */
        assert_int_equal(t.dropped, 2);                          /* not counted as a drop */
        uint64_t r5[3] = {400000, 960000, 350};
        assert_int_equal(energy_tracker_step(&t, doms, r5, ok, 6000000, &iv), 1);
        assert_true(iv.host_valid);
        assert_int_equal(iv.host_uj, 100000 + 100);

        /* a stall of 10 s at 0.1 W on a 1 J counter: it may have gone round more than once, so
         * the package (and the host) drop; core, at 0.01 W, does not; the next interval counts */
        uint64_t r6[3] = {450000, 990000, 400};
        assert_int_equal(energy_tracker_step(&t, doms, r6, ok, 16000000, &iv), 1);
        assert_int_equal(iv.status[0], ENERGY_DELTA_AMBIGUOUS);
        assert_int_equal(iv.status[1], ENERGY_DELTA_OK);
        assert_false(iv.host_valid);
        assert_int_equal(t.dropped, 3);
        uint64_t r7[3] = {550000, 995000, 500};
        assert_int_equal(energy_tracker_step(&t, doms, r7, ok, 17000000, &iv), 1);
        assert_true(iv.host_valid);
        assert_int_equal(iv.host_uj, 100000 + 100);

        energy_tracker_done(&t);
        energy_interval_done(&iv);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_delta_table),
                cmocka_unit_test(test_ambiguous_table),
                cmocka_unit_test(test_tracker),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The packed raw ticks' format (storage/store-pack.c) as pure functions: every encoding the
 * packer may choose decodes to exactly what was packed, blobs that joulesds of older schemas wrote
 * still read, and blobs from a corrupt or foreign history are refused, never decoded into values
 * that do not add up. The packing of a real history is tested in test-rollup.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/attribution.h"
#include "common/util.h"
#include "storage/store.h"
#include "storage/store-internal.h"

/* Packing round-trips exactly whatever the values: both layouts, CPU in ns or whole µs, zero
 * sums, huge values; malformed blobs are refused. */
static void test_pack_roundtrip(void **state)
{
        static const StoreUnitValue cases[][4] = {
                /* split by CPU time (layout 2 wins) */
                {{1, 350000, 70000, 100000000}, {2, 35000, 7000, 10000000}, {5, 1, 0, 1000}},
                /* split by cycles: CPU unrelated (layout 1) */
                {{3, 123456, 654, 999999999}, {4, 7, 100000, 1}, {9, 0, 0, 0}},
                /* nothing active: every share is 0 */
                {{1, 0, 5000000, 0}, {2, 0, 0, 0}},
                /* huge values (years of energy in one row) and ns not whole µs */
                {{1, UINT64_C(1) << 62, UINT64_C(1) << 61, UINT64_C(1) << 60},
                 {100000, 1, (UINT64_C(1) << 61) + 12345, 3}},
                /* consecutive unit ids: coded as one run */
                {{10, 5, 1, 2000}, {11, 6, 2, 3000}, {12, 0, 0, 0}, {13, 7, 3, 9000}},
        };
        static const size_t lens[] = {3, 3, 2, 2, 4};
        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                uint8_t buf[1024];
                assert_true(store_pack_bound(lens[c]) <= sizeof(buf));
                size_t len = store_pack_units(cases[c], lens[c], buf);
                StoreUnitValue *out = NULL;
                size_t cap = 0, n = 0;
                assert_int_equal(store_unpack_units(buf, len, &out, &cap, &n), 0);
                assert_int_equal(n, lens[c]);
                for (size_t k = 0; k < n; k++) {
                        assert_int_equal(out[k].unit_id, cases[c][k].unit_id);
                        assert_int_equal(out[k].active_uj, cases[c][k].active_uj);
                        assert_int_equal(out[k].idle_uj, cases[c][k].idle_uj);
                        assert_int_equal(out[k].cpu_ns, cases[c][k].cpu_ns);
                }
                /* truncated anywhere: refused, never read past the end */
                for (size_t cut = 0; cut < len; cut++)
                        assert_int_equal(store_unpack_units(buf, cut, &out, &cap, &n), -EBADMSG);
                free(out);
        }
        /* Random ticks split as the attribution splits them (largest remainders, so every
         * residual is 0 or 1 and the 2-bit codes carry them), with some units' values then
         * knocked off their share (residuals past the codes, written after them), sparse and
         * consecutive ids, 1 to 40 units: every one decodes to exactly what was packed. */
        uint64_t rng = 42;
        int bit_values = 0, residuals_kept = 0, split_again = 0;
        for (int round = 0; round < 2000; round++) {
                StoreUnitValue u[40];
                uint64_t w[40], act[40], idle[40];
                rng = rng * 6364136223846793005u + 1442695040888963407u;
                size_t n = 1 + (size_t)(rng >> 33) % 40;
                int64_t id = 0;
                for (size_t k = 0; k < n; k++) {
                        rng = rng * 6364136223846793005u + 1442695040888963407u;
                        id += 1 + (int64_t)((rng >> 40) % 3 == 0 ? (rng >> 20) % 50 : 0);
                        w[k] = (rng >> 24) % 2000000 * ((rng >> 8) % 2 ? 1000 : 1);
                }
                rng = rng * 6364136223846793005u + 1442695040888963407u;
                uint64_t ea = (rng >> 20) % 100000000, ei = (rng >> 30) % 5000000;
                assert_int_equal(attr_apportion(ea, w, n, act), 0);
                assert_int_equal(attr_apportion(ei, w, n, idle), 0);
                id = 0;
                for (size_t k = 0; k < n; k++) {
                        rng = rng * 6364136223846793005u + 1442695040888963407u;
                        id += 1 + (int64_t)((rng >> 40) % 3 == 0 ? (rng >> 20) % 50 : 0);
                        u[k] = (StoreUnitValue){id, act[k], idle[k], w[k]};
                        if (round % 3 == 0 && (rng >> 50) % 7 == 0)
                                u[k].idle_uj += (rng >> 10) % 100000; /* off its share */
                }
                uint8_t pk[4096];
                assert_true(store_pack_bound(n) <= sizeof(pk));
                size_t len = store_pack_units(u, n, pk);
                /* the attribution's own split needs no residuals (0x40) unless layout 1 is
                 * shorter still; one knocked off it nearly always does (a single unit's is
                 * still a split of the new sum) */
                bool off = false;
                for (size_t k = 0; k < n; k++)
                        off |= u[k].idle_uj != idle[k];
                split_again += !off && (pk[0] & 0x40);
                residuals_kept += off && !(pk[0] & 0x40);
                bit_values += !!(pk[0] & 0x80);
                StoreUnitValue *out = NULL;
                size_t cap = 0, m = 0;
                assert_int_equal(store_unpack_units(pk, len, &out, &cap, &m), 0);
                assert_int_equal(m, n);
                for (size_t k = 0; k < n; k++) {
                        assert_int_equal(out[k].unit_id, u[k].unit_id);
                        assert_int_equal(out[k].active_uj, u[k].active_uj);
                        assert_int_equal(out[k].idle_uj, u[k].idle_uj);
                        assert_int_equal(out[k].cpu_ns, u[k].cpu_ns);
                }
                for (size_t cut = 0; cut < len; cut += 1 + len / 16)
                        assert_int_equal(store_unpack_units(pk, cut, &out, &cap, &m), -EBADMSG);
                free(out);
        }
        /* values of many sizes are shorter as bit lengths and mantissas than as varints */
        print_message("split again %d, residuals kept %d, bit values %d of 2000\n", split_again,
                      residuals_kept, bit_values);
        assert_true(split_again > 1000);
        assert_true(residuals_kept > 100);
        assert_true(bit_values > 100);
        /* A tie the daemon broke the other way (equal weights, the extra microjoule to the unit
         * listed second): not attr_apportion's split, so the residuals are kept, exact. */
        static const StoreUnitValue tie[] = {{1, 0, 0, 1000}, {2, 1, 0, 1000}};
        uint8_t tb[256];
        size_t tl = store_pack_units(tie, 2, tb);
        assert_false(tb[0] & 0x40);
        StoreUnitValue *tout = NULL;
        size_t tcap = 0, tn = 0;
        assert_int_equal(store_unpack_units(tb, tl, &tout, &tcap, &tn), 0);
        assert_int_equal(tn, 2);
        assert_int_equal(tout[0].active_uj, 0);
        assert_int_equal(tout[1].active_uj, 1);
        free(tout);

        /* A schema-11 blob whose split is made again, pinned byte for byte: units 1 and 2 have
         * the same CPU time, and both sums (3 and 7 uJ) leave them a tie that the rule (the
         * unit listed first) breaks for unit 1. If attr_apportion's rules ever changed, stored
         * history would read back otherwise: this fails first. */
        static const uint8_t pinned_split[] = {0x42, 0x03, 0xe8, 0x07, 0x03, 0x07, 0x88, 0x27, 0x01,
                                               0xe8, 0x07, 0x01, 0xe8, 0x07, 0x01, 0xb8, 0x17};
        static const StoreUnitValue split_want[] = {
                {1, 1, 2, 1000000}, {2, 0, 1, 1000000}, {3, 2, 4, 3000000}};
        tout = NULL;
        tcap = 0;
        assert_int_equal(store_unpack_units(pinned_split, sizeof(pinned_split), &tout, &tcap, &tn),
                         0);
        assert_int_equal(tn, 3);
        for (size_t k = 0; k < tn; k++)
                assert_memory_equal(&tout[k], &split_want[k], sizeof(tout[k]));
        free(tout);
        /* Schema 12 packs the same tick in 13 bytes: the header leaves out K (a flag) and the
         * sum of the CPU values, which the reader adds up. Pinned too. */
        static const uint8_t pinned_short[] = {0x4e, 0x03, 0x03, 0x07, 0x01, 0xe8, 0x07,
                                               0x01, 0xe8, 0x07, 0x01, 0xb8, 0x17};
        uint8_t again[256];
        assert_int_equal(store_pack_units(split_want, 3, again), sizeof(pinned_short));
        assert_memory_equal(again, pinned_short, sizeof(pinned_short));
        tout = NULL;
        tcap = 0;
        assert_int_equal(store_unpack_units(again, sizeof(pinned_short), &tout, &tcap, &tn), 0);
        assert_int_equal(tn, 3);
        for (size_t k = 0; k < tn; k++)
                assert_memory_equal(&tout[k], &split_want[k], sizeof(tout[k]));
        /* a byte after the last field: not a blob the packer writes */
        again[sizeof(pinned_short)] = 0;
        assert_int_equal(store_unpack_units(again, sizeof(pinned_short) + 1, &tout, &tcap, &tn),
                         -EBADMSG);
        free(tout);

        /* Blobs a joulesd of schema 10 wrote (residual codes; requests in the first format)
         * still read back exactly. */
        static const uint8_t v10_units[] = {0x21, 0x03, 0xe8, 0x07, 0xe9, 0xbf, 0x17, 0xc8, 0xd9,
                                            0x04, 0xb1, 0xdb, 0x06, 0x01, 0xb0, 0xae, 0x15, 0x01,
                                            0xb8, 0x91, 0x02, 0x03, 0x01, 0x22, 0x08};
        static const StoreUnitValue v10_want[] = {
                {1, 350000, 70000, 100000000}, {2, 35000, 7000, 10000000}, {5, 1, 0, 1000}};
        tout = NULL;
        tcap = 0;
        assert_int_equal(store_unpack_units(v10_units, sizeof(v10_units), &tout, &tcap, &tn), 0);
        assert_int_equal(tn, 3);
        for (size_t k = 0; k < tn; k++)
                assert_memory_equal(&tout[k], &v10_want[k], sizeof(tout[k]));
        free(tout);
        static const uint8_t v10_requests[] = {0x01, 0x03, 0x01, 0x01, 0x06, 0x00, 0x02,
                                               0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                               0xe0, 0x3f, 0x06, 0x01, 0x90, 0x03};
        StoreRequestValue *rout = NULL;
        size_t rcap = 0, rn = 0;
        assert_int_equal(
                store_unpack_requests(v10_requests, sizeof(v10_requests), &rout, &rcap, &rn), 0);
        assert_int_equal(rn, 3);
        assert_true(rout[0].unit_id == 1 && rout[0].metric_id == 1 && rout[0].count == 3);
        assert_true(rout[1].unit_id == 1 && rout[1].metric_id == 2 && rout[1].count == 0.5);
        assert_true(rout[2].unit_id == 7 && rout[2].metric_id == 1 && rout[2].count == 200);
        free(rout);
        /* one metric and whole counts: the metric once, the counts as plain varints */
        StoreRequestValue one[] = {{1, 4, 100}, {3, 4, 0}, {9, 4, 127}};
        uint8_t ob[64];
        size_t ol = store_pack_requests(one, ELEMENTSOF(one), ob);
        assert_int_equal(ol, 3 + 3 * 2);
        rout = NULL;
        rcap = 0;
        assert_int_equal(store_unpack_requests(ob, ol, &rout, &rcap, &rn), 0);
        assert_int_equal(rn, 3);
        for (size_t k = 0; k < rn; k++)
                assert_true(rout[k].unit_id == one[k].unit_id &&
                            rout[k].metric_id == one[k].metric_id && rout[k].count == one[k].count);
        free(rout);

        StoreRequestValue rq[] = {{1, 1, 3}, {1, 2, 0.3333333333}, {7, 1, 1e300}, {8, 1, 0}};
        uint8_t buf[512];
        size_t len = store_pack_requests(rq, ELEMENTSOF(rq), buf);
        StoreRequestValue *out = NULL;
        size_t cap = 0, n = 0;
        assert_int_equal(store_unpack_requests(buf, len, &out, &cap, &n), 0);
        assert_int_equal(n, ELEMENTSOF(rq));
        for (size_t k = 0; k < n; k++) {
                assert_int_equal(out[k].unit_id, rq[k].unit_id);
                assert_int_equal(out[k].metric_id, rq[k].metric_id);
                assert_true(out[k].count == rq[k].count);
        }
        for (size_t cut = 0; cut < len; cut++)
                assert_int_equal(store_unpack_requests(buf, cut, &out, &cap, &n), -EBADMSG);
        free(out);
}

/* Blobs from a corrupt or foreign history: refused, never decoded into values that do not add up
 * to the sums the blob carries (a report would show a wrong total), nor into ids that wrap. The
 * first rows were found by fuzz/fuzz-store-pack.c. */
static void test_pack_corrupt(void **state)
{
        static const struct {
                const char *why;
                uint8_t blob[32];
                size_t len;
        } units[] = {
                {"residuals that do not add up to the sums",
                 {0x02, 0x03, 0x01, 0xf6, 0x07, 0x08, 0xff, 0xad, 0x4b, 0x05, 0x87, 0xad, 0x4b,
                  0xd5, 0x0f, 0x07, 0x01, 0x07, 0xce, 0x0f, 0x00, 0x5e, 0x09, 0x0a, 0x0a},
                 25},
                /* layout 1, one unit, A = 5, I = 0, C = 0: its active 6 is not the sum */
                {"a value that is not the sum",
                 {0x01, 0x01, 0x01, 0x05, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00},
                 10},
                /* two units with the same id (delta 0 after the first) */
                {"a repeated unit id",
                 {0x01, 0x02, 0x01, 0x02, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
                  0x00},
                 14},
                /* schema 11's flags where they cannot be: the split made again in layout 1
                 * (split by active energy), bit values with residuals after each value, a
                 * padding bit set after a bit-coded value */
                {"a split made again by active energy",
                 {0x41, 0x01, 0x01, 0x05, 0x00, 0x01, 0x01},
                 7},
                {"bit values with residuals after each value",
                 {0x82, 0x01, 0x01, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00},
                 12},
                /* layout 2, split again, bit values, one unit of id 1 (delta), C = 1: lmin 1,
                 * w 1, code 0 (L = 1, x = 1), then a set padding bit */
                {"a set padding bit",
                 {0xc2, 0x01, 0x01, 0x05, 0x00, 0x01, 0x01, 0x01, 0x01, 0x02},
                 10},
                /* an id delta of 2^63: a signed sum would wrap */
                {"an id past INT64_MAX",
                 {0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                  0x80, 0x80, 0x01, 0x00, 0x00, 0x00},
                 19},
                /* schema 12's short header where it cannot be: K = 1000 without it (the pinned
                 * 13-byte blob's first byte 0x4e made 0x4a), with residuals after each value
                 * (0x0e), and values whose sum does not fit in 64 bits */
                {"K = 1000 without the short header",
                 {0x4a, 0x03, 0x03, 0x07, 0x01, 0xe8, 0x07, 0x01, 0xe8, 0x07, 0x01, 0xb8, 0x17},
                 13},
                {"the short header with residuals after each value",
                 {0x0e, 0x03, 0x03, 0x07, 0x01, 0xe8, 0x07, 0x01, 0xe8, 0x07, 0x01, 0xb8, 0x17},
                 13},
                {"values whose sum is past 64 bits",
                 {0x26, 0x02, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff,
                  0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0xff, 0xff,
                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00},
                 27},
        };
        for (size_t c = 0; c < ELEMENTSOF(units); c++) {
                StoreUnitValue *out = NULL;
                size_t cap = 0, n = 0;
                if (store_unpack_units(units[c].blob, units[c].len, &out, &cap, &n) != -EBADMSG)
                        fail_msg("unit blob %zu (%s) was not refused", c, units[c].why);
                free(out);
        }
        static const struct {
                const char *why;
                uint8_t blob[32];
                size_t len;
        } requests[] = {
                /* a count given as the double -1.0 */
                {"a negative count",
                 {0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0xbf},
                 13},
                /* a count given as a NaN */
                {"a NaN count",
                 {0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f},
                 13},
                {"a metric id past INT64_MAX",
                 {0x01, 0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
                  0x02},
                 14},
        };
        for (size_t c = 0; c < ELEMENTSOF(requests); c++) {
                StoreRequestValue *out = NULL;
                size_t cap = 0, n = 0;
                if (store_unpack_requests(requests[c].blob, requests[c].len, &out, &cap, &n) !=
                    -EBADMSG)
                        fail_msg("request blob %zu (%s) was not refused", c, requests[c].why);
                free(out);
        }
}

/* A packed tick's domain rows (schema 12): what goes in comes out, NULLs and reasons too; rows
 * the format cannot hold are refused (the packer then leaves them plain); a corrupt BLOB is
 * -EBADMSG. */
static void test_pack_domains(void **state)
{
        (void)state;
        static const StorePackedDomain rows[] = {
                {.domain_id = 1, .has_energy = true, .energy_uj = 21563538},
                {.domain_id = 2, .has_energy = true, .energy_uj = 0},
                {.domain_id = 3, .reason = "implausible power", .reason_len = 17},
                {.domain_id = 7, .has_energy = true, .energy_uj = -5}, /* not written, kept */
                {.domain_id = 9},                                      /* both NULL */
                {.domain_id = INT64_C(1) << 61,
                 .has_energy = true,
                 .energy_uj = INT64_MIN,
                 .reason = "",
                 .reason_len = 0},
        };
        uint8_t buf[512];
        StorePackedDomain *out = NULL;
        size_t cap = 0, n;
        /* the first 0 to 5 rows, then the last one alone (a large id) */
        for (size_t t = 0; t <= 6; t++) {
                const StorePackedDomain *in = t < 6 ? rows : rows + 5;
                size_t b = t < 6 ? t : 1;
                assert_true(store_pack_domains_bound(in, b) <= sizeof(buf));
                size_t w = store_pack_domains(in, b, buf);
                assert_true(w > 0);
                assert_int_equal(store_unpack_domains(buf, w, &out, &cap, &n), 0);
                assert_int_equal(n, b);
                for (size_t k = 0; k < b; k++) {
                        assert_int_equal(out[k].domain_id, in[k].domain_id);
                        assert_int_equal(out[k].has_energy, in[k].has_energy);
                        if (in[k].has_energy)
                                assert_int_equal(out[k].energy_uj, in[k].energy_uj);
                        assert_int_equal(!out[k].reason, !in[k].reason);
                        assert_int_equal(out[k].reason_len, in[k].reason_len);
                        if (in[k].reason)
                                assert_memory_equal(out[k].reason, in[k].reason, in[k].reason_len);
                }
                /* every proper prefix and one byte more are refused */
                for (size_t cut = 0; cut < w; cut++)
                        assert_int_equal(store_unpack_domains(buf, cut, &out, &cap, &n), -EBADMSG);
                buf[w] = 0;
                assert_int_equal(store_unpack_domains(buf, w + 1, &out, &cap, &n), -EBADMSG);
        }
        /* one domain of 21.6 J in 7 bytes, where a domain_energy row takes about 16 */
        assert_int_equal(store_pack_domains(rows, 1, buf), 7);
        /* ids that do not increase, are negative or too far apart cannot be packed */
        StorePackedDomain far[] = {{.domain_id = INT64_C(1) << 62}};
        assert_int_equal(store_pack_domains(far, 1, buf), 0);
        StorePackedDomain twice[] = {{.domain_id = 4}, {.domain_id = 4}};
        assert_int_equal(store_pack_domains(twice, 2, buf), 0);
        StorePackedDomain down[] = {{.domain_id = 4}, {.domain_id = 3}};
        assert_int_equal(store_pack_domains(down, 2, buf), 0);
        StorePackedDomain negative[] = {{.domain_id = -1}};
        assert_int_equal(store_pack_domains(negative, 1, buf), 0);
        /* corrupt: another version, a count beyond the bytes, an id not increasing, a reason
         * longer than what is left, an id past INT64_MAX */
        static const struct {
                uint8_t b[32];
                size_t len;
        } bad[] = {
                {{2, 0}, 2},
                {{1, 5, 4}, 3},
                {{1, 2, 4, 1}, 4},
                {{1, 1, 6, 9, 'a'}, 5},
        /* three ids 2^62 - 1 apart */
#define FAR 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
                {{1, 3, FAR, FAR, FAR}, 32},
#undef FAR
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(store_unpack_domains(bad[i].b, bad[i].len, &out, &cap, &n),
                                 -EBADMSG);
        free(out);
}

/* Schema 14's processes: they come back as given, names as bytes; what the format cannot hold is
 * refused to the encoder (the tick's rows then stay plain) and a damaged BLOB to the decoder. */
static void test_pack_procs(void **state)
{
        (void)state;
        static const StoreProcValue rows[] = {
                {1, 3, 300, "w\x1b[2J\xff", 40, 0, 400},
                {1, 7, 700, "nginx: worker", 60, 5, 600},
                {4, 2, 0, "", 0, 0, 0},
                {INT64_C(1) << 40, INT32_MAX, INT64_MAX, "x", INT64_MAX, INT64_MAX, INT64_MAX},
        };
        uint8_t buf[512];
        StorePackedProc *out = NULL;
        size_t cap = 0, n;
        for (size_t b = 0; b <= ELEMENTSOF(rows); b++) {
                assert_true(store_pack_procs_bound(rows, b) <= sizeof(buf));
                size_t w = store_pack_procs(rows, b, buf);
                assert_true(w > 0 && w <= store_pack_procs_bound(rows, b));
                assert_int_equal(store_unpack_procs(buf, w, &out, &cap, &n), 0);
                assert_int_equal(n, b);
                for (size_t k = 0; k < b; k++) {
                        assert_int_equal(out[k].unit_id, rows[k].unit_id);
                        assert_int_equal(out[k].pid, rows[k].pid);
                        assert_int_equal(out[k].start_time, rows[k].start_time);
                        assert_int_equal(out[k].comm_len, strlen(rows[k].comm));
                        assert_memory_equal(out[k].comm, rows[k].comm, out[k].comm_len);
                        assert_int_equal(out[k].active_uj, rows[k].active_uj);
                        assert_int_equal(out[k].idle_uj, rows[k].idle_uj);
                        assert_int_equal(out[k].cpu_ns, rows[k].cpu_ns);
                }
                for (size_t cut = 0; cut < w; cut++)
                        assert_int_equal(store_unpack_procs(buf, cut, &out, &cap, &n), -EBADMSG);
                buf[w] = 0;
                assert_int_equal(store_unpack_procs(buf, w + 1, &out, &cap, &n), -EBADMSG);
        }
        /* a process of 65 uJ named "nginx: worker" in 24 bytes, 13 of them its name */
        assert_int_equal(store_pack_procs(rows + 1, 1, buf), 24);
        static const StoreProcValue refused[][2] = {
                {{1, 7, 1, "a", 1, 1, 1}, {1, 7, 1, "b", 1, 1, 1}}, /* the same process twice */
                {{1, 7, 1, "a", 1, 1, 1}, {1, 3, 1, "b", 1, 1, 1}}, /* pids not increasing */
                {{2, 1, 1, "a", 1, 1, 1}, {1, 3, 1, "b", 1, 1, 1}}, /* units not increasing */
                {{-1, 1, 1, "a", 1, 1, 1}, {1, 3, 1, "b", 1, 1, 1}},
                {{1, -1, 1, "a", 1, 1, 1}, {1, 3, 1, "b", 1, 1, 1}},
                {{1, 1, 1, NULL, 1, 1, 1}, {1, 3, 1, "b", 1, 1, 1}},
                {{1, 1, 1, "a", (uint64_t)INT64_MAX + 1, 1, 1}, {1, 3, 1, "b", 1, 1, 1}},
                {{1, 1, 1, "a", 1, 1, 1}, {1, 3, (uint64_t)INT64_MAX + 1, "b", 1, 1, 1}},
                {{1, 1, 1, "a", 1, 1, 1}, {1, 3, 1, "b", 1, 1, UINT64_MAX}},
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++)
                assert_int_equal(store_pack_procs(refused[i], 2, buf), 0);
        /* corrupt: another version, more rows than bytes, a pid past INT32_MAX, the same process
         * twice, a name with a NUL, a value past INT64_MAX */
        static const struct {
                uint8_t b[40];
                size_t len;
        } bad[] = {
                {{2, 0}, 2},
                {{1, 2, 1, 1, 1, 0, 1, 1, 1}, 9},
                {{1, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 0, 1, 1, 1}, 13},
                {{1, 2, 1, 5, 1, 0, 1, 1, 1, 0, 5, 1, 0, 1, 1, 1}, 16},
                {{1, 1, 1, 5, 1, 2, 'a', 0, 1, 1, 1}, 11},
                {{1, 1, 1, 5, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1,
                  1},
                 18},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(store_unpack_procs(bad[i].b, bad[i].len, &out, &cap, &n),
                                 -EBADMSG);
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pack_roundtrip),
                cmocka_unit_test(test_pack_corrupt),
                cmocka_unit_test(test_pack_domains),
                cmocka_unit_test(test_pack_procs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

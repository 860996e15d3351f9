/* The utilisation model: /proc/stat parsing and the power formula from tables, the integration
 * against a fake procfs with a fake clock, and the source on this machine's real /proc. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/energy-model.h"
#include "collectors/power-defaults.h"
#include "collectors/proc-stat.h"
#include "common/util.h"

/* A 2-vCPU cloud VM (AMD EPYC guest, kernel 6.18): this build machine. */
static const char vm2_stat[] = "cpu  6226 0 2640 1808270 388 0 61 11 0 0\n"
                               "cpu0 1706 0 756 906278 21 0 25 2 0 0\n"
                               "cpu1 4520 0 1883 901992 366 0 35 8 0 0\n"
                               "intr 283257 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 15 "
                               "0 0 0 0 1819 46 0 160 1\n"
                               "ctxt 492229\n"
                               "btime 1795739805\n"
                               "processes 8543\n"
                               "procs_running 4\n"
                               "procs_blocked 0\n"
                               "softirq 315501 0 90473 3 664 37954 0 2 126101 0 60304\n";

/* A 64-core host running KVM guests (guest time on some CPUs), about a month up. */
static const char host64_stat[] =
        "cpu  1955690597 1509281 343203015 11223698237 29191342 0 21478235 0 8428942 0\n"
        "cpu0 35977220 8182 6388670 185980926 730224 0 108835 0 426793 0\n"
        "cpu1 29014348 46144 4689189 196886108 869221 0 507996 0 0 0\n"
        "cpu2 24946962 5230 6495816 179530336 217890 0 478162 0 0 0\n"
        "cpu3 20825784 5483 6380068 195598109 15602 0 586354 0 0 0\n"
        "cpu4 22141724 11440 3884265 189372527 57940 0 598092 0 0 0\n"
        "cpu5 39759570 17301 4839201 186187125 216294 0 146568 0 0 0\n"
        "cpu6 20991319 30040 6330385 164345016 320236 0 489227 0 0 0\n"
        "cpu7 24606556 36023 6580957 174080007 543950 0 260966 0 0 0\n"
        "cpu8 32220566 45112 7082882 184841138 197656 0 126254 0 3441 0\n"
        "cpu9 27757664 30502 4350068 164327212 240323 0 129350 0 0 0\n"
        "cpu10 29420744 14239 5058189 151982130 767363 0 522769 0 0 0\n"
        "cpu11 30168753 7297 4312191 170041449 243597 0 436536 0 0 0\n"
        "cpu12 39099967 44345 4990200 194030114 264765 0 597417 0 0 0\n"
        "cpu13 24983751 40390 5163188 178466296 476702 0 257584 0 0 0\n"
        "cpu14 32504099 11173 5296904 160423813 876979 0 194096 0 0 0\n"
        "cpu15 30001344 2917 4066514 153562210 126391 0 162973 0 0 0\n"
        "cpu16 37117025 3680 4419424 172353830 599046 0 231520 0 1747243 0\n"
        "cpu17 34192572 31002 3371797 195200943 526584 0 266536 0 0 0\n"
        "cpu18 37282387 46286 3313401 153598510 793011 0 460604 0 0 0\n"
        "cpu19 37964292 20504 4194734 198914193 810603 0 157330 0 0 0\n"
        "cpu20 36818013 21507 5578395 191830496 539532 0 167168 0 0 0\n"
        "cpu21 33112405 25363 6134596 159155234 351299 0 318948 0 0 0\n"
        "cpu22 20287718 44505 3076866 170839877 701319 0 433813 0 0 0\n"
        "cpu23 25757471 25046 4559293 185515694 735739 0 220690 0 0 0\n"
        "cpu24 35987286 18276 7729649 180018537 96815 0 266053 0 622765 0\n"
        "cpu25 28576827 1663 6564635 174270363 793127 0 440857 0 0 0\n"
        "cpu26 23509940 49385 4037211 181564052 685582 0 288888 0 0 0\n"
        "cpu27 36383258 6332 3383061 185700404 831436 0 447145 0 0 0\n"
        "cpu28 37202373 5896 3186583 198744154 644524 0 491383 0 0 0\n"
        "cpu29 36803683 39196 4039908 177358127 405838 0 160234 0 0 0\n"
        "cpu30 32898542 10602 7400922 199433431 170509 0 536890 0 0 0\n"
        "cpu31 29869134 22965 7734559 158131058 228127 0 445130 0 0 0\n"
        "cpu32 20048955 21932 4887789 159991032 859106 0 530749 0 809474 0\n"
        "cpu33 22873992 13467 7449295 178308196 156894 0 579208 0 0 0\n"
        "cpu34 20215628 18623 5616410 177777003 803563 0 171329 0 0 0\n"
        "cpu35 35806976 1687 5621942 184471101 299567 0 322577 0 0 0\n"
        "cpu36 35303687 21642 4156776 163731573 574167 0 208803 0 0 0\n"
        "cpu37 31315995 17018 7678017 161535541 518039 0 117612 0 0 0\n"
        "cpu38 26257291 586 5811948 189710449 725099 0 273893 0 0 0\n"
        "cpu39 25520241 13356 5431076 186684249 427553 0 246891 0 0 0\n"
        "cpu40 30382214 1019 6534133 168713030 858988 0 329868 0 1951560 0\n"
        "cpu41 37357743 23391 3241101 154072733 377828 0 326034 0 0 0\n"
        "cpu42 28400611 24987 3181453 197952154 186564 0 495460 0 0 0\n"
        "cpu43 36064330 4770 6836803 177958730 49508 0 390768 0 0 0\n"
        "cpu44 37112842 33985 7663297 159950530 418075 0 330711 0 0 0\n"
        "cpu45 35565671 29231 6862365 151702993 398521 0 304076 0 0 0\n"
        "cpu46 29219901 34147 7392883 150629328 148842 0 208064 0 0 0\n"
        "cpu47 26973759 28205 3203293 198108826 415066 0 411224 0 0 0\n"
        "cpu48 27986062 28879 3538495 199719400 38887 0 270890 0 1155043 0\n"
        "cpu49 24876338 36305 4952602 175725427 559936 0 249758 0 0 0\n"
        "cpu50 28247101 43650 5265345 183570928 746234 0 369318 0 0 0\n"
        "cpu51 37019154 10893 6644609 153847413 331483 0 132863 0 0 0\n"
        "cpu52 39128679 3974 6175489 179157261 506126 0 246081 0 0 0\n"
        "cpu53 26157564 31567 7152029 178895851 564698 0 484839 0 0 0\n"
        "cpu54 30865307 27843 5625173 156311121 387638 0 498491 0 0 0\n"
        "cpu55 38506521 37747 6804696 187966784 467387 0 168063 0 0 0\n"
        "cpu56 32240273 48617 7504730 198530322 294712 0 140590 0 1712623 0\n"
        "cpu57 23638381 42822 3029780 156017875 198024 0 126956 0 0 0\n"
        "cpu58 39377879 31581 7352571 182959715 750034 0 502973 0 0 0\n"
        "cpu59 20539371 45921 3229213 158274715 399345 0 504155 0 0 0\n"
        "cpu60 35216890 8350 3068845 160873848 688707 0 149289 0 0 0\n"
        "cpu61 28033850 30497 4913823 152992897 151181 0 336821 0 0 0\n"
        "cpu62 22990067 24793 7287253 164609925 724566 0 585238 0 0 0\n"
        "cpu63 34264027 39770 4456060 160663868 86780 0 528275 0 0 0\n"
        "intr 48207635161 44 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 36 0 0 0 0 0 0 0 0 0 0 0 0\n"
        "ctxt 96213145822\n"
        "btime 1764000000\n"
        "processes 312454387\n"
        "procs_running 9\n"
        "procs_blocked 0\n"
        "softirq 21033214981 3 3291044325 112004 1208880102 2131 0 3104412 9234557898 68 "
        "7296612016\n";

/* Linux 2.6.18 (RHEL 5): no guest fields. */
static const char linux2618_stat[] = "cpu  133592 2312 89123 58403321 41231 3211 4123 0\n"
                                     "cpu0 66796 1156 44561 29201660 20615 3211 2061 0\n"
                                     "cpu1 66796 1156 44562 29201661 20616 0 2062 0\n"
                                     "intr 12345 0 0\n"
                                     "ctxt 998877\n";

/* Linux 2.4: four fields. */
static const char linux24_stat[] = "cpu  1234 5 678 91011\n"
                                   "cpu0 617 2 339 45505\n"
                                   "cpu1 617 3 339 45506\n"
                                   "page 5741 1808\n";

static void test_proc_stat_parse(void **state)
{
        static const struct {
                const char *name, *text;
                int r;
                unsigned n_fields, n_cpus;
                uint64_t v[10];
        } rows[] = {
                {"vm2", vm2_stat, 0, 10, 2, {6226, 0, 2640, 1808270, 388, 0, 61, 11, 0, 0}},
                {"host64",
                 host64_stat,
                 0,
                 10,
                 64,
                 {UINT64_C(1955690597), 1509281, 343203015, UINT64_C(11223698237), 29191342, 0,
                  21478235, 0, 8428942, 0}},
                {"2.6.18",
                 linux2618_stat,
                 0,
                 8,
                 2,
                 {133592, 2312, 89123, 58403321, 41231, 3211, 4123}},
                {"2.4", linux24_stat, 0, 4, 2, {1234, 5, 678, 91011}},
                {"future",
                 "cpu  1 2 3 4 5 6 7 8 9 10 11 12\ncpu0 1 2 3 4 5 6 7 8 9 10 11 12\n",
                 0,
                 10,
                 1,
                 {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
                {"no newline", "cpu  1 2 3 4", 0, 4, 0, {1, 2, 3, 4}},
                {"tabs", "cpu\t1\t2\t3\t4\ncpu0\t1\t2\t3\t4\n", 0, 4, 1, {1, 2, 3, 4}},
                {"empty", "", -EINVAL, 0, 0, {0}},
                {"no cpu line", "intr 1 2 3\nctxt 4\n", -EINVAL, 0, 0, {0}},
                {"words", "hello\n", -EINVAL, 0, 0, {0}},
                {"3 fields", "cpu  1 2 3\n", -EINVAL, 0, 0, {0}},
                {"letter", "cpu  1 2 x 4\n", -EINVAL, 0, 0, {0}},
                {"suffix", "cpu  1 2 3 4x\n", -EINVAL, 0, 0, {0}},
                {"negative", "cpu  -1 2 3 4\n", -EINVAL, 0, 0, {0}},
                {"overflow", "cpu  99999999999999999999 0 0 0\n", -ERANGE, 0, 0, {0}},
                {"two totals", "cpu  1 2 3 4\ncpu  1 2 3 4\n", -EINVAL, 0, 0, {0}},
                {"bad cpuN", "cpu  1 2 3 4\ncpu0 a b c d\n", -EINVAL, 0, 0, {0}},
                {"empty cpuN", "cpu  1 2 3 4\ncpu0\n", -EINVAL, 0, 0, {0}},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                ProcStat st = {.n_cpus = 999};
                int r = proc_stat_parse(rows[i].text, &st);
                if (r != rows[i].r)
                        fail_msg("%s: %d, expected %d", rows[i].name, r, rows[i].r);
                if (r < 0) {
                        assert_int_equal(st.n_cpus, 999); /* untouched on failure */
                        continue;
                }
                uint64_t got[10] = {st.user, st.nice,    st.system, st.idle,  st.iowait,
                                    st.irq,  st.softirq, st.steal,  st.guest, st.guest_nice};
                for (size_t k = 0; k < 10; k++)
                        if (got[k] != rows[i].v[k])
                                fail_msg("%s: field %zu is %" PRIu64 ", expected %" PRIu64,
                                         rows[i].name, k, got[k], rows[i].v[k]);
                assert_int_equal(st.n_fields, rows[i].n_fields);
                assert_int_equal(st.n_cpus, rows[i].n_cpus);
        }
}

static void test_proc_stat_busy_total(void **state)
{
        ProcStat st;
        /* guest (60) and guest_nice (7) are inside user and nice: not added again; steal (3)
         * is time, not busy time. */
        assert_int_equal(proc_stat_parse("cpu  100 10 50 800 40 5 5 3 60 7\n", &st), 0);
        assert_int_equal(proc_stat_busy(&st), 100 + 10 + 50 + 5 + 5);
        assert_int_equal(proc_stat_total(&st), 170 + 800 + 40 + 3);
        assert_int_equal(proc_stat_parse(host64_stat, &st), 0);
        assert_int_equal(proc_stat_busy(&st),
                         UINT64_C(1955690597) + 1509281 + 343203015 + 21478235);
        assert_int_equal(proc_stat_parse(linux24_stat, &st), 0);
        assert_int_equal(proc_stat_busy(&st), 1234 + 5 + 678);
        assert_int_equal(proc_stat_total(&st), 1234 + 5 + 678 + 91011);
}

/* The linear model of Cloud Carbon Footprint (methodology, "Energy Estimate" for compute):
 * average watts = min + utilisation * (max - min) per vCPU (AWS 0.74/3.5 W, GCP 0.71/4.26 W), as
 * the two-point curve the per-CPU line makes. */
static void test_power_w(void **state)
{
        static const struct {
                double util;
                unsigned ncpu;
                double idle, max, watts;
        } rows[] = {
                {0, 2, 0.74, 3.5, 1.48},
                {1, 2, 0.74, 3.5, 7.0},
                {0.5, 2, 0.74, 3.5, 4.24},
                {0.25, 64, 0.74, 3.5, 64 * (0.74 + 2.76 * 0.25)},
                {0.5, 8, 0.71, 4.26, 8 * (0.71 + 3.55 * 0.5)}, /* GCP */
                {-0.5, 2, 0.74, 3.5, 1.48},                    /* clamped */
                {1.5, 2, 0.74, 3.5, 7.0},
                {NAN, 2, 0.74, 3.5, 1.48},
                {0.5, 0, 0.74, 3.5, 0},
                {0.3, 4, 1, 1, 4},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                PowerCurve c;
                power_curve_linear(&c, rows[i].ncpu, rows[i].idle, rows[i].max);
                double w = power_curve_eval(&c, 100 * rows[i].util);
                if (fabs(w - rows[i].watts) > 1e-9)
                        fail_msg("row %zu: %.12f W, expected %.12f", i, w, rows[i].watts);
        }
}

/* ---- the source over a fake procfs and a fake clock ---- */

static uint64_t fake_now_ns;
static uint64_t fake_clock(void)
{
        return fake_now_ns;
}

static char tmpdir[PATH_MAX];

static void write_stat(const char *text)
{
        /* Rewritten in place: the source keeps its fd and preads it. */
        char path[PATH_MAX];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/stat", tmpdir), 0);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void write_jiffies_steal(uint64_t busy, uint64_t idle, uint64_t steal, uint64_t guest)
{
        char buf[512];
        /* Two CPUs; busy as user time (which includes guest). */
        snprintf(buf, sizeof(buf),
                 "cpu  %" PRIu64 " 0 0 %" PRIu64 " 0 0 0 %" PRIu64 " %" PRIu64 " 0\n"
                 "cpu0 0 0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\nctxt 1\n",
                 busy, idle, steal, guest);
        write_stat(buf);
}

static void write_jiffies(uint64_t busy, uint64_t idle, uint64_t guest)
{
        write_jiffies_steal(busy, idle, 0, guest);
}

static int setup_tmp(void **state)
{
        const char *base = getenv("JOULES_TEST_TMP");
        if (!base)
                base = "/tmp";
        (void)mkdir(base, 0755);
        assert_int_equal(path_fmt(tmpdir, sizeof(tmpdir), "%s/model-XXXXXX", base), 0);
        assert_non_null(mkdtemp(tmpdir));
        energy_model_set_clock(fake_clock);
        fake_now_ns = 5 * NSEC_PER_SEC;
        return 0;
}

static void write_file(const char *rel, const char *text)
{
        char path[PATH_MAX];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmpdir, rel), 0);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static int teardown_tmp(void **state)
{
        static const char *const files[] = {
                "stat",
                "self/mountinfo",
                "self",
                "cg/cpu.stat",
                "cg/cgroup.type",
                "cg",
                "cpuinfo",
                "meminfo",
                "sys/class/dmi/id/sys_vendor",
                "sys/class/dmi/id/product_name",
                "sys/class/dmi/id",
                "sys/class/dmi",
                "sys/class",
                "sys/devices/system/cpu/online",
                "sys/devices/system/cpu",
                "sys/devices/system",
                "sys/devices",
                "sys",
        };
        char path[PATH_MAX];
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmpdir, files[i]), 0);
                if (unlink(path) < 0)
                        (void)rmdir(path);
        }
        (void)rmdir(tmpdir);
        energy_model_set_clock(NULL);
        return 0;
}

/* the per-CPU line these tests configure (CCF's AWS figures) */
#define LINE_IDLE_W 0.74
#define LINE_MAX_W  3.5

static EnergyOptions default_opts(void)
{
        /* the per-CPU line, as configured, and no dram domain */
        return (EnergyOptions){.model_idle_w_per_cpu = LINE_IDLE_W,
                               .model_max_w_per_cpu = LINE_MAX_W,
                               .model_line_set = true};
}

static int open_tmp(const EnergyOptions *opts, EnergySource **ret, char *err, size_t errlen)
{
        JoulesRoots roots = {.sysfs = "/nonexistent", .procfs = tmpdir};
        err[0] = '\0';
        return energy_source_model.open(&roots, opts, ret, err, errlen);
}

static uint64_t read_one(EnergySource *s)
{
        uint64_t uj = 0;
        bool valid = false;
        assert_int_equal(energy_source_model.read(s, &uj, &valid), 0);
        assert_true(valid);
        return uj;
}

static void test_model_integrates(void **state)
{
        char err[256];
        EnergySource *s = NULL;
        EnergyOptions o = default_opts();
        write_jiffies(1000, 9000, 0);
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), 0);

        assert_true(energy_source_model.estimated);
        assert_string_equal(energy_source_model.name, "model");
        assert_ptr_equal(s->ops, &energy_source_model);
        assert_int_equal(s->n_domains, 1);
        assert_string_equal(s->domains[0].name, "model");
        assert_string_equal(s->domains[0].zone, "model");
        assert_int_equal(s->domains[0].kind, ENERGY_DOMAIN_MODEL);
        assert_true(s->domains[0].in_host);
        assert_false(s->domains[0].wraps);

        /* The first read is the baseline. */
        assert_int_equal(read_one(s), 0);
        /* 50% for 1 s on 2 CPUs: 2 * (0.74 + 2.76 * 0.5) W = 4.24 W. */
        write_jiffies(1050, 9050, 0);
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 4240000);
        /* 100% for 2 s: 7 W. */
        write_jiffies(1150, 9050, 0);
        fake_now_ns += 2 * NSEC_PER_SEC;
        assert_int_equal(read_one(s), 4240000 + 14000000);
        /* Guest time is in user already: 100 jiffies of which all guest, 100 idle, is 50%. */
        write_jiffies(1250, 9150, 100);
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 18240000 + 4240000);
        /* No jiffies passed: the last utilisation carries on. */
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 22480000 + 4240000);
        /* The aggregate went back (a CPU went offline): the last utilisation, no negative. */
        write_jiffies(700, 9000, 100);
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 26720000 + 4240000);
        /* The clock did not move: nothing added. */
        assert_int_equal(read_one(s), 30960000);
        /* Stolen time is time the CPUs did not run: 50 jiffies busy and 150 stolen is 25%,
         * 2 * (0.74 + 2.76 * 0.25) W = 2.86 W (counted busy, it was 100%: 7 W). */
        write_jiffies_steal(750, 9000, 150, 100);
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 30960000 + 2860000);
        assert_true(fabs(s->util_pct - 25) < 1e-9);
        /* And 50% again for what follows. */
        write_jiffies_steal(800, 9050, 150, 100);
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 33820000 + 4240000);

        /* Fractions of a µJ are carried, not dropped: 10000 reads 7 ns apart at 4.24 W make
         * 296.8 µJ, where rounding each interval would make 0. */
        uint64_t prev = read_one(s);
        uint64_t start = prev;
        for (int i = 0; i < 10000; i++) {
                fake_now_ns += 7;
                uint64_t uj = read_one(s);
                assert_true(uj >= prev);
                prev = uj;
        }
        assert_int_equal(prev - start, 296);
        energy_source_model.close(s);
        energy_source_model.close(NULL);
}

/* The root cgroup's cpu.stat (busy microseconds since boot) for the cgroup path below. */
static void write_root_cpu_stat(uint64_t user_us, uint64_t system_us)
{
        char buf[256];
        snprintf(buf, sizeof(buf),
                 "usage_usec %" PRIu64 "\nuser_usec %" PRIu64 "\nsystem_usec %" PRIu64
                 "\nnice_usec 0\n",
                 user_us + system_us, user_us, system_us);
        write_file("cg/cpu.stat", buf);
}

/* /proc/stat with n cpuN lines and an aggregate that says 100 % busy, which the cgroup path must
 * not go by. */
static void write_stat_cpus(unsigned n, uint64_t jiffies)
{
        char buf[1024];
        int k = snprintf(buf, sizeof(buf), "cpu  %" PRIu64 " 0 0 0 0 0 0 0 0 0\n", jiffies);
        for (unsigned i = 0; i < n; i++)
                k += snprintf(buf + k, sizeof(buf) - (size_t)k, "cpu%u 0 0 0 0 0 0 0 0 0 0\n", i);
        snprintf(buf + k, sizeof(buf) - (size_t)k, "ctxt 1\n");
        write_stat(buf);
}

/* A cgroup2 root at <tmpdir>/cg, named in <procfs>/self/mountinfo. */
static void make_cgroup_root(void)
{
        char text[PATH_MAX + 128], path[PATH_MAX];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/cg", tmpdir), 0);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(path_fmt(path, sizeof(path), "%s/self", tmpdir), 0);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(text, sizeof(text),
                 "22 27 0:21 / /proc rw - proc proc rw\n"
                 "41 31 0:38 / %s/cg rw,relatime - cgroup2 cgroup2 rw\n",
                 tmpdir);
        write_file("self/mountinfo", text);
}

/* With a cgroup2 root in <procfs>/self/mountinfo, the busy time is the root's user_usec +
 * system_usec over the clock times the online CPUs, and /proc/stat only counts those CPUs
 * (where <sysfs>/devices/system/cpu/online is missing: test_model_online_file). */
static void test_model_cgroup(void **state)
{
        char err[256];
        EnergySource *s = NULL;
        EnergyOptions o = default_opts();
        make_cgroup_root();
        write_root_cpu_stat(1000000, 500000);
        write_stat_cpus(2, 100);
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), 0);
        assert_int_equal(read_one(s), 0);
        /* 1 s of CPU time in 1 s on 2 CPUs is 50 %: 4.24 W (the jiffies would say 100 %). */
        write_root_cpu_stat(1600000, 900000);
        write_stat_cpus(2, 300);
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 4240000);
        assert_true(fabs(s->util_pct - 50) < 1e-9);
        /* A microsecond is seen, where a jiffy is 10 ms: 1 ms in 100 ms on 2 CPUs is 0.5 %. */
        write_root_cpu_stat(1600500, 900500);
        fake_now_ns += NSEC_PER_SEC / 10;
        (void)read_one(s);
        assert_true(fabs(s->util_pct - 0.5) < 1e-9);
        /* Three CPUs' worth in 1 s: a CPU came online. 100 % now, and /proc/stat is read at the
         * next tick for the count: 3 CPUs. */
        write_root_cpu_stat(3100500, 2400500);
        write_stat_cpus(3, 300);
        fake_now_ns += NSEC_PER_SEC;
        (void)read_one(s);
        assert_true(fabs(s->util_pct - 100) < 1e-9);
        write_root_cpu_stat(3850500, 3150500); /* 1.5 s of 3 */
        fake_now_ns += NSEC_PER_SEC;
        (void)read_one(s);
        assert_true(fabs(s->util_pct - 50) < 1e-9);
        /* A CPU gone is seen within MODEL_RECOUNT (10) reads: 2 CPUs, 1 s busy in 1 s is 50 %
         * once counted, 33 % before. */
        write_stat_cpus(2, 300);
        uint64_t user = 3850500, sys = 3150500;
        double first = 0, last = 0;
        for (int i = 0; i < 10; i++) {
                user += 500000, sys += 500000;
                write_root_cpu_stat(user, sys);
                fake_now_ns += NSEC_PER_SEC;
                (void)read_one(s);
                if (i == 0)
                        first = s->util_pct;
                last = s->util_pct;
        }
        assert_true(fabs(first - 100.0 / 3) < 1e-9);
        assert_true(fabs(last - 50) < 1e-9);
        /* A saturated host's ticks read a little above 1 now and then: clamped, no recount (a
         * recount here would take /proc/stat's 4 CPUs and halve the next figure). */
        write_stat_cpus(4, 300);
        user += 1020000, sys += 1020000;
        write_root_cpu_stat(user, sys);
        fake_now_ns += NSEC_PER_SEC;
        (void)read_one(s);
        assert_true(fabs(s->util_pct - 100) < 1e-9);
        user += 500000, sys += 500000;
        write_root_cpu_stat(user, sys);
        fake_now_ns += NSEC_PER_SEC;
        (void)read_one(s);
        assert_true(fabs(s->util_pct - 50) < 1e-9);
        write_stat_cpus(2, 300);
        /* cpu.stat that no longer parses: /proc/stat from then on, its first read a baseline (the
         * last utilisation, 50 %, carries that interval), then its jiffies. */
        uint64_t before = read_one(s); /* the clock did not move: nothing added */
        write_file("cg/cpu.stat", "usage_usec x\n");
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s) - before, 4240000);
        write_stat_cpus(2, 400); /* 100 jiffies busy of 100 */
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s) - before, 4240000 + 7000000);
        energy_source_model.close(s);

        /* Not the host's root (a cgroup namespace's root has cgroup.type): /proc/stat. */
        write_file("cg/cgroup.type", "domain\n");
        write_root_cpu_stat(0, 0);
        write_stat_cpus(2, 100);
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), 0);
        assert_int_equal(read_one(s), 0);
        write_root_cpu_stat(500000, 0);
        write_stat_cpus(2, 300);
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 7000000);
        energy_source_model.close(s);
}

/* Where <sysfs>/devices/system/cpu/online is there, it counts the online CPUs (a few bytes
 * instead of the whole of /proc/stat, which here says otherwise); one that does not parse
 * leaves the count to /proc/stat. */
static void test_model_online_file(void **state)
{
        char err[256], path[PATH_MAX];
        static const char *const dirs[] = {"sys", "sys/devices", "sys/devices/system",
                                           "sys/devices/system/cpu"};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmpdir, dirs[i]), 0);
                assert_int_equal(mkdir(path, 0755), 0);
        }
        make_cgroup_root();
        write_file("sys/devices/system/cpu/online", "0-2\n");
        write_root_cpu_stat(0, 0);
        write_stat_cpus(2, 100);
        EnergyOptions o = default_opts();
        EnergySource *s = NULL;
        char sysfs[PATH_MAX];
        assert_int_equal(path_fmt(sysfs, sizeof(sysfs), "%s/sys", tmpdir), 0);
        JoulesRoots roots = {.sysfs = sysfs, .procfs = tmpdir};
        err[0] = '\0';
        assert_int_equal(energy_source_model.open(&roots, &o, &s, err, sizeof(err)), 0);
        (void)read_one(s);
        /* 1.5 s of CPU time in 1 s on the file's 3 CPUs: 50 % (75 % on /proc/stat's 2) */
        write_root_cpu_stat(1000000, 500000);
        fake_now_ns += NSEC_PER_SEC;
        (void)read_one(s);
        assert_true(fabs(s->util_pct - 50) < 1e-9);
        /* A fourth CPU online: counted within MODEL_RECOUNT (10) reads. */
        write_file("sys/devices/system/cpu/online", "0-1,3-4\n");
        uint64_t user = 1000000;
        double first = 0, last = 0;
        for (int i = 0; i < 10; i++) {
                user += 2000000;
                write_root_cpu_stat(user, 500000);
                fake_now_ns += NSEC_PER_SEC;
                (void)read_one(s);
                if (i == 0)
                        first = s->util_pct;
                last = s->util_pct;
        }
        assert_true(fabs(first - 200.0 / 3) < 1e-9);
        assert_true(fabs(last - 50) < 1e-9);
        /* A file that does not parse: /proc/stat's 2 cpuN lines count. */
        write_file("sys/devices/system/cpu/online", "0-x\n");
        for (int i = 0; i < 10; i++) {
                user += 1000000;
                write_root_cpu_stat(user, 500000);
                fake_now_ns += NSEC_PER_SEC;
                (void)read_one(s);
                last = s->util_pct;
        }
        assert_true(fabs(last - 50) < 1e-9);
        energy_source_model.close(s);
}

static void test_model_cpus_option(void **state)
{
        char err[256];
        EnergySource *s = NULL;
        EnergyOptions o = default_opts();
        o.model_cpus = 8;
        o.model_idle_w_per_cpu = 1.0;
        o.model_max_w_per_cpu = 5.0;
        write_jiffies(0, 0, 0);
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), 0);
        assert_int_equal(read_one(s), 0);
        write_jiffies(25, 75, 0);
        fake_now_ns += NSEC_PER_SEC / 2;
        /* 8 * (1 + 4 * 0.25) W = 16 W for 0.5 s. */
        assert_int_equal(read_one(s), 8000000);
        energy_source_model.close(s);
}

static void test_model_big_stat(void **state)
{
        /* 512 CPUs and a long intr line: more than the first buffer. */
        size_t size = 512 * 64 + 64 * 1024;
        char *text = malloc(size);
        assert_non_null(text);
        size_t l = (size_t)snprintf(text, size, "cpu  100 0 0 100 0 0 0 0 0 0\n");
        for (int i = 0; i < 512; i++)
                l += (size_t)snprintf(text + l, size - l, "cpu%d 1 0 0 1 0 0 0 0 0 0\n", i);
        l += (size_t)snprintf(text + l, size - l, "intr 1");
        while (l < size - 16)
                l += (size_t)snprintf(text + l, size - l, " 0");
        snprintf(text + l, size - l, "\n");
        write_stat(text);

        char err[256];
        EnergySource *s = NULL;
        EnergyOptions o = default_opts();
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), 0);
        assert_int_equal(read_one(s), 0);
        fake_now_ns += NSEC_PER_SEC;
        /* Utilisation unchanged (no jiffies): idle power of 512 CPUs. */
        assert_int_equal(read_one(s), 512 * 740000);
        energy_source_model.close(s);
        free(text);
}

static void test_model_errors(void **state)
{
        char err[256];
        EnergySource *s = NULL;
        EnergyOptions o = default_opts();

        /* No stat file: the error and the path. */
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), -ENOENT);
        assert_null(s);
        assert_non_null(strstr(err, "/stat"));

        write_stat("garbage\n");
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), -EINVAL);
        assert_null(s);

        /* No cpuN lines: the count must come from the options. */
        write_stat("cpu  1 2 3 4\n");
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), -EINVAL);
        assert_null(s);
        o.model_cpus = 4;
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), 0);
        energy_source_model.close(s);
        s = NULL;

        static const double bad[][2] = {{4, 3.5}, {-1, 3.5}, {NAN, 3.5}, {0.74, INFINITY}};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                o = default_opts();
                o.model_idle_w_per_cpu = bad[i][0];
                o.model_max_w_per_cpu = bad[i][1];
                assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), -EINVAL);
                assert_null(s);
                assert_non_null(strstr(err, "idle"));
        }

        /* A read that fails is invalid; the next good one integrates over the whole gap. */
        o = default_opts();
        write_jiffies(0, 100, 0);
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), 0);
        assert_int_equal(read_one(s), 0);
        write_stat("cpu  1 2\n");
        fake_now_ns += NSEC_PER_SEC;
        uint64_t uj = 12345;
        bool valid = true;
        assert_int_equal(energy_source_model.read(s, &uj, &valid), -EINVAL);
        assert_false(valid);
        write_jiffies(100, 100, 0);
        fake_now_ns += NSEC_PER_SEC;
        assert_int_equal(read_one(s), 2 * 7000000);
        energy_source_model.close(s);
}

static void test_cpuinfo_parse(void **state)
{
        static const struct {
                const char *text, *model;
                int r;
        } rows[] = {
                {"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
                 "processor\t: 1\nmodel name\t: AMD EPYC\n",
                 "AMD EPYC", 0},
                {"processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\n",
                 "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 0},
                /* arm64: no model name, implementer and part */
                {"processor\t: 0\nBogoMIPS\t: 243.75\nCPU implementer\t: 0x41\n"
                 "CPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\n",
                 "ARM 0x41 0xd0c", 0},
                {"processor\t: 0\nCPU implementer\t: 0x41\n", "", -ENOENT},
                {"", "", -ENOENT},
                {"model name:X", "X", 0},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char model[128];
                int r = energy_model_cpuinfo(rows[i].text, model, sizeof(model));
                if (r != rows[i].r || strcmp(model, rows[i].model) != 0)
                        fail_msg("row %zu: %d '%s', want %d '%s'", i, r, model, rows[i].r,
                                 rows[i].model);
        }
        char small[6];
        assert_int_equal(energy_model_cpuinfo("model name : AMD EPYC\n", small, sizeof(small)), 0);
        assert_string_equal(small, "AMD E");
}

static void test_meminfo_parse(void **state)
{
        static const struct {
                const char *text;
                int r;
                uint64_t kib;
        } rows[] = {
                {"MemTotal:       24683748 kB\nMemFree:        1 kB\n", 0, 24683748},
                {"MemFree:        1 kB\nMemTotal: 8 kB\n", 0, 8},
                {"MemFree:        1 kB\n", -ENOENT, 0},
                {"MemTotal: lots\n", -EINVAL, 0},
                {"MemTotal: 12 MB\n", -EINVAL, 0},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t kib = 0;
                int r = energy_model_meminfo_kib(rows[i].text, &kib);
                if (r != rows[i].r || (r == 0 && kib != rows[i].kib))
                        fail_msg("row %zu: %d %" PRIu64, i, r, kib);
        }
}

/* A configured curve: the power of each interval is the curve at the utilisation read. */
static void test_model_curve(void **state)
{
        char err[256];
        EnergySource *s = NULL;
        EnergyOptions o = {.model_curve_set = true};
        assert_int_equal(power_curve_parse("0:60, 10:100, 50:180, 100:200", &o.model_curve, err,
                                           sizeof(err)),
                         0);
        write_jiffies(0, 0, 0);
        assert_int_equal(open_tmp(&o, &s, err, sizeof(err)), 0);
        assert_non_null(s->model);
        assert_int_equal(s->model->method, POWER_METHOD_CONFIGURED);
        assert_string_equal(s->model->source, "[model] curve = 0:60, 10:100, 50:180, 100:200");
        assert_true(s->idle_w == 60); /* P_idle is the curve at 0 % */
        assert_int_equal(s->n_domains, 1);
        assert_true(isnan(s->util_pct));
        assert_int_equal(read_one(s), 0);
        static const struct {
                uint64_t busy, idle;
                double util, watts;
        } steps[] = {
                {5, 95, 5, 80},     {30, 70, 30, 140}, {75, 25, 75, 190},
                {100, 0, 100, 200}, {0, 100, 0, 60},
        };
        uint64_t busy = 0, idle = 0, want = 0;
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                busy += steps[i].busy;
                idle += steps[i].idle;
                write_jiffies(busy, idle, 0);
                fake_now_ns += NSEC_PER_SEC;
                want += (uint64_t)(steps[i].watts * 1e6);
                uint64_t got = read_one(s);
                if (got != want || fabs(s->util_pct - steps[i].util) > 1e-9)
                        fail_msg("step %zu: %" PRIu64 " uJ at %g %%, want %" PRIu64 " at %g", i,
                                 got, s->util_pct, want, steps[i].util);
        }
        energy_source_model.close(s);
}

/* No configuration: the CPU-aware default from cpuinfo and DMI, and the dram domain from
 * meminfo. */
static void test_model_defaults(void **state)
{
        char err[256], dir[PATH_MAX];
        EnergySource *s = NULL;
        EnergyOptions o = {.model_dram = ENERGY_MODEL_DRAM_AUTO};
        write_jiffies(0, 0, 0); /* 2 CPUs */
        write_file("cpuinfo", "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n"
                              "processor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\n");
        write_file("meminfo", "MemTotal:        8388608 kB\n"); /* 8 GiB */
        static const char *const dirs[] = {"sys", "sys/class", "sys/class/dmi", "sys/class/dmi/id"};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                assert_int_equal(path_fmt(dir, sizeof(dir), "%s/%s", tmpdir, dirs[i]), 0);
                assert_int_equal(mkdir(dir, 0755), 0);
        }
        write_file("sys/class/dmi/id/sys_vendor", "Google\n");
        write_file("sys/class/dmi/id/product_name", "Google Compute Engine\n");
        assert_int_equal(path_fmt(dir, sizeof(dir), "%s/sys", tmpdir), 0);
        JoulesRoots roots = {.sysfs = dir, .procfs = tmpdir};
        assert_int_equal(energy_source_model.open(&roots, &o, &s, err, sizeof(err)), 0);
        assert_int_equal(s->model->method, POWER_METHOD_CPU);
        assert_string_equal(s->model->cpu, "AMD EPYC 7763 64-Core Processor");
        assert_non_null(strstr(s->model->source, "AMD EPYC 7763 (TDP 280 W, 128 threads"));
        assert_non_null(strstr(s->model->source, "2 of 128 threads"));
        double k = 280.0 * 2 / 128;
        assert_true(fabs(power_curve_eval(&s->model->curve, 0) - 0.12 * k) < 1e-4);
        assert_true(fabs(power_curve_eval(&s->model->curve, 100) - 1.02 * k) < 1e-4);
        assert_true(s->model->band_pct == power_defaults_band_pct(POWER_METHOD_CPU));
        /* dram: 8 GiB x 0.392 W per GB, in the host total, estimated with its own band */
        assert_int_equal(s->n_domains, 2);
        assert_string_equal(s->domains[1].name, "dram");
        assert_int_equal(s->domains[1].kind, ENERGY_DOMAIN_DRAM);
        assert_true(s->domains[1].in_host);
        assert_true(fabs(s->model->dram_w - 8 * 0.392) < 1e-12);
        assert_true(s->model->dram_band_pct > 0);
        /* P_idle: the curve at 0 % and the dram, which never varies */
        assert_true(fabs(s->idle_w - (0.12 * k + 8 * 0.392)) < 1e-4);
        assert_true(s->idle_w == power_curve_eval(&s->model->curve, 0) + s->model->dram_w);

        uint64_t uj[2];
        bool valid[2];
        assert_int_equal(energy_source_model.read(s, uj, valid), 0);
        write_jiffies(50, 50, 0);
        fake_now_ns += 2 * NSEC_PER_SEC;
        assert_int_equal(energy_source_model.read(s, uj, valid), 0);
        assert_true(valid[0] && valid[1]);
        assert_int_equal(uj[0], (uint64_t)floor(2e6 * power_curve_eval(&s->model->curve, 50)));
        assert_int_equal(uj[1], (uint64_t)floor(2e6 * 8 * 0.392 + 1e-6));
        energy_source_model.close(s);

        /* an unknown CPU: the generic line, whose SPECpower-derived per-vCPU watts hold the
         * memory already: no dram with auto, dram only when asked for */
        write_file("cpuinfo", "processor\t: 0\nmodel name\t: Hygon C86 7185\n");
        assert_int_equal(energy_source_model.open(&roots, &o, &s, err, sizeof(err)), 0);
        assert_int_equal(s->model->method, POWER_METHOD_GENERIC);
        assert_true(fabs(power_curve_eval(&s->model->curve, 100) - 2 * 3.5) < 1e-12);
        assert_non_null(strstr(s->model->source, "'Hygon C86 7185' not in"));
        assert_int_equal(s->n_domains, 1);
        assert_true(s->model->dram_w == 0);
        assert_true(s->idle_w == power_curve_eval(&s->model->curve, 0));
        energy_source_model.close(s);
        EnergyOptions g = o;
        g.model_dram = ENERGY_MODEL_DRAM_ESTIMATE;
        assert_int_equal(energy_source_model.open(&roots, &g, &s, err, sizeof(err)), 0);
        assert_int_equal(s->n_domains, 2);
        assert_true(fabs(s->model->dram_w - 8 * 0.392) < 1e-12);
        energy_source_model.close(s);
        /* the same line configured (idle_w_per_cpu/max_w_per_cpu): no dram with auto either */
        EnergyOptions l = default_opts();
        l.model_dram = ENERGY_MODEL_DRAM_AUTO;
        assert_int_equal(energy_source_model.open(&roots, &l, &s, err, sizeof(err)), 0);
        assert_int_equal(s->model->method, POWER_METHOD_CONFIGURED);
        assert_int_equal(s->n_domains, 1);
        energy_source_model.close(s);

        /* a configured curve holds the host's memory already: no dram unless asked for */
        EnergyOptions c = {.model_curve_set = true, .model_dram = ENERGY_MODEL_DRAM_AUTO};
        assert_int_equal(power_curve_parse("0:50, 100:150", &c.model_curve, err, sizeof(err)), 0);
        assert_int_equal(energy_source_model.open(&roots, &c, &s, err, sizeof(err)), 0);
        assert_int_equal(s->n_domains, 1);
        assert_true(s->model->dram_w == 0);
        assert_true(s->idle_w == 50);
        energy_source_model.close(s);
        c.model_dram = ENERGY_MODEL_DRAM_ESTIMATE;
        assert_int_equal(energy_source_model.open(&roots, &c, &s, err, sizeof(err)), 0);
        assert_int_equal(s->n_domains, 2);
        assert_true(fabs(s->idle_w - (50 + 8 * 0.392)) < 1e-12);
        energy_source_model.close(s);
        /* and none means none, whatever the curve */
        o.model_dram = ENERGY_MODEL_DRAM_NONE;
        assert_int_equal(energy_source_model.open(&roots, &o, &s, err, sizeof(err)), 0);
        assert_int_equal(s->n_domains, 1);
        energy_source_model.close(s);
}

/* ---- this machine ---- */

static uint64_t last_clock_ns;
static uint64_t recording_clock(void)
{
        last_clock_ns = now_monotonic_ns();
        return last_clock_ns;
}

static void test_model_real_proc(void **state)
{
        char err[256], text[1 << 16];
        ProcStat st;
        EnergySource *s = NULL;
        EnergyOptions o = default_opts();
        JoulesRoots roots = JOULES_ROOTS_DEFAULT;

        assert_true(read_text("/proc/stat", text, sizeof(text)) > 0);
        assert_int_equal(proc_stat_parse(text, &st), 0);
        assert_true(st.n_cpus >= 1);
        double lo = st.n_cpus * LINE_IDLE_W;
        double hi = st.n_cpus * LINE_MAX_W;

        energy_model_set_clock(recording_clock);
        int r = energy_source_model.open(&roots, &o, &s, err, sizeof(err));
        if (r < 0)
                fail_msg("open: %d (%s)", r, err);
        assert_true(s->ops->estimated);

        uint64_t prev = read_one(s), prev_ns = last_clock_ns;
        assert_int_equal(prev, 0);
        for (int i = 0; i < 6; i++) {
                /* Alternate idle and busy intervals. */
                if (i % 2) {
                        uint64_t end = now_monotonic_ns() + 50 * NSEC_PER_SEC / 1000;
                        volatile uint64_t x = 0;
                        while (now_monotonic_ns() < end)
                                x++;
                } else {
                        sleep_us(50000);
                }
                uint64_t uj = read_one(s);
                double dt_us = (double)(last_clock_ns - prev_ns) / 1000.0;
                assert_true(uj >= prev);
                /* W = µJ/µs; the carried fraction moves it by under 1 µJ. */
                double delta = (double)(uj - prev);
                if (delta < lo * dt_us - 1 || delta > hi * dt_us + 1)
                        fail_msg("%.0f uJ over %.0f us: %.3f W outside [%.2f, %.2f]", delta, dt_us,
                                 delta / dt_us, lo, hi);
                prev = uj;
                prev_ns = last_clock_ns;
        }
        energy_source_model.close(s);
        energy_model_set_clock(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_proc_stat_parse),
                cmocka_unit_test(test_proc_stat_busy_total),
                cmocka_unit_test(test_power_w),
                cmocka_unit_test_setup_teardown(test_model_integrates, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_model_cgroup, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_model_online_file, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_model_cpus_option, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_model_big_stat, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_model_errors, setup_tmp, teardown_tmp),
                cmocka_unit_test(test_model_real_proc),
                cmocka_unit_test(test_cpuinfo_parse),
                cmocka_unit_test(test_meminfo_parse),
                cmocka_unit_test_setup_teardown(test_model_curve, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_model_defaults, setup_tmp, teardown_tmp),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

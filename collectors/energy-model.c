#include "collectors/energy-model.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collectors/cgroup-names.h"
#include "collectors/power-defaults.h"
#include "collectors/proc-stat.h"
#include "collectors/rapl-perf.h"
#include "common/log.h"
#include "common/mountinfo.h"

/* /proc/stat grows with the CPU count (and the intr line with the interrupt count); the buffer
 * doubles up to this. */
#define MODEL_BUF_MIN (16 * 1024)
#define MODEL_BUF_MAX (64 * 1024 * 1024)

/* Where the busy time comes from. /proc/stat is formatted whole at every read, a line per CPU
 * and the interrupt counts summed over every CPU (its `intr` line): 30 to 60 us a read a second
 * apart on a 2-vCPU VM, and it grows with CPUs x interrupts. The root cgroup's cpu.stat holds the
 * same busy time (user_usec + system_usec are user+nice and system+irq+softirq summed over the
 * CPUs, cgroup-names.h), in microseconds instead of 10 ms jiffies, for 15 to 25 us. So the model
 * reads that, over the wall clock times the online CPUs, and counts the online CPUs
 * (<sysfs>/devices/system/cpu/online, a few bytes, or /proc/stat's cpuN lines where that file is
 * missing) every MODEL_RECOUNT reads, and at once when the utilisation comes out clearly above 1
 * (a CPU came online; busy time is accounted in scheduler ticks, so a saturated host reads a
 * little above 1 now and then, which is only clamped). Where
 * the cgroup2 root is not the host's (a cgroup namespace), or says no user_usec and
 * system_usec, /proc/stat is read every tick as before. */
#define MODEL_RECOUNT      10
#define MODEL_RECOUNT_OVER 1.05

typedef struct ModelState {
        int fd;        /* <procfs>/stat, kept open and pread each tick (or every MODEL_RECOUNT) */
        int cg_fd;     /* the root cgroup's cpu.stat, kept open and pread each tick; -1: not used */
        int online_fd; /* <sysfs>/devices/system/cpu/online with cg_fd; -1: /proc/stat counts */
        char *buf;
        size_t bufsize;
        unsigned ncpu;
        unsigned online;  /* CPUs online: the cpuN lines of the last /proc/stat read */
        unsigned recount; /* reads since /proc/stat was read for them */
        bool recount_now;
        EnergyModelInfo info; /* the curve, the dram watts and where they came from */
        ProcStat prev;
        bool have_prev_stat;   /* prev holds the last /proc/stat read of model_util_proc_stat */
        uint64_t prev_busy_us; /* the root cgroup's busy time at the last read */
        uint64_t prev_ns;
        bool have_prev;
        double last_util;   /* used when an interval has nothing to go by */
        uint64_t acc_uj[2]; /* the cumulative counters read() reports: model, dram */
        double frac_uj[2];  /* the fraction of a µJ not yet in acc_uj, in [0, 1) */
} ModelState;

static uint64_t (*model_clock)(void) = now_monotonic_ns;

void energy_model_set_clock(uint64_t (*now_ns)(void))
{
        model_clock = now_ns ? now_ns : now_monotonic_ns;
}

int energy_model_cpuinfo(const char *text, char *model, size_t size)
{
        char impl[32] = "", part[32] = "";
        assert(text && model && size > 0);
        model[0] = '\0';
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                const char *colon = memchr(p, ':', len);
                if (!colon)
                        continue;
                size_t klen = (size_t)(colon - p);
                while (klen > 0 && (p[klen - 1] == ' ' || p[klen - 1] == '\t'))
                        klen--;
                const char *v = colon + 1;
                while (v < p + len && (*v == ' ' || *v == '\t'))
                        v++;
                size_t vlen = (size_t)(p + len - v);
                char *dst = NULL;
                size_t dsize = 0;
                if (klen == 10 && memcmp(p, "model name", 10) == 0 && !model[0])
                        dst = model, dsize = size;
                else if (klen == 15 && memcmp(p, "CPU implementer", 15) == 0 && !impl[0])
                        dst = impl, dsize = sizeof(impl);
                else if (klen == 8 && memcmp(p, "CPU part", 8) == 0 && !part[0])
                        dst = part, dsize = sizeof(part);
                if (!dst)
                        continue;
                if (vlen >= dsize)
                        vlen = dsize - 1;
                memcpy(dst, v, vlen);
                dst[vlen] = '\0';
        }
        /* ARM names no model: its implementer and part numbers are what cpu-tdp.csv matches. */
        if (!model[0] && impl[0] && part[0])
                snprintf(model, size, "ARM %s %s", impl, part);
        return model[0] ? 0 : -ENOENT;
}

int energy_model_meminfo_kib(const char *text, uint64_t *ret)
{
        assert(text && ret);
        for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (strncmp(p, "MemTotal:", 9) != 0)
                        continue;
                char *end;
                errno = 0;
                unsigned long long v = strtoull(p + 9, &end, 10);
                if (errno || end == p + 9)
                        return -EINVAL;
                while (*end == ' ')
                        end++;
                if (strncmp(end, "kB", 2) != 0)
                        return -EINVAL;
                *ret = v;
                return 0;
        }
        return -ENOENT;
}

/* The first line of a small file, its newline dropped; "" when it cannot be read. */
static void model_read_line(const char *path, char *buf, size_t size)
{
        buf[0] = '\0';
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return;
        ssize_t n = pread_text(fd, buf, size);
        (void)close(fd);
        if (n < 0) {
                buf[0] = '\0';
                return;
        }
        buf[strcspn(buf, "\n")] = '\0';
}

/* A whole text file of at most 1 MiB, NUL-terminated, into a malloc'ed buffer. */
static int model_read_text(const char *path, char **ret)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t size = 16 * 1024;
        char *buf = NULL;
        for (;;) {
                char *b = realloc(buf, size);
                if (!b) {
                        free(buf);
                        (void)close(fd);
                        return -ENOMEM;
                }
                buf = b;
                ssize_t n = pread_text(fd, buf, size);
                if (n < 0) {
                        free(buf);
                        (void)close(fd);
                        return (int)n;
                }
                if ((size_t)n < size - 1 || size >= 1024 * 1024)
                        break;
                size *= 2;
        }
        (void)close(fd);
        *ret = buf;
        return 0;
}

/* The curve the model uses and where it came from: the configured curve, the configured line, or
 * the default for this CPU (power-defaults.h). */
static int model_pick_curve(const JoulesRoots *roots, const EnergyOptions *opts, unsigned ncpu,
                            EnergyModelInfo *info, char *err, size_t errlen)
{
        char path[PATH_MAX];
        int r;
        if (opts->model_curve_set) {
                char text[400];
                info->curve = opts->model_curve;
                info->method = POWER_METHOD_CONFIGURED;
                (void)power_curve_format(&info->curve, ", ", text, sizeof(text));
                snprintf(info->source, sizeof(info->source), "[model] curve = %s", text);
        } else if (opts->model_line_set) {
                double idle_w = opts->model_idle_w_per_cpu, max_w = opts->model_max_w_per_cpu;
                power_curve_linear(&info->curve, ncpu, idle_w, max_w);
                info->method = POWER_METHOD_CONFIGURED;
                snprintf(info->source, sizeof(info->source),
                         "[model] idle_w_per_cpu %g W, max_w_per_cpu %g W, x %u CPUs", idle_w,
                         max_w, ncpu);
        } else {
                char vendor[128], product[128], *cpuinfo = NULL;
                PowerMethod m;
                r = path_fmt(path, sizeof(path), "%s/cpuinfo", roots->procfs);
                if (r >= 0 && model_read_text(path, &cpuinfo) >= 0) {
                        (void)energy_model_cpuinfo(cpuinfo, info->cpu, sizeof(info->cpu));
                        free(cpuinfo);
                }
                r = path_fmt(path, sizeof(path), "%s/class/dmi/id/sys_vendor", roots->sysfs);
                model_read_line(r >= 0 ? path : "", vendor, sizeof(vendor));
                r = path_fmt(path, sizeof(path), "%s/class/dmi/id/product_name", roots->sysfs);
                model_read_line(r >= 0 ? path : "", product, sizeof(product));
                r = power_defaults_build(info->cpu, ncpu, vendor, product, &info->curve, &m,
                                         info->source, sizeof(info->source));
                if (r < 0) {
                        snprintf(err, errlen, "the compiled-in model tables do not parse");
                        return r;
                }
                info->method = (int)m;
        }
        info->band_pct = power_defaults_band_pct((PowerMethod)info->method);
        return 0;
}

/* The estimated dram domain: MemTotal times CCF's coefficient (data/estimates.csv); none when
 * MemTotal cannot be read. */
static void model_pick_dram(const JoulesRoots *roots, EnergyModelInfo *info)
{
        char path[PATH_MAX], *text = NULL;
        uint64_t kib;
        const PowerTables *t = power_tables_builtin();
        if (!t || path_fmt(path, sizeof(path), "%s/meminfo", roots->procfs) < 0 ||
            model_read_text(path, &text) < 0)
                return;
        int r = energy_model_meminfo_kib(text, &kib);
        free(text);
        if (r < 0 || kib == 0) {
                log_debug("model: no MemTotal in %s, no dram estimate", path);
                return;
        }
        info->dram_gib = (double)kib / (1024.0 * 1024.0);
        info->dram_w = info->dram_gib * t->dram_w_per_gb;
        info->dram_band_pct = t->band_dram_pct;
        snprintf(info->dram_source, sizeof(info->dram_source),
                 "%.1f GiB (MemTotal) x %g W per GB (Cloud Carbon Footprint)", info->dram_gib,
                 t->dram_w_per_gb);
}

/* Reads and parses the whole of <procfs>/stat from the cached fd, growing the buffer. */
static int model_sample(ModelState *m, ProcStat *ret)
{
        for (;;) {
                ssize_t n = pread_text(m->fd, m->buf, m->bufsize);
                if (n < 0)
                        return (int)n;
                if ((size_t)n < m->bufsize - 1)
                        break;
                if (m->bufsize >= MODEL_BUF_MAX)
                        return -EFBIG;
                char *b = realloc(m->buf, m->bufsize * 2);
                if (!b)
                        return -ENOMEM;
                m->buf = b;
                m->bufsize *= 2;
        }
        return proc_stat_parse(m->buf, ret);
}

/* The host's root cgroup's cpu.stat, opened when it gives the busy time: the first cgroup2 mount
 * of <procfs>/self/mountinfo, if it is a root (the root has no cgroup.type; a cgroup namespace's
 * root is another cgroup, whose time is not the host's). -1 otherwise. */
static int model_open_cgroup(const JoulesRoots *roots, ModelState *m)
{
        char v2[PATH_MAX], path[PATH_MAX + 16];
        if (mountinfo_read_cgroups(roots->procfs, v2, sizeof(v2), NULL, 0) < 0 || !v2[0] ||
            file_exists_in(v2, "cgroup.type") ||
            path_fmt(path, sizeof(path), "%s/cpu.stat", v2) < 0)
                return -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -1;
        uint64_t busy;
        ssize_t n = pread_text(fd, m->buf, m->bufsize);
        if (n < 0 || cgroup_cpu_stat_busy_parse(m->buf, &busy) < 0) {
                (void)close(fd);
                return -1;
        }
        log_debug("model: busy time from %s", path);
        return fd;
}

static unsigned model_count_online(ModelState *m);

static void model_close(EnergySource *s)
{
        if (!s)
                return;
        ModelState *m = s->priv;
        if (m) {
                if (m->fd >= 0)
                        (void)close(m->fd);
                if (m->cg_fd >= 0)
                        (void)close(m->cg_fd);
                if (m->online_fd >= 0)
                        (void)close(m->online_fd);
                free(m->buf);
                free(m);
        }
        free(s->domains);
        free(s);
}

static int model_open(const JoulesRoots *roots, const EnergyOptions *opts, EnergySource **ret,
                      char *err, size_t errlen)
{
        assert(roots && roots->procfs && opts && ret && err && errlen > 0);
        char path[PATH_MAX];
        ProcStat st;
        int r;

        if (opts->model_line_set) {
                double idle_w = opts->model_idle_w_per_cpu, max_w = opts->model_max_w_per_cpu;
                if (!isfinite(idle_w) || !isfinite(max_w) || idle_w < 0 || max_w < idle_w) {
                        snprintf(err, errlen,
                                 "model power per CPU: idle %g W and max %g W must satisfy "
                                 "0 <= idle <= max",
                                 idle_w, max_w);
                        return -EINVAL;
                }
        }
        r = path_fmt(path, sizeof(path), "%s/stat", roots->procfs);
        if (r < 0)
                return r;

        EnergySource *s = calloc(1, sizeof(*s));
        ModelState *m = calloc(1, sizeof(*m));
        if (s) {
                s->priv = m;
                s->domains = calloc(2, sizeof(*s->domains));
        }
        if (m) {
                m->fd = m->cg_fd = m->online_fd = -1;
                m->bufsize = MODEL_BUF_MIN;
                m->buf = malloc(m->bufsize);
        }
        if (!s || !m || !s->domains || !m->buf) {
                if (!s && m)
                        free(m->buf), free(m);
                model_close(s);
                return -ENOMEM;
        }
        s->ops = &energy_source_model;
        s->util_pct = NAN;

        m->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (m->fd < 0) {
                r = -errno;
                snprintf(err, errlen, "cannot open %s: %s", path, strerror(-r));
                goto fail;
        }
        r = model_sample(m, &st);
        if (r < 0) {
                snprintf(err, errlen, "cannot parse %s: %s", path, strerror(-r));
                goto fail;
        }
        m->online = st.n_cpus;
        m->ncpu = opts->model_cpus ? opts->model_cpus : st.n_cpus;
        if (m->ncpu == 0) {
                snprintf(err, errlen, "%s lists no cpuN lines; set the CPU count", path);
                r = -EINVAL;
                goto fail;
        }
        r = model_pick_curve(roots, opts, m->ncpu, &m->info, err, errlen);
        if (r < 0)
                goto fail;
        /* auto: only for the CPU-aware default, whose TDP x curve shape models the CPU alone. A
         * configured curve says host watts. The per-vCPU line's 0.74/3.5 W (Cloud Carbon
         * Footprint's compute coefficients) are SPECpower wall power, which includes the memory
         * of those servers, and a line the user gives is read the same way: CCF itself adds
         * memory only above what its per-processor figure holds, so dram here would count it
         * twice. dram = estimate still adds it. */
        if (opts->model_dram == ENERGY_MODEL_DRAM_ESTIMATE ||
            (opts->model_dram == ENERGY_MODEL_DRAM_AUTO && m->info.method == POWER_METHOD_CPU))
                model_pick_dram(roots, &m->info);

        s->domains[0] = (EnergyDomain){
                .name = "model",
                .zone = "model",
                .kind = ENERGY_DOMAIN_MODEL,
                .package = -1,
                .in_host = true,
                .wraps = false,
                .max_range_uj = 0,
        };
        s->n_domains = 1;
        if (m->info.dram_w > 0) {
                s->domains[1] = (EnergyDomain){
                        .name = "dram",
                        .zone = "model-meminfo",
                        .kind = ENERGY_DOMAIN_DRAM,
                        .package = -1,
                        .in_host = true,
                };
                s->n_domains = 2;
        }
        if (m->online > 0)
                m->cg_fd = model_open_cgroup(roots, m);
        if (m->cg_fd >= 0 && roots->sysfs &&
            path_fmt(path, sizeof(path), "%s/devices/system/cpu/online", roots->sysfs) >= 0)
                m->online_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (m->online_fd >= 0) {
                unsigned online = model_count_online(m);
                if (online > 0)
                        m->online = online;
        }
        s->model = &m->info;
        /* P_idle for attribution: the curve at 0 %, plus the dram estimate, which is constant and
         * so all idle. */
        s->idle_w = power_curve_eval(&m->info.curve, 0) + m->info.dram_w;
        log_debug("model: %u CPUs, %s (%s), idle %.3f W, dram %.3f W, from %s", m->ncpu,
                  power_method_label((PowerMethod)m->info.method), m->info.source, s->idle_w,
                  m->info.dram_w, path);
        *ret = s;
        return 0;
fail:
        model_close(s);
        return r;
}

/* Adds watts over dt_ns to a cumulative µJ counter, the fraction of a µJ carried over. */
static void model_integrate(uint64_t *acc_uj, double *frac_uj, double watts, uint64_t dt_ns)
{
        /* W * ns = nJ */
        double add = watts * (double)dt_ns / 1000.0 + *frac_uj;
        double whole = floor(add);
        *frac_uj = add - whole;
        if (whole >= (double)(UINT64_MAX - *acc_uj))
                *acc_uj = UINT64_MAX;
        else
                *acc_uj += (uint64_t)whole;
}

/* The CPUs online: <sysfs>/devices/system/cpu/online (cpu_online_mask, a few bytes such as
 * "0-63"), else /proc/stat's cpuN lines (the same CPUs, but the whole file formatted). 0 when
 * neither reads. */
static unsigned model_count_online(ModelState *m)
{
        if (m->online_fd >= 0) {
                size_t n;
                if (pread_text(m->online_fd, m->buf, m->bufsize) > 0 &&
                    perfpmu_parse_cpulist(m->buf, NULL, UINT_MAX, &n) == 0 && n > 0)
                        return (unsigned)n;
        }
        ProcStat st;
        return model_sample(m, &st) >= 0 ? st.n_cpus : 0;
}

/* The utilisation since the last read from the root cgroup's busy time, over dt_ns on the online
 * CPUs. -errno when cpu.stat cannot be read (the caller turns to /proc/stat). */
static int model_util_cgroup(ModelState *m, uint64_t dt_ns, double *util)
{
        uint64_t busy;
        ssize_t n = pread_text(m->cg_fd, m->buf, m->bufsize);
        int r = n < 0 ? (int)n : cgroup_cpu_stat_busy_parse(m->buf, &busy);
        if (r < 0)
                return r;
        if (m->recount_now || ++m->recount >= MODEL_RECOUNT) {
                unsigned online = model_count_online(m);
                if (online > 0)
                        m->online = online;
                m->recount = 0;
                m->recount_now = false;
        }
        if (m->have_prev && busy >= m->prev_busy_us && dt_ns > 0) {
                double u = (double)(busy - m->prev_busy_us) * 1000.0 /
                           ((double)dt_ns * (double)m->online);
                /* More than every CPU ran: more are online than counted. */
                if (u > MODEL_RECOUNT_OVER)
                        m->recount_now = true;
                if (u > 1)
                        u = 1;
                *util = u;
        }
        m->prev_busy_us = busy;
        return 0;
}

/* The same from /proc/stat's jiffies. */
static int model_util_proc_stat(ModelState *m, double *util)
{
        ProcStat cur;
        int r = model_sample(m, &cur);
        if (r < 0)
                return r;
        if (m->have_prev_stat) {
                uint64_t busy0 = proc_stat_busy(&m->prev), busy1 = proc_stat_busy(&cur);
                uint64_t tot0 = proc_stat_total(&m->prev), tot1 = proc_stat_total(&cur);
                if (busy1 < busy0 || tot1 < tot0)
                        /* The aggregate loses an offlined CPU's jiffies (hotplug). */
                        log_debug("model: /proc/stat went back, keeping utilisation %.3f", *util);
                else if (tot1 > tot0)
                        *util = (double)(busy1 - busy0) / (double)(tot1 - tot0);
        }
        m->prev = cur;
        m->have_prev_stat = true;
        return 0;
}

static int model_read(EnergySource *s, uint64_t *ret_uj, bool *ret_valid)
{
        assert(s && s->priv && ret_uj && ret_valid);
        ModelState *m = s->priv;

        uint64_t now = s->tick_ns ? s->tick_ns : model_clock();
        uint64_t dt_ns = now > m->prev_ns ? now - m->prev_ns : 0;
        /* When an interval has nothing to go by (no jiffies passed, or the first /proc/stat read
         * after cpu.stat failed) the last utilisation carries it. */
        double util = m->last_util;
        int r = -EBADF;
        if (m->cg_fd >= 0) {
                r = model_util_cgroup(m, dt_ns, &util);
                if (r < 0) {
                        log_notice("model: reading the root cgroup's cpu.stat: %s; reading "
                                   "/proc/stat from now on",
                                   strerror(-r));
                        (void)close(m->cg_fd);
                        m->cg_fd = -1;
                }
        }
        if (r < 0)
                r = model_util_proc_stat(m, &util);
        if (r < 0) {
                log_debug("model: reading /proc/stat failed: %s", strerror(-r));
                for (size_t i = 0; i < s->n_domains; i++)
                        ret_valid[i] = false;
                return r;
        }
        if (m->have_prev) {
                s->util_pct = util * 100;
                model_integrate(&m->acc_uj[0], &m->frac_uj[0],
                                power_curve_eval(&m->info.curve, s->util_pct), dt_ns);
                model_integrate(&m->acc_uj[1], &m->frac_uj[1], m->info.dram_w, dt_ns);
                m->last_util = util;
        }
        m->prev_ns = now;
        m->have_prev = true;
        for (size_t i = 0; i < s->n_domains; i++) {
                ret_uj[i] = m->acc_uj[i];
                ret_valid[i] = true;
        }
        return 0;
}

const EnergySourceOps energy_source_model = {
        .name = "model",
        .estimated = true,
        .open = model_open,
        .read = model_read,
        .close = model_close,
};

#include "collectors/energy-model.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collectors/proc-stat.h"
#include "common/log.h"

/* /proc/stat grows with the CPU count (and the intr line with the interrupt count); the buffer
 * doubles up to this. */
#define MODEL_BUF_MIN (16 * 1024)
#define MODEL_BUF_MAX (64 * 1024 * 1024)

typedef struct ModelState {
        int fd; /* <procfs>/stat, kept open and pread each tick */
        char *buf;
        size_t bufsize;
        unsigned ncpu;
        double idle_w, max_w; /* per CPU */
        ProcStat prev;
        uint64_t prev_ns;
        bool have_prev;
        double last_util; /* used when an interval has no jiffies to go by */
        uint64_t acc_uj;  /* the cumulative counter read() reports */
        double frac_uj;   /* the fraction of a µJ not yet in acc_uj, in [0, 1) */
} ModelState;

static uint64_t (*model_clock)(void) = now_monotonic_ns;

void energy_model_set_clock(uint64_t (*now_ns)(void))
{
        model_clock = now_ns ? now_ns : now_monotonic_ns;
}

/* The linear model of Cloud Carbon Footprint (methodology, "Energy Estimate" for compute):
 * average watts = min + utilisation * (max - min) per vCPU, with its AWS coefficients of
 * 0.74 W min and 3.5 W max per vCPU as the defaults (ENERGY_MODEL_*_W_PER_CPU); its GCP and Azure
 * figures are 0.71/4.26 and 0.78/3.76. */
double energy_model_power_w(double util, unsigned ncpu, double idle_w, double max_w)
{
        if (!(util > 0)) /* also NaN */
                util = 0;
        if (util > 1)
                util = 1;
        return ncpu * (idle_w + (max_w - idle_w) * util);
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

static void model_close(EnergySource *s)
{
        if (!s)
                return;
        ModelState *m = s->priv;
        if (m) {
                if (m->fd >= 0)
                        (void)close(m->fd);
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
        double idle_w = opts->model_idle_w_per_cpu, max_w = opts->model_max_w_per_cpu;
        char path[PATH_MAX];
        ProcStat st;
        int r;

        if (!isfinite(idle_w) || !isfinite(max_w) || idle_w < 0 || max_w < idle_w) {
                snprintf(err, errlen,
                         "model power per CPU: idle %g W and max %g W must satisfy "
                         "0 <= idle <= max",
                         idle_w, max_w);
                return -EINVAL;
        }
        r = path_fmt(path, sizeof(path), "%s/stat", roots->procfs);
        if (r < 0)
                return r;

        EnergySource *s = calloc(1, sizeof(*s));
        ModelState *m = calloc(1, sizeof(*m));
        if (s) {
                s->priv = m;
                s->domains = calloc(1, sizeof(*s->domains));
        }
        if (m) {
                m->fd = -1;
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
        m->ncpu = opts->model_cpus ? opts->model_cpus : st.n_cpus;
        if (m->ncpu == 0) {
                snprintf(err, errlen, "%s lists no cpuN lines; set the CPU count", path);
                r = -EINVAL;
                goto fail;
        }
        m->idle_w = idle_w;
        m->max_w = max_w;

        *s->domains = (EnergyDomain){
                .name = "model",
                .zone = "model",
                .kind = ENERGY_DOMAIN_MODEL,
                .package = -1,
                .in_host = true,
                .wraps = false,
                .max_range_uj = 0,
        };
        s->n_domains = 1;
        s->idle_w = energy_model_power_w(0, m->ncpu, idle_w, m->max_w);
        log_debug("model: %u CPUs, %.3f W idle and %.3f W max each, from %s", m->ncpu, idle_w,
                  max_w, path);
        *ret = s;
        return 0;
fail:
        model_close(s);
        return r;
}

static int model_read(EnergySource *s, uint64_t *ret_uj, bool *ret_valid)
{
        assert(s && s->priv && ret_uj && ret_valid);
        ModelState *m = s->priv;
        ProcStat cur;

        int r = model_sample(m, &cur);
        uint64_t now = model_clock();
        if (r < 0) {
                log_debug("model: reading /proc/stat failed: %s", strerror(-r));
                ret_valid[0] = false;
                return r;
        }
        if (m->have_prev) {
                uint64_t busy0 = proc_stat_busy(&m->prev), busy1 = proc_stat_busy(&cur);
                uint64_t tot0 = proc_stat_total(&m->prev), tot1 = proc_stat_total(&cur);
                double util = m->last_util;
                if (busy1 < busy0 || tot1 < tot0)
                        /* The aggregate loses an offlined CPU's jiffies (hotplug). */
                        log_debug("model: /proc/stat went back, keeping utilisation %.3f", util);
                else if (tot1 > tot0)
                        util = (double)(busy1 - busy0) / (double)(tot1 - tot0);
                uint64_t dt_ns = now > m->prev_ns ? now - m->prev_ns : 0;
                double p = energy_model_power_w(util, m->ncpu, m->idle_w, m->max_w);
                /* W * ns = nJ; the fraction of a µJ carries over to the next interval. */
                double add = p * (double)dt_ns / 1000.0 + m->frac_uj;
                double whole = floor(add);
                m->frac_uj = add - whole;
                if (whole >= (double)(UINT64_MAX - m->acc_uj))
                        m->acc_uj = UINT64_MAX;
                else
                        m->acc_uj += (uint64_t)whole;
                m->last_util = util;
        }
        m->prev = cur;
        m->prev_ns = now;
        m->have_prev = true;
        ret_uj[0] = m->acc_uj;
        ret_valid[0] = true;
        return 0;
}

const EnergySourceOps energy_source_model = {
        .name = "model",
        .estimated = true,
        .open = model_open,
        .read = model_read,
        .close = model_close,
};

#include "collectors/rapl-perf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

/* The RAPL events the kernel's perf `power` PMU has exposed (arch/x86/events/rapl.c), in the
 * order their domains are listed. Any other event in Joules is kept as kind OTHER, outside the
 * host total, so a new kernel's event is reported rather than dropped or double counted. */
static const struct {
        const char *event;
        const char *suffix; /* appended to "package-N"; NULL: the platform's, "psys" */
        EnergyDomainKind kind;
} perfpmu_known[] = {
        {"energy-pkg", "", ENERGY_DOMAIN_PACKAGE},
        {"energy-cores", "/core", ENERGY_DOMAIN_CORE},
        {"energy-ram", "/dram", ENERGY_DOMAIN_DRAM},
        {"energy-gpu", "/gpu", ENERGY_DOMAIN_UNCORE}, /* PP1, the powercap "uncore" zone */
        {"energy-psys", NULL, ENERGY_DOMAIN_PSYS},
};

#define PERFPMU_MAX_EVENTS   16
#define PERFPMU_MAX_PACKAGES 1024

/* ---- system calls, behind a table for tests ---- */

static int perfpmu_sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu,
                                       int group_fd, unsigned long flags)
{
        return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static const PerfPmuSyscalls perfpmu_real_syscalls = {
        .perf_event_open = perfpmu_sys_perf_event_open,
};
static const PerfPmuSyscalls *perfpmu_syscalls = &perfpmu_real_syscalls;

void perfpmu_set_syscalls(const PerfPmuSyscalls *sc)
{
        perfpmu_syscalls = sc ? sc : &perfpmu_real_syscalls;
}

/* ---- pure parsers ---- */

/* Unsigned decimal at *p, at most max; advances *p. */
static int perfpmu_parse_uint(const char **p, unsigned long max, unsigned long *ret)
{
        const char *s = *p;
        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        unsigned long v = 0;
        for (; isdigit((unsigned char)*s); s++) {
                v = v * 10 + (unsigned long)(*s - '0');
                if (v > max)
                        return -ERANGE;
        }
        *p = s;
        *ret = v;
        return 0;
}

static bool perfpmu_only_space(const char *s)
{
        for (; *s; s++)
                if (!isspace((unsigned char)*s))
                        return false;
        return true;
}

int perfpmu_parse_cpulist(const char *s, unsigned *cpus, size_t max, size_t *ret_n)
{
        assert(s && ret_n);
        const char *p = s;
        size_t n = 0;
        for (;;) {
                unsigned long a, b;
                /* perf_event_open takes the CPU as an int. */
                int r = perfpmu_parse_uint(&p, INT_MAX, &a);
                if (r < 0)
                        return -EINVAL;
                b = a;
                if (*p == '-') {
                        p++;
                        r = perfpmu_parse_uint(&p, INT_MAX, &b);
                        if (r < 0 || b < a)
                                return -EINVAL;
                }
                if (b - a >= max - n)
                        return -E2BIG;
                if (!cpus)
                        n += b - a + 1;
                for (unsigned long c = a; cpus && c <= b; c++)
                        cpus[n++] = (unsigned)c;
                if (*p != ',')
                        break;
                p++;
        }
        if (!perfpmu_only_space(p))
                return -EINVAL;
        *ret_n = n;
        return 0;
}

int perfpmu_parse_format(const char *s, PerfPmuFormat *ret)
{
        assert(s && ret);
        if (startswith(s, "config1:") || startswith(s, "config2:") || startswith(s, "config3:"))
                return -EOPNOTSUPP;
        if (!startswith(s, "config:"))
                return -EINVAL;
        const char *p = s + strlen("config:");
        unsigned long lo, hi;
        if (perfpmu_parse_uint(&p, 63, &lo) < 0)
                return -EINVAL;
        hi = lo;
        if (*p == '-') {
                p++;
                if (perfpmu_parse_uint(&p, 63, &hi) < 0 || hi < lo)
                        return -EINVAL;
        }
        if (*p == ',')
                return -EOPNOTSUPP; /* a field split over several bit ranges */
        if (!perfpmu_only_space(p))
                return -EINVAL;
        *ret = (PerfPmuFormat){.lo = (unsigned)lo, .hi = (unsigned)hi};
        return 0;
}

int perfpmu_parse_event(const char *s, const PerfPmuFormat *fmt, uint64_t *ret_config)
{
        assert(s && fmt && ret_config && fmt->lo <= fmt->hi && fmt->hi < 64);
        if (!startswith(s, "event="))
                return strchr(s, '=') ? -EOPNOTSUPP : -EINVAL;
        const char *p = s + strlen("event=");
        if (!isdigit((unsigned char)*p))
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 0);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == p)
                return -EINVAL;
        if (*end == ',')
                return -EOPNOTSUPP; /* more terms than the event code */
        if (!perfpmu_only_space(end))
                return -EINVAL;
        unsigned width = fmt->hi - fmt->lo + 1;
        if (width < 64 && (v >> width) != 0)
                return -ERANGE;
        *ret_config = (uint64_t)v << fmt->lo;
        return 0;
}

int perfpmu_parse_scale(const char *s, PerfPmuScale *ret)
{
        assert(s && ret);
        const char *p = s;
        while (isspace((unsigned char)*p))
                p++;
        if (!*p)
                return -EINVAL;
        char *end;
        errno = 0;
        long double v = strtold(p, &end);
        if (end == p || errno == ERANGE || !perfpmu_only_space(end))
                return -EINVAL;
        if (!isfinite(v) || !(v > 0))
                return -EINVAL;
        int e;
        long double m = frexpl(v, &e);
        PerfPmuScale sc = {.joules = v, .pow2 = m == 0.5L, .exp2 = m == 0.5L ? e - 1 : 0};
        *ret = sc;
        return 0;
}

uint64_t perfpmu_count_to_uj(const PerfPmuScale *sc, uint64_t count)
{
        assert(sc);
        if (sc->pow2) {
                /* count * 10^6 < 2^84: exact in 128 bits, then an exact shift (floor). */
                unsigned __int128 v = (unsigned __int128)count * 1000000u;
                if (sc->exp2 < 0) {
                        v = -sc->exp2 >= 128 ? 0 : v >> -sc->exp2;
                } else if (sc->exp2 > 0 && v != 0) {
                        /* v != 0 first: a count of 0 with 2^500 J per count shifted by 500 */
                        if (sc->exp2 >= 64 || (v >> (128 - sc->exp2)) != 0)
                                return UINT64_MAX;
                        v <<= sc->exp2;
                }
                return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
        }
        long double uj = (long double)count * sc->joules * 1e6L;
        if (!(uj < 0x1p64L))
                return UINT64_MAX;
        return (uint64_t)roundl(uj);
}

/* ---- the source ---- */

typedef struct PerfPmuEvent {
        char name[24]; /* "energy-pkg" */
        uint64_t config;
        PerfPmuScale scale;
        size_t rank; /* index in perfpmu_known, or ELEMENTSOF(perfpmu_known) */
} PerfPmuEvent;

typedef struct PerfPmuCounter {
        int fd;
        PerfPmuScale scale;
} PerfPmuCounter;

static void perfpmu_close(EnergySource *s)
{
        if (!s)
                return;
        PerfPmuCounter *c = s->priv;
        if (c)
                for (size_t i = 0; i < s->n_domains; i++)
                        if (c[i].fd >= 0)
                                (void)close(c[i].fd);
        free(c);
        free(s->domains);
        free(s);
}

static int perfpmu_event_cmp(const void *a, const void *b)
{
        const PerfPmuEvent *x = a, *y = b;
        if (x->rank != y->rank)
                return x->rank < y->rank ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* Reads one event: its unit must be Joules, its scale and code must parse. 0 and *ret on
 * success; < 0 means skip it (the reason is logged). */
static int perfpmu_read_event(const char *events, const char *name, const PerfPmuFormat *fmt,
                              PerfPmuEvent *ret)
{
        char path[PATH_MAX], buf[256];
        int r;

        if (strlen(name) >= sizeof(ret->name)) {
                log_debug("perf: power/%s skipped: name too long", name);
                return -ENAMETOOLONG;
        }
        r = path_fmt(path, sizeof(path), "%s/%s.unit", events, name);
        if (r >= 0)
                r = read_line(path, buf, sizeof(buf));
        if (r < 0 || strcmp(strstrip(buf), "Joules") != 0) {
                log_debug("perf: power/%s skipped: unit is not Joules", name);
                return -EOPNOTSUPP;
        }
        PerfPmuEvent ev = {.rank = ELEMENTSOF(perfpmu_known)};
        memcpy(ev.name, name, strlen(name) + 1); /* length checked above */
        r = path_fmt(path, sizeof(path), "%s/%s.scale", events, name);
        if (r >= 0)
                r = read_line(path, buf, sizeof(buf));
        if (r >= 0)
                r = perfpmu_parse_scale(buf, &ev.scale);
        if (r < 0) {
                log_debug("perf: power/%s skipped: no valid .scale: %s", name, strerror(-r));
                return r;
        }
        r = path_fmt(path, sizeof(path), "%s/%s", events, name);
        if (r >= 0)
                r = read_line(path, buf, sizeof(buf));
        if (r >= 0)
                r = perfpmu_parse_event(buf, fmt, &ev.config);
        if (r < 0) {
                log_debug("perf: power/%s skipped: cannot use its code: %s", name, strerror(-r));
                return r;
        }
        for (size_t k = 0; k < ELEMENTSOF(perfpmu_known); k++)
                if (strcmp(name, perfpmu_known[k].event) == 0)
                        ev.rank = k;
        *ret = ev;
        return 0;
}

static int perfpmu_read_events(const char *dir, const PerfPmuFormat *fmt, PerfPmuEvent *evs,
                               size_t max, size_t *ret_n)
{
        char events[PATH_MAX];
        int r = path_fmt(events, sizeof(events), "%s/events", dir);
        if (r < 0)
                return r;
        DIR *d = opendir(events);
        if (!d)
                return -errno;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
                        continue;
                if (n == max) {
                        log_debug("perf: more than %zu power events, %s ignored", max, de->d_name);
                        continue;
                }
                if (perfpmu_read_event(events, de->d_name, fmt, &evs[n]) >= 0)
                        n++;
        }
        (void)closedir(d);
        qsort(evs, n, sizeof(evs[0]), perfpmu_event_cmp);
        *ret_n = n;
        return 0;
}

/* Package number of each cpumask CPU: its physical_package_id when every one is readable and
 * they differ, else its position in cpumask. ret_die[i] >= 0 where a package has several dies
 * with a counter each (die-scoped RAPL), named package-N-die-M as powercap does. */
static void perfpmu_packages(const char *sysfs, const unsigned *cpus, size_t n, int *ret_pkg,
                             int *ret_die)
{
        char path[PATH_MAX];
        bool ok = true, dup = false;
        for (size_t i = 0; i < n && ok; i++) {
                uint64_t v;
                ok = path_fmt(path, sizeof(path),
                              "%s/devices/system/cpu/cpu%u/topology/physical_package_id", sysfs,
                              cpus[i]) >= 0 &&
                     read_u64(path, &v) >= 0 && v < INT_MAX;
                ret_pkg[i] = ok ? (int)v : -1;
                ret_die[i] = -1;
                for (size_t j = 0; ok && j < i; j++)
                        dup = dup || ret_pkg[j] == ret_pkg[i];
        }
        if (!ok) {
                for (size_t i = 0; i < n; i++)
                        ret_pkg[i] = (int)i;
                return;
        }
        if (!dup)
                return;
        for (size_t i = 0; i < n; i++) {
                uint64_t v;
                bool die_ok =
                        path_fmt(path, sizeof(path), "%s/devices/system/cpu/cpu%u/topology/die_id",
                                 sysfs, cpus[i]) >= 0 &&
                        read_u64(path, &v) >= 0 && v < INT_MAX;
                ret_die[i] = die_ok ? (int)v : (int)i;
        }
}

/* AMD and Hygon count package energy per package (energy_rapl_pkg_scope()), so several cpumask
 * CPUs in one package are one counter read several times: kernels 6.10 and 6.11 before commit
 * 8d72eba1cf8c scoped the PMU by Zen 4/5's CCD (cpumask "0,8,...,88" on a 12-CCD Genoa), and
 * summing those would count the package once per CCD. Keeps the first CPU of each package;
 * returns how many remain. */
static size_t perfpmu_one_per_package(unsigned *cpus, int *pkg, int *die, size_t n)
{
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                size_t j = 0;
                while (j < k && pkg[j] != pkg[i])
                        j++;
                if (j < k) {
                        log_debug("perf: cpu%u reads the package counter of cpu%u (package %d): "
                                  "counted once",
                                  cpus[i], cpus[j], pkg[i]);
                        continue;
                }
                cpus[k] = cpus[i];
                pkg[k] = pkg[i];
                die[k] = -1;
                k++;
        }
        return k;
}

static int perfpmu_paranoid(const char *procfs)
{
        char path[PATH_MAX], buf[32];
        if (path_fmt(path, sizeof(path), "%s/sys/kernel/perf_event_paranoid", procfs) < 0 ||
            read_line(path, buf, sizeof(buf)) < 0)
                return INT_MIN;
        char *end;
        long v = strtol(buf, &end, 10);
        return end == buf ? INT_MIN : (int)v;
}

static bool perfpmu_is_psys(const PerfPmuEvent *ev)
{
        return ev->rank < ELEMENTSOF(perfpmu_known) && !perfpmu_known[ev->rank].suffix;
}

/* Names and classifies the domain of event ev counted on cpu (package pkg, die or -1); first:
 * cpu is the first of cpumask (its psys is "psys", the others' "psys-N" as powercap names them). */
static int perfpmu_fill_domain(EnergyDomain *d, const PerfPmuEvent *ev, unsigned cpu, int pkg,
                               int die, bool first, bool host_psys)
{
        bool known = ev->rank < ELEMENTSOF(perfpmu_known);
        bool psys = perfpmu_is_psys(ev);
        char pname[64];
        int r;

        if (die >= 0)
                r = path_fmt(pname, sizeof(pname), "package-%d-die-%d", pkg, die);
        else
                r = path_fmt(pname, sizeof(pname), "package-%d", pkg);
        if (r < 0)
                return r;
        if (psys && first)
                r = path_fmt(d->name, sizeof(d->name), "psys");
        else if (psys)
                r = path_fmt(d->name, sizeof(d->name), "psys-%s", pname + strlen("package-"));
        else if (known)
                r = path_fmt(d->name, sizeof(d->name), "%s%s", pname,
                             perfpmu_known[ev->rank].suffix);
        else
                r = path_fmt(d->name, sizeof(d->name), "%s/%s", pname,
                             startswith(ev->name, "energy-") ? ev->name + strlen("energy-")
                                                             : ev->name);
        if (r >= 0)
                r = path_fmt(d->zone, sizeof(d->zone), "power/%s/cpu%u", ev->name, cpu);
        if (r < 0)
                return r;
        d->kind = known ? perfpmu_known[ev->rank].kind : ENERGY_DOMAIN_OTHER;
        d->package = psys ? -1 : pkg;
        /* Host total: packages and dram, or psys alone (it contains them); never core/gpu,
         * which are inside the package. */
        d->in_host = host_psys ? psys
                               : d->kind == ENERGY_DOMAIN_PACKAGE || d->kind == ENERGY_DOMAIN_DRAM;
        d->wraps = false; /* the kernel keeps 64-bit totals */
        d->max_range_uj = 0;
        return 0;
}

/* Turns a failed perf_event_open into the source's answer: -ENODEV where the kernel has no such
 * PMU or event (so `auto` falls back to powercap), -EACCES with what to grant, else -errno. */
static int perfpmu_open_error(int e, const struct perf_event_attr *attr, const char *event,
                              unsigned cpu, const char *procfs, char *err, size_t errlen)
{
        if (e == EACCES || e == EPERM) {
                int p = perfpmu_paranoid(procfs);
                char pv[32] = "unknown";
                if (p != INT_MIN)
                        snprintf(pv, sizeof(pv), "%d", p);
                snprintf(err, errlen,
                         "perf_event_open(power/%s, cpu %u): %s: system-wide RAPL counters need "
                         "CAP_PERFMON (or CAP_SYS_ADMIN), or kernel.perf_event_paranoid <= 0 (it "
                         "is %s)",
                         event, cpu, strerror(e), pv);
                return -EACCES;
        }
        if (e == ENOENT || e == EOPNOTSUPP || e == ENODEV || e == EINVAL || e == ENXIO) {
                log_debug("perf: perf_event_open(type %" PRIu32 ", config %#llx, cpu %u): %s",
                          attr->type, (unsigned long long)attr->config, cpu, strerror(e));
                snprintf(err, errlen, "the kernel refuses power/%s on cpu %u: %s", event, cpu,
                         strerror(e));
                return -ENODEV;
        }
        snprintf(err, errlen, "perf_event_open(power/%s, cpu %u): %s", event, cpu, strerror(e));
        return -e;
}

static int perfpmu_open(const JoulesRoots *roots, const EnergyOptions *opts, EnergySource **ret,
                        char *err, size_t errlen)
{
        assert(roots && roots->sysfs && roots->procfs && opts && ret && err && errlen > 0);
        char dir[PATH_MAX], path[PATH_MAX], buf[4096];
        uint64_t type;
        PerfPmuFormat fmt;
        PerfPmuEvent evs[PERFPMU_MAX_EVENTS];
        size_t n_evs = 0;
        unsigned *cpus = NULL;
        int *pkg = NULL, *die = NULL;
        size_t n_cpus = 0;
        EnergySource *s = NULL;
        int r;

        r = path_fmt(dir, sizeof(dir), "%s/bus/event_source/devices/power", roots->sysfs);
        if (r < 0)
                return r;
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                log_debug("perf: no power PMU at %s", dir);
                snprintf(err, errlen, "no perf power PMU (%s)", dir);
                return -ENODEV;
        }

        r = path_fmt(path, sizeof(path), "%s/type", dir);
        if (r >= 0)
                r = read_line(path, buf, sizeof(buf));
        if (r >= 0)
                r = parse_u64(buf, &type);
        if (r >= 0 && type > UINT32_MAX)
                r = -ERANGE;
        if (r < 0) {
                snprintf(err, errlen, "cannot read the PMU type from %s: %s", path, strerror(-r));
                return r == -ENOENT ? -EINVAL : r;
        }

        r = path_fmt(path, sizeof(path), "%s/format/event", dir);
        if (r >= 0)
                r = read_line(path, buf, sizeof(buf));
        if (r >= 0)
                r = perfpmu_parse_format(buf, &fmt);
        if (r == -EOPNOTSUPP) {
                /* A layout this code does not know: let powercap read the same counters. */
                log_debug("perf: unsupported event format '%s' in %s", buf, path);
                snprintf(err, errlen, "unsupported event format '%s' in %s (only config:LO-HI)",
                         buf, path);
                return -ENODEV;
        }
        if (r < 0) {
                snprintf(err, errlen, "cannot read the event format from %s: %s", path,
                         strerror(-r));
                return r == -ENOENT ? -EINVAL : r;
        }

        cpus = calloc(PERFPMU_MAX_PACKAGES, sizeof(*cpus));
        pkg = calloc(PERFPMU_MAX_PACKAGES, sizeof(*pkg));
        die = calloc(PERFPMU_MAX_PACKAGES, sizeof(*die));
        if (!cpus || !pkg || !die) {
                r = -ENOMEM;
                goto finish;
        }
        r = path_fmt(path, sizeof(path), "%s/cpumask", dir);
        if (r >= 0)
                r = read_line(path, buf, sizeof(buf));
        if (r >= 0)
                r = perfpmu_parse_cpulist(buf, cpus, PERFPMU_MAX_PACKAGES, &n_cpus);
        if (r < 0) {
                snprintf(err, errlen, "cannot read the package CPUs from %s: %s", path,
                         strerror(-r));
                if (r == -ENOENT)
                        r = -EINVAL;
                goto finish;
        }
        perfpmu_packages(roots->sysfs, cpus, n_cpus, pkg, die);
        if (n_cpus > 1 && die[0] >= 0 && energy_rapl_pkg_scope(roots->procfs))
                n_cpus = perfpmu_one_per_package(cpus, pkg, die, n_cpus);

        r = perfpmu_read_events(dir, &fmt, evs, ELEMENTSOF(evs), &n_evs);
        if (r < 0) {
                snprintf(err, errlen, "cannot list %s/events: %s", dir, strerror(-r));
                r = r == -ENOENT ? -ENODEV : r;
                goto finish;
        }
        size_t n_psys = 0, n_per_pkg = 0;
        for (size_t e = 0; e < n_evs; e++) {
                if (perfpmu_is_psys(&evs[e]))
                        n_psys++;
                else
                        n_per_pkg++;
        }
        if (n_per_pkg + n_psys == 0) {
                log_debug("perf: the power PMU at %s has no energy events in Joules", dir);
                snprintf(err, errlen, "the perf power PMU at %s has no energy events", dir);
                r = -ENODEV;
                goto finish;
        }
        if (opts->host_psys && n_psys == 0) {
                snprintf(err, errlen,
                         "host_domain = psys, but the perf power PMU has no energy-psys event "
                         "(%s/events): choose the package domains",
                         dir);
                r = -EINVAL;
                goto finish;
        }

        size_t n = n_cpus * (n_per_pkg + n_psys);
        s = calloc(1, sizeof(*s));
        PerfPmuCounter *counters = calloc(n, sizeof(*counters));
        if (s) {
                s->priv = counters;
                s->domains = calloc(n, sizeof(*s->domains));
        }
        if (!s || !counters || !s->domains) {
                if (!s)
                        free(counters);
                r = -ENOMEM;
                goto finish;
        }
        s->ops = &energy_source_perf;
        for (size_t i = 0; i < n; i++)
                counters[i].fd = -1;

        /* Domain order: per package, its events in perfpmu_known order; then the psys of each
         * package. psys is the platform's, but on a multi-socket host its MSR reads non-zero on
         * one "master" package only, which on Sapphire Rapids need not be package 0
         * (intel_rapl_common.c therefore enumerates psys on every package and registers the one
         * that reads non-zero). Counted on every package, the others add nothing. */
        size_t k = 0;
        for (size_t c = 0; c < 2 * n_cpus; c++) {
                for (size_t e = 0; e < n_evs; e++) {
                        bool psys = perfpmu_is_psys(&evs[e]);
                        if (psys != (c >= n_cpus))
                                continue;
                        size_t ci = c % n_cpus;
                        r = perfpmu_fill_domain(&s->domains[k], &evs[e], cpus[ci], pkg[ci], die[ci],
                                                ci == 0, opts->host_psys);
                        if (r < 0) {
                                snprintf(err, errlen, "power/%s: name too long", evs[e].name);
                                goto finish;
                        }
                        struct perf_event_attr attr = {
                                .type = (uint32_t)type,
                                .size = sizeof(attr),
                                .config = evs[e].config,
                        };
                        int fd = perfpmu_syscalls->perf_event_open(&attr, -1, (int)cpus[ci], -1,
                                                                   PERF_FLAG_FD_CLOEXEC);
                        if (fd < 0) {
                                r = perfpmu_open_error(errno, &attr, evs[e].name, cpus[ci],
                                                       roots->procfs, err, errlen);
                                goto finish;
                        }
                        counters[k].fd = fd;
                        counters[k].scale = evs[e].scale;
                        k++;
                        s->n_domains = k;
                }
        }
        assert(k == n);
        log_debug("perf: power PMU type %" PRIu64 ", %zu packages, %zu domains", type, n_cpus, n);
        *ret = s;
        s = NULL;
        r = 0;
finish:
        perfpmu_close(s);
        free(cpus);
        free(pkg);
        free(die);
        return r;
}

static int perfpmu_read(EnergySource *s, uint64_t *ret_uj, bool *ret_valid)
{
        assert(s && ret_uj && ret_valid);
        PerfPmuCounter *c = s->priv;
        size_t good = 0;
        int last = -EIO;
        for (size_t i = 0; i < s->n_domains; i++) {
                uint64_t count;
                ssize_t n;
                do
                        n = read(c[i].fd, &count, sizeof(count));
                while (n < 0 && errno == EINTR);
                ret_valid[i] = n == (ssize_t)sizeof(count);
                if (!ret_valid[i]) {
                        last = n < 0 ? -errno : -EIO;
                        log_debug("perf: reading %s failed: %s", s->domains[i].zone,
                                  strerror(-last));
                        continue;
                }
                ret_uj[i] = perfpmu_count_to_uj(&c[i].scale, count);
                good++;
        }
        return good > 0 || s->n_domains == 0 ? 0 : last;
}

const EnergySourceOps energy_source_perf = {
        .name = "perf",
        .estimated = false,
        .open = perfpmu_open,
        .read = perfpmu_read,
        .close = perfpmu_close,
};

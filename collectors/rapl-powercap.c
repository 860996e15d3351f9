#include "collectors/rapl-powercap.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/* The powercap RAPL energy source.
 *
 * Discovery reads <sysfs>/class/powercap/, where every zone of every control type appears as a
 * symlink into /sys/devices/virtual/powercap/<type>/... (subzones are subdirectories of their
 * parent there, and symlinks in class/ too), so one directory listing finds them all. Zones are
 * identified by their `name` file only: the numbers in "intel-rapl:N:M" are registration order
 * (hexadecimal), not a fixed meaning (dram is :0:0 on a server without a core zone).
 *
 * Xeon 6 (Granite Rapids, Sierra Forest) reads RAPL through TPMI, not MSRs: intel_rapl_tpmi
 * registers its zones under the same "intel-rapl" control type ("package-N" per socket, "dram"
 * below it, no core/uncore, and a psys only on the domain-root package), and intel_rapl_msr does
 * not bind there (intel_rapl_common.c creates its device only for CPUs in rapl_ids[], and those
 * are not), so a package is never registered twice. The "intel-rapl-tpmi" control type exists
 * only in Intel's pre-upstream driver, not in any kernel.org release.
 *
 * What the kernel's files mean, and so what this code does with them:
 * - `energy_uj`: cumulative µJ, wraps to 0 after max_energy_range_uj. Mode 0400 since Linux
 *   5.10 (CVE-2020-8694): unreadable is a hard error naming the file, never a silent zero.
 * - `max_energy_range_uj`: kept per domain; missing or unreadable -> 0, so a wrap drops the
 *   interval (energy-delta.h) instead of being undone with a wrong range.
 * - `enabled`: NOT whether the counter works. It is the zone's power-limit (PL1) enable bit,
 *   and reads 0 whenever that limit is off, locked by the firmware, or absent
 *   (powercap_sys.c enabled_show(), intel_rapl_common.c get_domain_enable()): AMD packages and
 *   BIOS-locked server packages read 0 while their energy counters run. Skipping such zones would
 *   drop real packages and make `auto` fall back to an estimate, so they are kept (debug line).
 */

#define POWERCAP_CLASS_DIR "class/powercap"

typedef struct PowercapZone {
        char entry[64]; /* class/powercap entry: the zone id, "intel-rapl:0:1" */
        RaplZoneId id;
        char kname[64];        /* the zone's `name` */
        RaplZoneName cls;      /* what the name says */
        uint64_t max_range_uj; /* 0: missing or unreadable */
        int parent;            /* index of the parent zone; -1 for a top-level zone */
        bool skip;
} PowercapZone;

/* A domain being built, with what the sort needs besides EnergyDomain. */
typedef struct PowercapCandidate {
        EnergyDomain d;
        int die;   /* die of the package the domain belongs to, -1 if none */
        int depth; /* 1: the zone itself is top-level */
        size_t zone;
} PowercapCandidate;

typedef struct PowercapPriv {
        int *fds; /* one open energy_uj per domain */
        bool *ok; /* last read succeeded: logs only the transitions */
        size_t n;
} PowercapPriv;

static const struct {
        const char *prefix;
        RaplControlType control;
} powercap_control_types[] = {
        /* Longest first: "intel-rapl:" is not a prefix of "intel-rapl-mmio:", but keep it obvious.
         */
        {"intel-rapl-mmio:", RAPL_CONTROL_MMIO},
        {"intel-rapl:", RAPL_CONTROL_MSR},
};

static const char *powercap_control_name(RaplControlType c)
{
        return c == RAPL_CONTROL_MMIO ? "intel-rapl-mmio" : "intel-rapl";
}

int rapl_parse_zone_id(const char *entry, RaplZoneId *ret)
{
        if (!entry || !ret)
                return -EINVAL;
        RaplZoneId id = {0};
        const char *p = NULL;
        for (size_t i = 0; i < ELEMENTSOF(powercap_control_types); i++)
                if (startswith(entry, powercap_control_types[i].prefix)) {
                        p = entry + strlen(powercap_control_types[i].prefix);
                        id.control = powercap_control_types[i].control;
                        break;
                }
        if (!p)
                return -EINVAL;
        for (;;) {
                if (id.depth == RAPL_ZONE_MAX_DEPTH)
                        return -EINVAL;
                /* The kernel writes "%x": lower-case hex digits, no leading zeros. */
                const char *start = p;
                unsigned long v = 0;
                for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++) {
                        v = v * 16 + (unsigned long)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
                        if (v > INT_MAX)
                                return -EINVAL;
                }
                if (p == start || (*start == '0' && p - start > 1))
                        return -EINVAL;
                id.id[id.depth++] = (unsigned)v;
                if (*p == '\0')
                        break;
                if (*p != ':')
                        return -EINVAL;
                p++;
        }
        *ret = id;
        return 0;
}

/* A decimal int without sign or leading zeros; advances *p. */
static bool powercap_parse_int(const char **p, int *ret)
{
        const char *s = *p;
        if (!isdigit((unsigned char)*s) || (s[0] == '0' && isdigit((unsigned char)s[1])))
                return false;
        long v = 0;
        for (; isdigit((unsigned char)*s); s++) {
                v = v * 10 + (*s - '0');
                if (v > INT_MAX)
                        return false;
        }
        *ret = (int)v;
        *p = s;
        return true;
}

RaplZoneName rapl_classify_zone_name(const char *name)
{
        RaplZoneName r = {.kind = ENERGY_DOMAIN_OTHER, .package = -1, .die = -1};
        if (!name)
                return r;
        int n, m;
        const char *p;
        if (startswith(name, "package-")) {
                p = name + strlen("package-");
                if (!powercap_parse_int(&p, &n))
                        return r;
                if (*p == '\0')
                        return (RaplZoneName){
                                .kind = ENERGY_DOMAIN_PACKAGE, .package = n, .die = -1};
                if (!startswith(p, "-die-"))
                        return r;
                p += strlen("-die-");
                if (!powercap_parse_int(&p, &m) || *p != '\0')
                        return r;
                return (RaplZoneName){.kind = ENERGY_DOMAIN_PACKAGE, .package = n, .die = m};
        }
        /* "psys" or, on multi-socket platforms with a psys domain per socket, "psys-N"
         * (intel_rapl_common.c rapl_init_domains()). */
        if (strcmp(name, "psys") == 0)
                r.kind = ENERGY_DOMAIN_PSYS;
        else if (startswith(name, "psys-")) {
                p = name + strlen("psys-");
                if (powercap_parse_int(&p, &n) && *p == '\0')
                        r.kind = ENERGY_DOMAIN_PSYS;
        } else if (strcmp(name, "core") == 0)
                r.kind = ENERGY_DOMAIN_CORE;
        else if (strcmp(name, "uncore") == 0)
                r.kind = ENERGY_DOMAIN_UNCORE;
        else if (strcmp(name, "dram") == 0)
                r.kind = ENERGY_DOMAIN_DRAM;
        return r;
}

static void powercap_err(char *err, size_t errlen, const char *fmt, ...) PRINTF(3, 4);
static void powercap_err(char *err, size_t errlen, const char *fmt, ...)
{
        if (!err || errlen == 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

/* The message for an energy_uj this process may not read (LESSONS.md #1). */
static void powercap_err_access(char *err, size_t errlen, const char *path, int r)
{
        powercap_err(err, errlen,
                     "cannot read %s: %s. RAPL energy_uj is readable only by root since Linux "
                     "5.10 (CVE-2020-8694). Fix one of: run joulesd as root; grant it "
                     "CAP_DAC_READ_SEARCH (AmbientCapabilities=CAP_DAC_READ_SEARCH in its unit); "
                     "or give its group read access with a udev rule such as "
                     "ACTION==\"add\", SUBSYSTEM==\"powercap\", "
                     "RUN+=\"/bin/chgrp joules /sys%%p/energy_uj\", "
                     "RUN+=\"/bin/chmod g+r /sys%%p/energy_uj\"",
                     path, strerror(-r));
}

static bool powercap_is_access_error(int r)
{
        return r == -EACCES || r == -EPERM;
}

/* Names become log fields, metric labels and file names: only what the kernel writes. */
static bool powercap_name_ok(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
                        return false;
        return true;
}

/* Reads a zone's name and max_energy_range_uj. -errno: the zone is malformed and skipped. */
static int powercap_read_zone(const char *classdir, PowercapZone *z)
{
        char path[PATH_MAX], buf[64];
        int r;

        r = path_fmt(path, sizeof(path), "%s/%s/name", classdir, z->entry);
        if (r < 0)
                return r;
        r = read_line(path, z->kname, sizeof(z->kname));
        if (r < 0) {
                log_debug("powercap: skipping %s: cannot read its name: %s", z->entry,
                          strerror(-r));
                return r;
        }
        if (!powercap_name_ok(z->kname)) {
                log_debug("powercap: skipping %s: malformed name", z->entry);
                return -EINVAL;
        }
        z->cls = rapl_classify_zone_name(z->kname);

        r = path_fmt(path, sizeof(path), "%s/%s/max_energy_range_uj", classdir, z->entry);
        if (r < 0)
                return r;
        ssize_t n = read_text(path, buf, sizeof(buf));
        if (n < 0) {
                /* Kept: the counter is still good between wraps; a wrap drops its interval. */
                log_debug("powercap: %s (%s): max_energy_range_uj unreadable (%s), wraps will "
                          "drop the interval",
                          z->entry, z->kname, strerror((int)-n));
                z->max_range_uj = 0;
        } else {
                r = parse_u64(buf, &z->max_range_uj);
                if (r < 0) {
                        log_debug("powercap: skipping %s (%s): malformed max_energy_range_uj",
                                  z->entry, z->kname);
                        return r;
                }
        }

        r = path_fmt(path, sizeof(path), "%s/%s/enabled", classdir, z->entry);
        if (r < 0)
                return r;
        if (read_line(path, buf, sizeof(buf)) >= 0 && strcmp(buf, "0") == 0)
                log_debug("powercap: %s (%s): power limit disabled or locked (enabled=0); its "
                          "energy counter is read anyway",
                          z->entry, z->kname);
        return 0;
}

static int powercap_scan(const char *classdir, PowercapZone **ret_zones, size_t *ret_n)
{
        DIR *d = opendir(classdir);
        if (!d)
                return -errno;
        PowercapZone *zones = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                RaplZoneId id;
                if (rapl_parse_zone_id(de->d_name, &id) < 0)
                        continue; /* ".", "intel-rapl", other control types */
                size_t len = strlen(de->d_name);
                if (len >= sizeof(zones[0].entry)) {
                        log_debug("powercap: skipping %s: name too long", de->d_name);
                        continue;
                }
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        PowercapZone *nz = realloc(zones, ncap * sizeof(*nz));
                        if (!nz) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        zones = nz;
                        cap = ncap;
                }
                PowercapZone *z = &zones[n++];
                *z = (PowercapZone){.id = id, .parent = -1};
                memcpy(z->entry, de->d_name, len + 1);
                z->skip = powercap_read_zone(classdir, z) < 0;
        }
        if (errno != 0)
                r = -errno;
finish:
        closedir(d);
        if (r < 0) {
                free(zones);
                return r;
        }
        *ret_zones = zones;
        *ret_n = n;
        return 0;
}

static int powercap_find_top(const PowercapZone *zones, size_t n, RaplControlType control,
                             unsigned id)
{
        for (size_t i = 0; i < n; i++)
                if (zones[i].id.depth == 1 && zones[i].id.control == control &&
                    zones[i].id.id[0] == id)
                        return (int)i;
        return -1;
}

/* The same package can be registered twice: by intel_rapl_msr ("intel-rapl:N") and by
 * processor_thermal's MMIO interface ("intel-rapl-mmio:N"), both named "package-N" and both
 * reading the same package energy counter. It is counted once, and the MSR zone wins: it exists
 * on every RAPL-capable host (the MMIO one only while the processor_thermal driver is bound),
 * and it carries the package's core/uncore/dram subzones, so the package and its parts come
 * from one interface. An MMIO package with no MSR twin is kept. */
static void powercap_dedupe_mmio(PowercapZone *zones, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                PowercapZone *m = &zones[i];
                if (m->skip || m->id.control != RAPL_CONTROL_MMIO || m->id.depth != 1)
                        continue;
                for (size_t j = 0; j < n; j++) {
                        const PowercapZone *t = &zones[j];
                        if (t->skip || t->id.control != RAPL_CONTROL_MSR || t->id.depth != 1 ||
                            strcmp(t->kname, m->kname) != 0)
                                continue;
                        log_debug("powercap: skipping %s (%s): same package as %s, read once "
                                  "through the MSR interface",
                                  m->entry, m->kname, t->entry);
                        m->skip = true;
                        break;
                }
        }
}

/* AMD and Hygon count package energy per package (energy_rapl_pkg_scope()). Kernels 6.10 and
 * 6.11 before commit 26096aed255f ("powercap/intel_rapl: Fix the energy-pkg event for AMD CPUs")
 * took Zen 4/5's CCDs for dies and registered a "package-N-die-M" zone per CCD, each reading the
 * package's one MSR_AMD_PKG_ENERGY_STATUS: summed, a package would count once per CCD. Only the
 * lowest die's zone of each package is kept, with its subzones. */
static void powercap_dedupe_pkg_scope(PowercapZone *zones, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                PowercapZone *z = &zones[i];
                if (z->skip || z->id.depth != 1 || z->cls.kind != ENERGY_DOMAIN_PACKAGE ||
                    z->cls.die < 0)
                        continue;
                for (size_t j = 0; j < n; j++) {
                        const PowercapZone *t = &zones[j];
                        if (t->skip || t->id.depth != 1 || t->id.control != z->id.control ||
                            t->cls.kind != ENERGY_DOMAIN_PACKAGE ||
                            t->cls.package != z->cls.package || t->cls.die < 0 ||
                            t->cls.die >= z->cls.die)
                                continue;
                        log_debug("powercap: skipping %s (%s): the same package counter as %s "
                                  "(%s), AMD counts energy per package",
                                  z->entry, z->kname, t->entry, t->kname);
                        z->skip = true;
                        break;
                }
        }
}

/* AMD's and Hygon's "core" zone is not their cores: the kernel reads it from
 * MSR_AMD_CORE_ENERGY_STATUS, a counter each core has of its own, on the package's lead CPU only
 * (intel_rapl_msr.c, rapl_msr_priv_amd), so it holds one core's energy. Shown as
 * "package-0/core" it would read as the cores' share of the package: left out. */
static void powercap_skip_amd_core(PowercapZone *zones, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                PowercapZone *z = &zones[i];
                if (z->skip || z->cls.kind != ENERGY_DOMAIN_CORE)
                        continue;
                log_debug("powercap: skipping %s (%s): on AMD it counts one core, not all of them",
                          z->entry, z->kname);
                z->skip = true;
        }
}

/* Links subzones to their parents; a subzone whose parent is missing or skipped cannot be
 * named (nor placed in a package) and is skipped too. */
static void powercap_link_parents(PowercapZone *zones, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                PowercapZone *z = &zones[i];
                if (z->id.depth != 2)
                        continue;
                int p = powercap_find_top(zones, n, z->id.control, z->id.id[0]);
                if (p < 0 || zones[p].skip) {
                        if (!z->skip)
                                log_debug("powercap: skipping %s: parent zone %s:%x %s", z->entry,
                                          powercap_control_name(z->id.control), z->id.id[0],
                                          p < 0 ? "missing" : "skipped");
                        z->skip = true;
                        continue;
                }
                z->parent = p;
        }
}

/* Fills c from zone i. false: the domain name does not fit. */
static bool powercap_make_candidate(const PowercapZone *zones, size_t i, const EnergyOptions *opts,
                                    PowercapCandidate *c)
{
        const PowercapZone *z = &zones[i];
        *c = (PowercapCandidate){.die = -1, .depth = (int)z->id.depth, .zone = i};
        EnergyDomain *d = &c->d;
        d->kind = z->cls.kind;
        d->package = -1;
        d->wraps = true;
        d->max_range_uj = z->max_range_uj;
        snprintf(d->zone, sizeof(d->zone), "%s", z->entry);

        int w;
        if (z->parent < 0) {
                if (d->kind == ENERGY_DOMAIN_PACKAGE) {
                        d->package = z->cls.package;
                        c->die = z->cls.die;
                }
                w = snprintf(d->name, sizeof(d->name), "%s", z->kname);
        } else {
                const PowercapZone *p = &zones[z->parent];
                /* A package or psys inside another zone is nothing the kernel creates; never let
                 * it into a total that already holds its parent. */
                if (d->kind == ENERGY_DOMAIN_PACKAGE || d->kind == ENERGY_DOMAIN_PSYS)
                        d->kind = ENERGY_DOMAIN_OTHER;
                if (p->cls.kind == ENERGY_DOMAIN_PACKAGE) {
                        d->package = p->cls.package;
                        c->die = p->cls.die;
                }
                w = snprintf(d->name, sizeof(d->name), "%s/%s", p->kname, z->kname);
        }
        if (w < 0 || (size_t)w >= sizeof(d->name))
                return false;

        /* Host total: the packages plus dram (outside the packages); core and uncore are parts of
         * their package and psys contains everything, so either psys alone or none of it. */
        if (opts->host_psys)
                d->in_host = d->kind == ENERGY_DOMAIN_PSYS;
        else
                d->in_host = d->kind == ENERGY_DOMAIN_PACKAGE || d->kind == ENERGY_DOMAIN_DRAM;
        return true;
}

/* Two zones with one name (two top-level "dram" zones, say) would be indistinguishable to users:
 * qualify every such name with its zone id, "dram@intel-rapl:2". */
static void powercap_uniquify(PowercapCandidate *c, size_t n)
{
        bool *dup = calloc(n ? n : 1, sizeof(bool));
        if (!dup)
                return; /* names stay ambiguous, the zones are still told apart by `zone` */
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (strcmp(c[i].d.name, c[j].d.name) == 0)
                                dup[i] = dup[j] = true;
        for (size_t i = 0; i < n; i++) {
                if (!dup[i])
                        continue;
                char q[sizeof(c[i].d.name)];
                int w = snprintf(q, sizeof(q), "%s@%s", c[i].d.name, c[i].d.zone);
                if (w > 0 && (size_t)w < sizeof(q))
                        memcpy(c[i].d.name, q, sizeof(q));
        }
        free(dup);
}

static int powercap_kind_rank(EnergyDomainKind k)
{
        switch (k) {
        case ENERGY_DOMAIN_PACKAGE:
                return 0;
        case ENERGY_DOMAIN_CORE:
                return 1;
        case ENERGY_DOMAIN_UNCORE:
                return 2;
        case ENERGY_DOMAIN_DRAM:
                return 3;
        case ENERGY_DOMAIN_PSYS:
                return 5;
        default:
                return 4;
        }
}

/* By package (domains of no package last), die, top-level zone before its parts, kind, then
 * name and zone id, which are unique: a total order, so the result does not depend on the
 * directory order. */
static int powercap_candidate_cmp(const void *a, const void *b)
{
        const PowercapCandidate *x = a, *y = b;
        unsigned px = (unsigned)x->d.package, py = (unsigned)y->d.package; /* -1 sorts last */
        if (px != py)
                return px < py ? -1 : 1;
        if (x->die != y->die)
                return x->die < y->die ? -1 : 1;
        if (x->depth != y->depth)
                return x->depth < y->depth ? -1 : 1;
        int kx = powercap_kind_rank(x->d.kind), ky = powercap_kind_rank(y->d.kind);
        if (kx != ky)
                return kx < ky ? -1 : 1;
        int r = strcmp(x->d.name, y->d.name);
        if (r != 0)
                return r;
        return strcmp(x->d.zone, y->d.zone);
}

/* Opens a domain's energy_uj and reads it once. -EACCES/-EPERM: fatal for the source; any
 * other error: this zone is skipped. */
static int powercap_open_counter(const char *path, int *ret_fd)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        char buf[32];
        ssize_t n = pread_text(fd, buf, sizeof(buf));
        uint64_t v;
        int r = n < 0 ? (int)n : parse_u64(buf, &v);
        if (r < 0) {
                (void)close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

static void powercap_close(EnergySource *s)
{
        if (!s)
                return;
        PowercapPriv *p = s->priv;
        if (p) {
                for (size_t i = 0; i < p->n; i++)
                        if (p->fds[i] >= 0)
                                (void)close(p->fds[i]);
                free(p->fds);
                free(p->ok);
                free(p);
        }
        free(s->domains);
        free(s);
}

static int powercap_open(const JoulesRoots *roots, const EnergyOptions *opts, EnergySource **ret,
                         char *err, size_t errlen)
{
        assert(roots && roots->sysfs && opts && ret);
        char classdir[PATH_MAX], path[PATH_MAX];
        PowercapZone *zones = NULL;
        PowercapCandidate *cand = NULL;
        EnergySource *s = NULL;
        PowercapPriv *priv = NULL;
        size_t n_zones = 0, n = 0;
        int r;

        if (err && errlen)
                err[0] = '\0';
        r = path_fmt(classdir, sizeof(classdir), "%s/%s", roots->sysfs, POWERCAP_CLASS_DIR);
        if (r < 0)
                return r;

        r = powercap_scan(classdir, &zones, &n_zones);
        if (r == -ENOENT || r == -ENOTDIR) {
                powercap_err(err, errlen,
                             "no %s: this kernel has no powercap framework (CONFIG_POWERCAP)",
                             classdir);
                return -ENODEV;
        }
        if (r < 0) {
                powercap_err(err, errlen, "cannot list %s: %s", classdir, strerror(-r));
                return r;
        }

        if (energy_rapl_pkg_scope(roots->procfs)) {
                powercap_dedupe_pkg_scope(zones, n_zones);
                powercap_skip_amd_core(zones, n_zones);
        }
        powercap_dedupe_mmio(zones, n_zones);
        powercap_link_parents(zones, n_zones);

        cand = calloc(n_zones ? n_zones : 1, sizeof(*cand));
        if (!cand) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_zones; i++) {
                if (zones[i].skip)
                        continue;
                if (!powercap_make_candidate(zones, i, opts, &cand[n])) {
                        log_debug("powercap: skipping %s: domain name too long", zones[i].entry);
                        continue;
                }
                n++;
        }
        powercap_uniquify(cand, n);
        qsort(cand, n, sizeof(*cand), powercap_candidate_cmp);

        s = calloc(1, sizeof(*s));
        priv = s ? calloc(1, sizeof(*priv)) : NULL;
        if (priv) {
                s->priv = priv;
                s->domains = calloc(n ? n : 1, sizeof(EnergyDomain));
                priv->fds = malloc((n ? n : 1) * sizeof(int));
                priv->ok = malloc((n ? n : 1) * sizeof(bool));
        }
        if (!priv || !s->domains || !priv->fds || !priv->ok) {
                r = -ENOMEM;
                goto finish;
        }
        s->ops = &energy_source_powercap;

        for (size_t i = 0; i < n; i++) {
                const PowercapZone *z = &zones[cand[i].zone];
                r = path_fmt(path, sizeof(path), "%s/%s/energy_uj", classdir, z->entry);
                if (r < 0)
                        goto finish;
                int fd = -1;
                r = powercap_open_counter(path, &fd);
                if (powercap_is_access_error(r)) {
                        powercap_err_access(err, errlen, path, r);
                        goto finish;
                }
                if (r < 0) {
                        log_debug("powercap: skipping %s (%s): energy_uj: %s", z->entry,
                                  cand[i].d.name, strerror(-r));
                        continue;
                }
                s->domains[priv->n] = cand[i].d;
                priv->fds[priv->n] = fd;
                priv->ok[priv->n] = true;
                priv->n++;
                log_debug("powercap: domain %s: zone %s, kind %s, package %d%s, max %" PRIu64 " uJ",
                          cand[i].d.name, cand[i].d.zone,
                          energy_domain_kind_to_string(cand[i].d.kind), cand[i].d.package,
                          cand[i].d.in_host ? ", in host" : "", cand[i].d.max_range_uj);
        }
        s->n_domains = priv->n;

        if (s->n_domains == 0) {
                powercap_err(err, errlen,
                             "no usable RAPL zones under %s (no intel_rapl_msr/intel_rapl_mmio "
                             "driver loaded, or a virtual machine without RAPL)",
                             classdir);
                r = -ENODEV;
                goto finish;
        }
        if (opts->host_psys) {
                size_t n_psys = 0;
                const EnergyDomain *first = NULL, *second = NULL;
                for (size_t i = 0; i < s->n_domains; i++) {
                        if (s->domains[i].kind != ENERGY_DOMAIN_PSYS)
                                continue;
                        n_psys++;
                        if (!first)
                                first = &s->domains[i];
                        else if (!second)
                                second = &s->domains[i];
                }
                if (n_psys == 0) {
                        powercap_err(err, errlen,
                                     "psys was chosen as the host total, but %s has no psys RAPL "
                                     "zone (only some laptops and servers have one): use the "
                                     "packages instead",
                                     classdir);
                        r = -ENOENT;
                        goto finish;
                }
                /* There is one platform, and the kernel registers a psys zone only where its
                 * counter reads non-zero (rapl_check_domain()): on a multi-socket MSR host that is
                 * the master package alone, on a TPMI host the domain-root package alone. Two or
                 * more psys zones come from a kernel that also registered packages whose psys is
                 * not the platform's (6.5 to 6.8 with TPMI, before "powercap: intel_rapl_tpmi: Fix
                 * System Domain probing"), and nothing in sysfs says which one is: adding them
                 * could count the platform twice, picking one could pick a wrong one. */
                if (n_psys > 1) {
                        powercap_err(err, errlen,
                                     "psys was chosen as the host total, but %s has %zu psys "
                                     "zones (%s %s, %s %s%s) and a host has one platform: this "
                                     "kernel registered the psys of packages that do not hold "
                                     "the platform's counter (Linux 6.5 to 6.8 on TPMI hosts such "
                                     "as Granite Rapids, fixed by \"powercap: intel_rapl_tpmi: Fix "
                                     "System Domain probing\"). Use the packages instead, or a "
                                     "newer kernel",
                                     classdir, n_psys, first->zone, first->name, second->zone,
                                     second->name, n_psys > 2 ? ", ..." : "");
                        r = -EINVAL;
                        goto finish;
                }
        }

        *ret = TAKE_PTR(s);
        r = 0;
finish:
        powercap_close(s);
        free(cand);
        free(zones);
        return r;
}

static int powercap_read(EnergySource *s, uint64_t *ret_uj, bool *ret_valid)
{
        assert(s && ret_uj && ret_valid);
        PowercapPriv *p = s->priv;
        size_t good = 0;
        int first = 0;
        for (size_t i = 0; i < p->n; i++) {
                char buf[32];
                uint64_t v = 0;
                ssize_t n = pread_text(p->fds[i], buf, sizeof(buf));
                /* Empty (a writer between truncate and write, in a simulated tree) or partial
                 * text is invalid for this tick, never zero. */
                int r = n < 0 ? (int)n : n == 0 ? -ENODATA : parse_u64(buf, &v);
                ret_valid[i] = r >= 0;
                ret_uj[i] = r >= 0 ? v : 0;
                if (r >= 0) {
                        if (!p->ok[i])
                                log_debug("powercap: %s readable again", s->domains[i].zone);
                        p->ok[i] = true;
                        good++;
                        continue;
                }
                if (p->ok[i])
                        log_debug("powercap: reading %s/energy_uj failed: %s", s->domains[i].zone,
                                  strerror(-r));
                p->ok[i] = false;
                if (!first)
                        first = r;
        }
        if (p->n > 0 && good == 0)
                return first ? first : -EIO;
        return 0;
}

const EnergySourceOps energy_source_powercap = {
        .name = "powercap",
        .estimated = false,
        .open = powercap_open,
        .read = powercap_read,
        .close = powercap_close,
};

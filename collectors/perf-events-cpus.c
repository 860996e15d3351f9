/* Following the online CPUs across hotplug: the online list (<sysfs>/devices/system/cpu/online),
 * a watch on each online CPU that remembers it went down, and the update that closes the cgroup
 * groups on CPUs gone (keeping their final counts) and opens one on each online CPU that lacks one
 * (the rule is "CPU hotplug" in collectors/perf-events.h). */

#include "collectors/perf-events.h"
#include "collectors/perf-events-internal.h"
#include "collectors/rapl-perf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* More CPUs than any kernel numbers (CONFIG_NR_CPUS is at most 8192): a list past it is
 * malformed. */
#define PE_CPUS_MAX 65536

/* A kernel cpulist ("0-3,8,10-11\n") into a new array, by rapl-perf's parser. */
static int pe_parse_cpulist(const char *s, unsigned **ret, size_t *ret_n)
{
        unsigned *cpus = NULL;
        for (size_t cap = 64; cap <= PE_CPUS_MAX; cap *= 2) {
                unsigned *m = realloc(cpus, cap * sizeof(*cpus));
                if (!m) {
                        free(cpus);
                        return -ENOMEM;
                }
                cpus = m;
                int r = perfpmu_parse_cpulist(s, cpus, cap, ret_n);
                if (r == -E2BIG)
                        continue;
                if (r < 0)
                        break;
                *ret = cpus;
                return 0;
        }
        free(cpus);
        return -EINVAL;
}

/* The online CPUs, read again for every cgroup added and by perf_events_update_cpus():
 * perf_event_open() refuses a CPU that went offline since with ENODEV (perf_event_open():
 * !cpuctx->online, kernel/events/core.c), which would fail every later cgroup, and one that came
 * back or was added is counted for every cgroup (perf_events_update_cpus()). A list that differs
 * from the one read before marks the cgroup targets for the next update. */
int pe_ensure_cpus(PerfEvents *pe)
{
        char path[PATH_MAX], text[4096];
        int r = path_fmt(path, sizeof(path), "%s/devices/system/cpu/online", pe->roots.sysfs);
        if (r < 0)
                return r;
        ssize_t k = read_text(path, text, sizeof(text));
        if (k < 0) {
                pe_reason(pe->reason, sizeof(pe->reason), "%s: %s", path, strerror((int)-k));
                return (int)k;
        }
        unsigned *cpus;
        size_t n;
        r = pe_parse_cpulist(text, &cpus, &n);
        if (r < 0) {
                pe_reason(pe->reason, sizeof(pe->reason), "%s: malformed cpulist", path);
                return r;
        }
        size_t need = 0;
        for (size_t i = 0; i < n; i++)
                if (cpus[i] + (size_t)1 > need)
                        need = cpus[i] + (size_t)1;
        if (need > pe->n_cpu_state) {
                uint8_t *m = realloc(pe->cpu_state, need);
                if (!m) {
                        free(cpus);
                        return -ENOMEM;
                }
                memset(m + pe->n_cpu_state, 0, need - pe->n_cpu_state);
                pe->cpu_state = m;
                pe->n_cpu_state = need;
        }
        bool same = pe->cpus && n == pe->n_cpus && memcmp(cpus, pe->cpus, n * sizeof(*cpus)) == 0;
        if (pe->cpus && !same)
                pe->cpus_changed = true;
        for (size_t c = 0; c < pe->n_cpu_state; c++)
                pe->cpu_state[c] &= (uint8_t)~PE_CPU_ONLINE;
        for (size_t i = 0; i < n; i++)
                pe->cpu_state[cpus[i]] |= PE_CPU_ONLINE;
        free(pe->cpus);
        pe->cpus = cpus;
        pe->n_cpus = n;
        return 0;
}

static bool pe_cpu_is(const PerfEvents *pe, unsigned cpu, uint8_t bit)
{
        return cpu < pe->n_cpu_state && (pe->cpu_state[cpu] & bit);
}

/* Opens a watch (see PeWatch) on each online CPU that has none. One the kernel refuses (no
 * CAP_PERFMON for a CPU-wide event, no dummy event before Linux 3.12) is not kept: the online list
 * and the groups' own reads are then all there is to go by. */
void pe_watch_open_missing(PerfEvents *pe)
{
        for (size_t i = 0; i < pe->n_cpus; i++) {
                unsigned cpu = pe->cpus[i];
                bool have = false;
                for (size_t w = 0; w < pe->n_watch && !have; w++)
                        have = pe->watch[w].cpu == cpu;
                if (have)
                        continue;
                if (pe->n_watch == pe->cap_watch) {
                        size_t cap = pe->cap_watch ? pe->cap_watch * 2 : 8;
                        PeWatch *m = realloc(pe->watch, cap * sizeof(*m));
                        if (!m)
                                return;
                        pe->watch = m;
                        pe->cap_watch = cap;
                }
                PeWatch w = {.cpu = cpu, .fd = {-1, -1}};
                struct perf_event_attr attr = {
                        .size = sizeof(attr),
                        .type = PERF_TYPE_SOFTWARE,
                        .config = PERF_COUNT_SW_DUMMY,
                        .read_format = PERF_FORMAT_GROUP,
                };
                w.fd[0] = pe_sc->perf_event_open(&attr, -1, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
                if (w.fd[0] >= 0)
                        w.fd[1] = pe_sc->perf_event_open(&attr, -1, (int)cpu, w.fd[0],
                                                         PERF_FLAG_FD_CLOEXEC);
                if (w.fd[1] < 0) {
                        log_debug("perf-events: no watch on CPU %u: %s", cpu, strerror(errno));
                        pe_close_fds(w.fd, 2);
                        continue;
                }
                pe->watch[pe->n_watch++] = w;
        }
}

/* Whether the watch's group was broken up, that is its CPU went offline since it was opened. */
static bool pe_watch_broken(const PeWatch *w)
{
        uint64_t buf[2];
        return pe_sc->read(w->fd[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf) && buf[0] == 1;
}

/* Whether a cgroup group of more than one event was broken up, by the same test (its leader's
 * read_size shrank from 3 + n to 4 u64). With one event a group reads the same either way. */
static bool pe_group_broken(const PerfEvents *pe, const int *fds)
{
        uint64_t buf[4];
        return pe->n > 1 && pe_sc->read(fds[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf) &&
               buf[0] == 1;
}

bool perf_events_cpus_changed(const PerfEvents *pe)
{
        return pe->cpus_changed;
}

/* Closes group g of a cgroup target after adding its final counts to the target's retired ones,
 * so that the target's sum neither steps back nor counts them twice. The last group takes its
 * place. Nothing is closed when the group cannot be read. */
static int pe_retire_group(PerfEvents *pe, PerfTarget *t, size_t g)
{
        uint64_t sums[PERF_EVENTS_MAX] = {0};
        int *fds = t->fds + g * pe->n;
        int r = pe_read_group(pe, t, fds, sums);
        if (r < 0)
                return r;
        for (size_t e = 0; e < pe->n; e++)
                t->retired[e] = pe_add_sat(t->retired[e], sums[e]);
        pe_close_fds(fds, pe->n);
        size_t last = t->n_groups - 1;
        if (g != last) {
                memcpy(fds, t->fds + last * pe->n, pe->n * sizeof(int));
                t->at[g] = t->at[last];
        }
        t->n_groups--;
        return 0;
}

/* Brings one cgroup target to a group per online CPU: closes the groups on CPUs gone or reset (and
 * the broken ones when check_broken), opens the missing ones. Returns how many groups it opened or
 * closed, or the first error (what it could do is done). */
static int pe_target_update_cpus(PerfEvents *pe, PerfTarget *t, bool check_broken)
{
        int changes = 0, err = 0;
        for (size_t g = t->n_groups; g > 0; g--) {
                unsigned cpu = (unsigned)t->at[g - 1];
                if (pe_cpu_is(pe, cpu, PE_CPU_ONLINE) && !pe_cpu_is(pe, cpu, PE_CPU_RESET) &&
                    !(check_broken && pe_group_broken(pe, t->fds + (g - 1) * pe->n)))
                        continue;
                int r = pe_retire_group(pe, t, g - 1);
                if (r < 0) {
                        pe_reason(pe->reason, sizeof(pe->reason),
                                  "cgroup %s: reading the counters on CPU %u: %s", t->path, cpu,
                                  strerror(-r));
                        err = err ?: r;
                        continue;
                }
                changes++;
        }

        _cleanup_close_ int cgfd = -1;
        for (size_t c = 0; c < pe->n_cpus; c++) {
                bool have = false;
                for (size_t g = 0; g < t->n_groups && !have; g++)
                        have = (unsigned)t->at[g] == pe->cpus[c];
                if (have)
                        continue;
                if (cgfd < 0) {
                        cgfd = pe_open_cgroup_dir(pe, t->path);
                        if (cgfd == -ENOENT)
                                return changes; /* removed: its units go with the next scan */
                        if (cgfd < 0)
                                return err ?: cgfd;
                }
                int *fds = pe_target_grow(pe, t);
                if (!fds)
                        return err ?: -ENOMEM;
                size_t e;
                int r = pe_open_group(pe, cgfd, (int)pe->cpus[c], PERF_FLAG_PID_CGROUP,
                                      PE_INHERIT_NONE, true, fds, &e);
                if (r == -ENODEV) {
                        pe->cpus_incomplete = true; /* gone again meanwhile */
                        continue;
                }
                if (r < 0) {
                        err = err ?: pe_open_failed(pe, e, -r);
                        continue;
                }
                t->at[t->n_groups++] = (pid_t)pe->cpus[c];
                changes++;
        }
        return err ? err : changes;
}

int perf_events_update_cpus(PerfEvents *pe)
{
        pe->reason[0] = '\0';
        if (!pe->cgroup_mode_works) /* no cgroup counted per CPU yet */
                return 0;
        bool check_broken = pe->cpus_changed; /* a read found a broken group: which ones? */
        pe->cpus_changed = false;
        int r = pe_ensure_cpus(pe);
        if (r < 0) {
                pe->cpus_changed = check_broken;
                return r;
        }
        bool stale = check_broken || pe->cpus_changed || pe->cpus_incomplete;
        pe->cpus_incomplete = false;

        /* The watches of CPUs that went offline, and came back or not: every group on those CPUs
         * is broken. Their new watches are opened before the groups. */
        for (size_t c = 0; c < pe->n_cpu_state; c++)
                pe->cpu_state[c] &= (uint8_t)~PE_CPU_RESET;
        for (size_t w = pe->n_watch; w > 0; w--) {
                PeWatch *wt = &pe->watch[w - 1];
                bool online = pe_cpu_is(pe, wt->cpu, PE_CPU_ONLINE);
                if (online && !pe_watch_broken(wt))
                        continue;
                if (online) {
                        log_debug("perf-events: CPU %u went offline and came back", wt->cpu);
                        pe->cpu_state[wt->cpu] |= PE_CPU_RESET;
                }
                stale = true;
                pe_close_fds(wt->fd, 2);
                *wt = pe->watch[--pe->n_watch];
        }
        pe_watch_open_missing(pe);
        if (!stale)
                return 0;

        int changes = 0, err = 0;
        for (PerfTarget *t = pe->targets; t; t = t->next) {
                if (t->mode != PERF_TARGET_CGROUP)
                        continue;
                r = pe_target_update_cpus(pe, t, check_broken);
                if (r < 0)
                        err = err ?: r;
                else
                        changes += r;
        }
        /* what the reads above found is handled, and an error waits for the next update rather
         * than making each tick try again */
        pe->cpus_changed = false;
        if (err < 0) {
                pe->cpus_incomplete = true;
                return err;
        }
        return changes;
}

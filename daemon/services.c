#include "daemon/services.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/cgroup.h"
#include "collectors/perf-events.h"
#include "common/log.h"
#include "common/text.h"
#include "common/util.h"
#include "common/attribution.h"
#include "daemon/proc-events.h"

/* the readers give back every name joulesd stores */
static_assert(STORE_NAME_MAX >= CGROUP_UNIT_DISPLAY_MAX, "unit names fit the readers");

enum { PSEUDO_KERNEL, PSEUDO_UNATTRIBUTED, PSEUDO_IDLE, _PSEUDO_MAX };
static const char *const pseudo_names[_PSEUDO_MAX] = {"kernel", "unattributed", "idle"};

typedef struct ServiceState {
        char *path; /* NULL: slot moved or free */
        char *display;
        uint64_t cgroup_id;
        int64_t unit_id;
        PerfTarget *target;
        bool user_manager; /* its cgroup also holds the user's units: counts are not its own */
        bool have_prev;
        bool counted; /* delta[] holds this tick's counts */
        uint64_t prev[PERF_EVENTS_MAX];
        uint64_t delta[PERF_EVENTS_MAX];
} ServiceState;

struct Services {
        bool idle_learn;
        double idle_w_config;
        double source_idle_w;
        unsigned top_processes;
        Store *store;
        CgroupSet *cg;
        PerfEvents *pe;
        ProcEvents *pev; /* per-process counters; NULL: off, or no working events */
        bool pev_warned;
        size_t n_events;
        int64_t event_ids[PERF_EVENTS_MAX];
        char weight[PERF_EVENTS_NAME_MAX];
        char reason[PERF_EVENTS_REASON_MAX];
        AttrIdleLearner *learner;
        double idle_w; /* used in the last tick */
        int64_t pseudo_ids[_PSEUDO_MAX];

        ServiceState *states;
        size_t n_states;
        bool matched;          /* states[] follow the unit list of cgroup scan matched_scan */
        uint64_t matched_scan; /* cgroup_set_scans() when states[] were last matched */

        /* scratch, grown on demand and reused every tick */
        size_t cap_units;
        ServiceState *next_states;
        uint64_t *weights, *active, *idle;
        StoreUnitValue *unit_rows;
        const char **unit_names;
        size_t cap_counters;
        StoreCounterValue *counter_rows;
        size_t cap_procs;
        StoreProcValue *proc_rows;
        size_t cap_proc_counters;
        StoreProcCounterValue *proc_counter_rows;
        size_t cap_proc_scratch;
        uint64_t *proc_w, *proc_a, *proc_i;
        bool *proc_taken;

        JoulesRoots perf_roots;
        uint64_t cpus_checked_us; /* time since the online CPUs were last looked at */
        bool cpus_warned;
        bool cgroup_failing;
        bool warned_conservation;
};

const char *services_weight(const Services *s)
{
        return s->weight;
}

const char *services_weight_reason(const Services *s)
{
        return s->reason;
}

double services_idle_w(const Services *s)
{
        return s->idle_w;
}

static int resize(void **p, size_t n, size_t size)
{
        void *q = realloc(*p, (n ? n : 1) * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        return 0;
}

static int services_reserve_units(Services *s, size_t n)
{
        if (n <= s->cap_units)
                return 0;
        size_t cap = n < 64 ? 64 : n * 2;
        if (resize((void **)&s->states, cap, sizeof(ServiceState)) < 0 ||
            resize((void **)&s->next_states, cap, sizeof(ServiceState)) < 0 ||
            resize((void **)&s->weights, cap + _PSEUDO_MAX, sizeof(uint64_t)) < 0 ||
            resize((void **)&s->active, cap + _PSEUDO_MAX, sizeof(uint64_t)) < 0 ||
            resize((void **)&s->idle, cap + _PSEUDO_MAX, sizeof(uint64_t)) < 0 ||
            resize((void **)&s->unit_rows, cap + _PSEUDO_MAX, sizeof(StoreUnitValue)) < 0 ||
            resize((void **)&s->unit_names, cap + _PSEUDO_MAX, sizeof(char *)) < 0)
                return -ENOMEM;
        s->cap_units = cap;
        return 0;
}

static int services_reserve(void **p, size_t *cap, size_t need, size_t size)
{
        if (need <= *cap)
                return 0;
        size_t c = need < 64 ? 64 : need * 2;
        void *n = realloc(*p, c * size);
        if (!n)
                return -ENOMEM;
        *p = n;
        *cap = c;
        return 0;
}

static void state_clear(Services *s, ServiceState *st)
{
        if (st->target)
                st->target = perf_events_remove(s->pe, st->target);
        free(st->path);
        free(st->display);
        st->path = st->display = NULL;
}

static bool state_matches(const ServiceState *st, const CgroupUnit *u)
{
        return st->path && st->cgroup_id == u->cgroup_id && strcmp(st->path, u->path) == 0;
}

static int state_new(Services *s, const CgroupUnit *u, ServiceState *ret)
{
        *ret = (ServiceState){.cgroup_id = u->cgroup_id};
        ret->path = strdup(u->path);
        ret->display = strdup(u->unit.display);
        if (!ret->path || !ret->display) {
                free(ret->path);
                free(ret->display);
                return -ENOMEM;
        }
        ret->user_manager = u->unit.uid < 0 && startswith(u->unit.name, "user@");
        /* When the history cannot be written (a full disk), the unit has no id yet: it is asked
         * again every tick, and until then its figures are stored as unattributed. */
        int r = store_unit_ensure(s->store, u->unit.display, false, &ret->unit_id);
        if (r < 0)
                ret->unit_id = -1;
        if (s->pe && !ret->user_manager) {
                r = perf_events_add_cgroup(s->pe, u->path, &ret->target);
                if (r < 0) {
                        ret->target = NULL;
                        log_fields(LOG_NOTICE,
                                   (LogField[]){{"JOULES_UNIT", u->unit.display},
                                                {"MESSAGE_ID", "5b1f7f0e0d6a4b55a1c7e0d7c0a2f003"},
                                                {NULL, NULL}},
                                   "perf counters for %s: %s; weighting it by CPU time",
                                   u->unit.display, perf_events_reason(s->pe));
                }
        }
        return 0;
}

/* Keeps one state per unit, in the order of the cgroup set's list (stable between rescans, so the
 * common case is a match at the same index). */
static int services_match(Services *s, const CgroupUnit *units, size_t n)
{
        /* The unit list changes only when the tree is walked again: until then every state is
         * still at its unit's index, and matching them again (a strcmp and a copy per unit,
         * every tick) would find the same. */
        if (s->cg && s->matched && s->matched_scan == cgroup_set_scans(s->cg) && n == s->n_states)
                return 0;
        int r = services_reserve_units(s, n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                ServiceState *found = NULL;
                if (i < s->n_states && state_matches(&s->states[i], &units[i]))
                        found = &s->states[i];
                for (size_t j = 0; !found && j < s->n_states; j++)
                        if (state_matches(&s->states[j], &units[i]))
                                found = &s->states[j];
                if (found) {
                        s->next_states[i] = *found;
                        found->path = found->display = NULL;
                        found->target = NULL;
                        continue;
                }
                r = state_new(s, &units[i], &s->next_states[i]);
                if (r < 0) {
                        for (size_t k = 0; k < i; k++)
                                state_clear(s, &s->next_states[k]);
                        return r;
                }
        }
        for (size_t j = 0; j < s->n_states; j++)
                state_clear(s, &s->states[j]); /* units that are gone */
        ServiceState *tmp = s->states;
        s->states = s->next_states;
        s->next_states = tmp;
        s->n_states = n;
        s->matched = s->cg != NULL;
        if (s->cg)
                s->matched_scan = cgroup_set_scans(s->cg);
        return 0;
}

/* Reads the counters of the units whose cgroup ran in this tick. A cgroup counter only moves while
 * the cgroup's tasks run, so a unit with no CPU time in the tick (an idle one, or one left unread,
 * see "Lazy reading" in cgroup.h) has a delta of 0 without a read; whatever it did count comes
 * with its next read. */
static void services_read_counters(Services *s, const CgroupUnit *units)
{
        uint64_t counts[PERF_EVENTS_MAX];
        for (size_t i = 0; i < s->n_states; i++) {
                ServiceState *st = &s->states[i];
                st->counted = false;
                if (!st->target)
                        continue;
                if (st->have_prev && units[i].delta_ns == 0 && !units[i].fresh) {
                        memset(st->delta, 0, sizeof(st->delta[0]) * s->n_events);
                        st->counted = true;
                        continue;
                }
                if (perf_events_read(s->pe, st->target, counts, s->n_events) < 0) {
                        st->have_prev = false;
                        continue;
                }
                if (!st->have_prev)
                        memcpy(st->prev, counts, sizeof(counts[0]) * s->n_events);
                /* from the highest count read so far: a multiplexed one can step back */
                for (size_t e = 0; e < s->n_events; e++)
                        st->delta[e] = perf_events_advance(&st->prev[e], counts[e]);
                st->counted = st->have_prev;
                st->have_prev = true;
        }
}

/* How often the online CPUs are looked at (perf_events_update_cpus(): a sysfs read and a syscall
 * per CPU), unless a read found a group broken by a CPU going offline: a CPU that comes back is
 * counted for the units again within this time. */
#define SERVICES_CPUS_CHECK_US (10 * USEC_PER_SEC)

static void services_check_cpus(Services *s, uint64_t dt_us)
{
        s->cpus_checked_us += dt_us;
        if (s->cpus_checked_us < SERVICES_CPUS_CHECK_US && !perf_events_cpus_changed(s->pe))
                return;
        s->cpus_checked_us = 0;
        int r = perf_events_update_cpus(s->pe);
        if (r < 0 && !s->cpus_warned)
                log_notice("perf counters: following the online CPUs: %s; tried again every %u s",
                           perf_events_reason(s->pe),
                           (unsigned)(SERVICES_CPUS_CHECK_US / USEC_PER_SEC));
        else if (r > 0)
                log_info("perf counters: the online CPUs changed; %d counter groups opened or "
                         "closed",
                         r);
        s->cpus_warned = r < 0;
}

/* Counters that open for no unit at all are no weight: say so in the run, not only per tick. */
static void services_counters_check(Services *s)
{
        bool any_target = false, any_candidate = false;
        for (size_t i = 0; i < s->n_states; i++) {
                any_target |= s->states[i].target != NULL;
                any_candidate |= !s->states[i].user_manager;
        }
        if (any_target || !any_candidate)
                return;
        snprintf(s->reason, sizeof(s->reason), "%s could not be counted for any service: %s",
                 s->weight, perf_events_reason(s->pe));
        snprintf(s->weight, sizeof(s->weight), "cpu-time");
        s->pev = proc_events_free(s->pev);
        s->pe = perf_events_free(s->pe);
        log_warning("splitting energy by CPU time: %s", s->reason);
        if (store_run_set_weight(s->store, s->weight, s->reason) < 0)
                log_debug("storing the attribution weight: %s", store_last_error(s->store));
}

/* See "Weights" in services.h. Returns true when counts were used. */
static bool services_weights(Services *s, const CgroupUnit *units, size_t n, const CgroupPseudo *ps)
{
        unsigned __int128 sum_counts = 0, sum_ns = 0;
        for (size_t i = 0; s->pe && i < n; i++)
                if (s->states[i].counted) {
                        sum_counts += s->states[i].delta[0];
                        sum_ns += units[i].self_ns;
                }
        bool counts = sum_ns > 0 && sum_counts > 0;
        double ratio = counts ? (double)sum_counts / (double)sum_ns : 1.0;
        for (size_t i = 0; i < n; i++) {
                if (counts && s->states[i].counted)
                        s->weights[i] = s->states[i].delta[0];
                else if (counts)
                        s->weights[i] = (uint64_t)llround((double)units[i].self_ns * ratio);
                else
                        s->weights[i] = units[i].self_ns;
        }
        s->weights[n + PSEUDO_KERNEL] =
                counts ? (uint64_t)llround((double)ps->kernel_ns * ratio) : ps->kernel_ns;
        s->weights[n + PSEUDO_UNATTRIBUTED] =
                counts ? (uint64_t)llround((double)ps->unattributed_ns * ratio)
                       : ps->unattributed_ns;
        return counts;
}

static double services_pick_idle(Services *s)
{
        if (!s->idle_learn)
                return s->idle_w_config;
        if (s->source_idle_w > 0)
                return s->source_idle_w;
        return attr_idle_watts(s->learner);
}

/* Splits a service's energy over its processes and keeps the top N rows. */
/* Splits a unit's energy (index k in the weight arrays) over processes ps and appends the top N
 * rows. */
static int services_processes(Services *s, size_t k_unit, int64_t unit_id, uint64_t unit_cpu_ns,
                              const ProcSample *ps, size_t np, size_t *n_rows)
{
        int r;
        if (np == 0)
                return 0;
        if (np > s->cap_proc_scratch) {
                size_t c = np * 2;
                if (resize((void **)&s->proc_w, c, sizeof(uint64_t)) < 0 ||
                    resize((void **)&s->proc_a, c, sizeof(uint64_t)) < 0 ||
                    resize((void **)&s->proc_i, c, sizeof(uint64_t)) < 0 ||
                    resize((void **)&s->proc_taken, c, sizeof(bool)) < 0)
                        return -ENOMEM;
                s->cap_proc_scratch = c;
        }
        for (size_t k = 0; k < np; k++) {
                s->proc_w[k] = ps[k].delta_ns;
                s->proc_taken[k] = false;
        }
        AttrProcSplit split = {.active_uj = s->proc_a, .idle_uj = s->proc_i};
        attr_split_processes(s->active[k_unit], s->idle[k_unit], unit_cpu_ns, s->proc_w, np,
                             &split);

        size_t want = s->top_processes < np ? s->top_processes : np;
        r = services_reserve((void **)&s->proc_rows, &s->cap_procs, *n_rows + want,
                             sizeof(StoreProcValue));
        if (r < 0)
                return r;
        for (size_t t = 0; t < want; t++) {
                size_t best = SIZE_MAX;
                for (size_t k = 0; k < np; k++) {
                        if (s->proc_taken[k])
                                continue;
                        if (best == SIZE_MAX ||
                            s->proc_a[k] + s->proc_i[k] > s->proc_a[best] + s->proc_i[best])
                                best = k;
                }
                if (best == SIZE_MAX || s->proc_a[best] + s->proc_i[best] + ps[best].delta_ns == 0)
                        break;
                s->proc_taken[best] = true;
                if (s->pev) {
                        int pr =
                                proc_events_busy(s->pev, unit_id, ps[best].pid, ps[best].starttime);
                        if (pr < 0 && pr != -ESRCH && pr != -EAGAIN && !s->pev_warned) {
                                log_notice("perf counters per process: %d (%s): %s; such "
                                           "processes are left uncounted",
                                           (int)ps[best].pid, ps[best].comm, /* the log escapes */
                                           perf_events_reason(s->pe));
                                s->pev_warned = true;
                        }
                }
                s->proc_rows[(*n_rows)++] = (StoreProcValue){
                        .unit_id = unit_id,
                        .pid = ps[best].pid,
                        .start_time = ps[best].starttime,
                        .comm = ps[best].comm,
                        .active_uj = s->proc_a[best],
                        .idle_uj = s->proc_i[best],
                        .cpu_ns = ps[best].delta_ns,
                };
        }
        return 0;
}

int services_tick(Services *s, bool baseline, bool host_valid, uint64_t host_uj, uint64_t dt_us,
                  ServicesTick *ret)
{
        const CgroupUnit *units = NULL;
        size_t n = 0;
        CgroupPseudo ps = {0};
        int r;

        *ret = (ServicesTick){0};
        /* The store packs the processes of the ticks it commits unless their perf events are
         * counted (store_set_pack_procs says why); counting starts and stops with a reload or a
         * fallback, so this is said every tick. */
        if (s->store)
                store_set_pack_procs(s->store, !s->pev);
        if (s->cg) {
                r = cgroup_set_sample(s->cg);
                if (r >= 0)
                        units = cgroup_set_units(s->cg, &n);
        } else {
                /* No cgroup tree at all: the host's CPU time is all unattributed. */
                ps.unattributed_ns = 1;
                r = 0;
        }
        int m = services_match(s, units, n);
        if (m < 0)
                return m;
        /* The counters right after the cgroups' CPU time, so the two clocks are read as close
         * together as they can be. */
        if (s->pe)
                services_counters_check(s);
        if (s->pe)
                services_check_cpus(s, dt_us);
        if (s->pe)
                services_read_counters(s, units);
        /* The processes' counters right after, for the same reason. */
        const ProcEventsRow *pev_rows = NULL;
        size_t n_pev_rows = 0;
        if (s->pev && proc_events_read(s->pev, &pev_rows, &n_pev_rows) < 0)
                n_pev_rows = 0;
        if (s->cg && r >= 0)
                r = cgroup_set_sample_pseudo(s->cg, &ps);
        if (r < 0) {
                if (!s->cgroup_failing)
                        log_warning("reading the cgroup tree %s: %s; this tick's energy stays with "
                                    "the host",
                                    cgroup_set_root(s->cg), strerror(-r));
                s->cgroup_failing = true;
                ps = (CgroupPseudo){0};
        } else if (s->cg) {
                s->cgroup_failing = false;
        }
        if (baseline)
                return 0;

        bool counts = services_weights(s, units, n, &ps);
        if (s->pe && !counts && n > 0)
                log_debug("no unit was counted with %s this tick; weighting by CPU time",
                          s->weight);
        s->idle_w = services_pick_idle(s);
        size_t nw = n + 2; /* the units, kernel, unattributed */
        uint64_t unallocated = 0;
        if (host_valid) {
                AttrInput in = {.energy_uj = host_uj,
                                .dt_us = dt_us,
                                .idle_w = s->idle_w,
                                .weights = s->weights,
                                .n_units = nw};
                AttrResult out = {.active_uj = s->active, .idle_uj = s->idle};
                r = attr_split(&in, &out);
                if (r < 0)
                        return r;
                if (!attr_result_conserves(&out, nw, host_uj) && !s->warned_conservation) {
                        log_error("attribution does not add up to the measured energy; this is "
                                  "a bug, please report it");
                        s->warned_conservation = true;
                }
                unallocated = out.unallocated_idle_uj;
                if (s->learner)
                        (void)attr_idle_push(s->learner, host_uj, dt_us);
        } else {
                memset(s->active, 0, nw * sizeof(uint64_t));
                memset(s->idle, 0, nw * sizeof(uint64_t));
        }

        size_t nu = 0, nc = 0, np = 0;
        uint64_t no_id[3] = {0, 0, 0}; /* active, idle, cpu of units without an id yet */
        for (size_t i = 0; i < n; i++) {
                if (s->active[i] + s->idle[i] + units[i].self_ns == 0)
                        continue; /* nothing to say about an idle unit */
                if (s->states[i].unit_id < 0 &&
                    store_unit_ensure(s->store, s->states[i].display, false,
                                      &s->states[i].unit_id) < 0) {
                        s->states[i].unit_id = -1;
                        no_id[0] += s->active[i];
                        no_id[1] += s->idle[i];
                        no_id[2] += units[i].self_ns;
                        continue;
                }
                s->unit_names[nu] = s->states[i].display;
                s->unit_rows[nu++] = (StoreUnitValue){s->states[i].unit_id, s->active[i],
                                                      s->idle[i], units[i].self_ns};
                if (s->active[i] + s->idle[i] > 0) {
                        ret->n_active++;
                        const ProcSample *ps_unit;
                        size_t n_ps;
                        if (s->top_processes > 0 &&
                            (cgroup_set_unit_processes(s->cg, i, &ps_unit, &n_ps) < 0 ||
                             services_processes(s, i, s->states[i].unit_id, units[i].self_ns,
                                                ps_unit, n_ps, &np) < 0))
                                log_debug("processes of %s: cannot read them",
                                          units[i].unit.display);
                }
                if (s->states[i].counted) {
                        r = services_reserve((void **)&s->counter_rows, &s->cap_counters,
                                             nc + s->n_events, sizeof(StoreCounterValue));
                        if (r < 0)
                                return r;
                        for (size_t e = 0; e < s->n_events; e++)
                                s->counter_rows[nc++] =
                                        (StoreCounterValue){s->states[i].unit_id, s->event_ids[e],
                                                            s->states[i].delta[e]};
                }
        }
        const uint64_t pseudo_cpu[2] = {ps.kernel_ns, (s->cg ? ps.unattributed_ns : 0) + no_id[2]};
        s->active[n + PSEUDO_UNATTRIBUTED] += no_id[0];
        s->idle[n + PSEUDO_UNATTRIBUTED] += no_id[1];
        for (size_t k = 0; k < 2; k++) {
                if (s->active[n + k] + s->idle[n + k] + pseudo_cpu[k] == 0)
                        continue;
                s->unit_names[nu] = pseudo_names[k];
                s->unit_rows[nu++] = (StoreUnitValue){s->pseudo_ids[k], s->active[n + k],
                                                      s->idle[n + k], pseudo_cpu[k]};
        }
        /* What `unattributed` is made of: the user processes in the root cgroup. */
        size_t n_root = 0;
        const ProcSample *root =
                s->cg && s->top_processes > 0 ? cgroup_set_root_processes(s->cg, &n_root) : NULL;
        if (root && s->active[n + PSEUDO_UNATTRIBUTED] + s->idle[n + PSEUDO_UNATTRIBUTED] > 0 &&
            services_processes(s, n + PSEUDO_UNATTRIBUTED, s->pseudo_ids[PSEUDO_UNATTRIBUTED],
                               ps.unattributed_ns, root, n_root, &np) < 0)
                log_debug("processes outside any unit: cannot split");
        if (unallocated > 0) {
                s->unit_names[nu] = pseudo_names[PSEUDO_IDLE];
                s->unit_rows[nu++] =
                        (StoreUnitValue){s->pseudo_ids[PSEUDO_IDLE], 0, unallocated, 0};
        }

        ret->units = s->unit_rows;
        ret->unit_names = s->unit_names;
        ret->n_units = nu;
        ret->counters = s->counter_rows;
        ret->n_counters = nc;
        ret->procs = s->proc_rows;
        ret->n_procs = np;
        size_t npc = 0;
        for (size_t k = 0; k < n_pev_rows; k++) {
                r = services_reserve((void **)&s->proc_counter_rows, &s->cap_proc_counters,
                                     npc + s->n_events, sizeof(StoreProcCounterValue));
                if (r < 0)
                        return r;
                for (size_t e = 0; e < s->n_events; e++)
                        if (pev_rows[k].delta[e] > 0)
                                s->proc_counter_rows[npc++] = (StoreProcCounterValue){
                                        .unit_id = pev_rows[k].unit_id,
                                        .pid = pev_rows[k].pid,
                                        .start_time = pev_rows[k].start_time,
                                        .event_id = s->event_ids[e],
                                        .value = pev_rows[k].delta[e],
                                };
        }
        ret->proc_counters = s->proc_counter_rows;
        ret->n_proc_counters = npc;
        return 0;
}

static int services_open_counters(Services *s, const JoulesConfig *cfg, const JoulesRoots *roots,
                                  char *err, size_t errlen)
{
        const char *list = cfg->events;
        while (*list == ' ')
                list++;
        if (!*list || strcmp(list, "none") == 0) {
                snprintf(s->weight, sizeof(s->weight), "cpu-time");
                snprintf(s->reason, sizeof(s->reason), "no perf events configured");
                return 0;
        }
        char reason[PERF_EVENTS_REASON_MAX] = "";
        /* The counters count on this host's CPUs: their list comes from the real /sys even when
         * the energy files are read from another root. */
        s->perf_roots = *roots;
        s->perf_roots.sysfs = "/sys";
        int r = perf_events_new(list, &s->perf_roots, &s->pe, reason, sizeof(reason));
        /* EOPNOTSUPP: libpfm4 is missing or will not initialise here, the host's lack as much
         * as a PMU's absence; a name it cannot encode is the config's fault */
        if (r < 0 && r != -EOPNOTSUPP) {
                snprintf(err, errlen, "attribution.events: %s", reason);
                return -EINVAL;
        }
        if (r >= 0) {
                r = perf_events_probe(s->pe);
                if (r < 0)
                        snprintf(reason, sizeof(reason), "%s", perf_events_reason(s->pe));
        }
        if (r < 0) {
                snprintf(s->weight, sizeof(s->weight), "cpu-time");
                snprintf(s->reason, sizeof(s->reason), "%s", reason);
                s->pe = perf_events_free(s->pe);
                log_fields(LOG_NOTICE,
                           (LogField[]){{"MESSAGE_ID", "5b1f7f0e0d6a4b55a1c7e0d7c0a2f002"},
                                        {"JOULES_WEIGHT", "cpu-time"},
                                        {NULL, NULL}},
                           "perf counters unavailable, splitting energy by CPU time: %s",
                           s->reason);
                return 0;
        }
        s->n_events = perf_events_n(s->pe);
        for (size_t e = 0; e < s->n_events; e++) {
                r = store_event_ensure(s->store, perf_events_name(s->pe, e), &s->event_ids[e]);
                if (r < 0) {
                        snprintf(err, errlen, "storing event names: %s",
                                 store_last_error(s->store));
                        return r;
                }
        }
        snprintf(s->weight, sizeof(s->weight), "%s", perf_events_name(s->pe, 0));
        s->reason[0] = '\0';
        log_info("splitting energy by %s counted per service", s->weight);
        if (cfg->process_events_idle > 0) { /* top_processes may grow on a reload */
                r = proc_events_new(s->pe, cfg->process_events_idle, &s->pev);
                if (r < 0)
                        return r;
                log_info("counting the events of the stored processes too (closed after %u idle "
                         "ticks)",
                         cfg->process_events_idle);
        }
        return 0;
}

int services_new(const JoulesConfig *cfg, const JoulesRoots *roots, Store *store,
                 double source_idle_w, Services **ret, char *err, size_t errlen)
{
        Services *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->idle_learn = cfg->idle_learn;
        s->idle_w_config = cfg->idle_w;
        s->source_idle_w = source_idle_w;
        s->top_processes = cfg->top_processes;
        s->store = store;
        int r;

        if (s->idle_learn && source_idle_w <= 0) {
                s->learner = malloc(sizeof(*s->learner));
                if (!s->learner) {
                        r = -ENOMEM;
                        goto fail;
                }
                attr_idle_init(s->learner, 0, 0, 0);
        }
        for (size_t k = 0; k < _PSEUDO_MAX; k++) {
                r = store_unit_ensure(store, pseudo_names[k], true, &s->pseudo_ids[k]);
                if (r < 0) {
                        snprintf(err, errlen, "storing units: %s", store_last_error(store));
                        goto fail;
                }
        }
        CgroupOptions copts;
        cgroup_options_default(&copts);
        copts.baseline_processes = cfg->top_processes > 0;
        copts.root_tolerance_ns = cfg->interval_us * NSEC_PER_USEC / 50;
        r = cgroup_set_open(roots, &copts, &s->cg);
        if (r < 0) {
                s->cg = NULL;
                log_warning("no cgroup tree found (%s); energy is not split per service",
                            strerror(-r));
        } else {
                log_info("services from the cgroup tree at %s", cgroup_set_root(s->cg));
        }
        r = services_open_counters(s, cfg, roots, err, errlen);
        if (r < 0)
                goto fail;
        r = services_reserve_units(s, 64);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        if (r == -ENOMEM && !err[0])
                snprintf(err, errlen, "out of memory");
        services_free(s);
        return r;
}

Services *services_free(Services *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_states; i++)
                state_clear(s, &s->states[i]);
        proc_events_free(s->pev);
        perf_events_free(s->pe);
        cgroup_set_free(s->cg);
        free(s->learner);
        free(s->states);
        free(s->next_states);
        free(s->weights);
        free(s->active);
        free(s->idle);
        free(s->unit_rows);
        free(s->unit_names);
        free(s->counter_rows);
        free(s->proc_rows);
        free(s->proc_counter_rows);
        free(s->proc_w);
        free(s->proc_a);
        free(s->proc_i);
        free(s->proc_taken);
        free(s);
        return NULL;
}

int services_reconfigure(Services *s, const JoulesConfig *cfg)
{
        /* Learning starts from nothing when it was off: a fixed value never fed the learner. */
        if (cfg->idle_learn && s->source_idle_w <= 0 && !s->learner) {
                s->learner = malloc(sizeof(*s->learner));
                if (!s->learner)
                        return -ENOMEM;
                attr_idle_init(s->learner, 0, 0, 0);
        }
        s->idle_learn = cfg->idle_learn;
        s->idle_w_config = cfg->idle_w;
        s->top_processes = cfg->top_processes;
        return 0;
}

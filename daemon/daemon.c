#include "daemon/daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "collectors/energy-delta.h"
#include "collectors/energy.h"
#include "collectors/power-defaults.h"
#include "common/log.h"
#include "common/text.h"
#include "common/util.h"
#include "daemon/requests.h"
#include "daemon/services.h"
#include "daemon/settings.h"
#include "storage/store.h"

/* MESSAGE_IDs of the events an operator may want to find or alert on (journalctl MESSAGE_ID=...),
 * listed in joulesd(8). 5b1f...f001 (dropped interval) and ...f002 (perf counters unavailable) are
 * sent where those events happen. */
#define MSG_STARTED       "5b1f7f0e0d6a4b55a1c7e0d7c0a2f010" /* first sample: source, domains */
#define MSG_STORE_FAILED  "5b1f7f0e0d6a4b55a1c7e0d7c0a2f011"
#define MSG_STORE_RESUMED "5b1f7f0e0d6a4b55a1c7e0d7c0a2f012"
#define MSG_RELOADED      "5b1f7f0e0d6a4b55a1c7e0d7c0a2f013"
#define MSG_RELOAD_FAILED "5b1f7f0e0d6a4b55a1c7e0d7c0a2f014"
#define MSG_NEEDS_RESTART "5b1f7f0e0d6a4b55a1c7e0d7c0a2f015"
#define MSG_STOPPING      "5b1f7f0e0d6a4b55a1c7e0d7c0a2f016"

/* The parts of a tick --profile times (daemon_profile_print names them). */
enum {
        PROF_ENERGY,   /* the energy source's read and the interval's deltas */
        PROF_SERVICES, /* cgroups and processes read, the energy split */
        PROF_REQUESTS, /* the tick's request counts gathered */
        PROF_STORE,    /* store_tick_append and store_commit */
        PROF_MAINTAIN, /* rollups, packing, retention (about once a minute) */
        PROF_OTHER,    /* the rest of daemon_tick: bands, --show, STATUS= */
        _PROF_MAX,
};

struct Daemon {
        JoulesConfig cfg;
        DaemonOptions opts;
        JoulesRoots roots;
        EnergySource *source;
        EnergyTracker tracker;
        EnergyInterval interval;
        uint64_t *cur_uj;
        bool *cur_valid;
        int64_t *domain_ids;
        StoreDomainValue *domain_values;

        Store *store;
        int64_t run_id;
        Services *services;
        size_t active_services; /* in the last tick */
        Requests *requests;     /* request counts: ingest socket, scrapes, access logs */

        int timer_fd;
        int signal_fd;
        bool ready;
        uint64_t watchdog_us; /* 0: no watchdog */
        uint64_t last_watchdog_ns;
        uint64_t started_ns;

        /* what --show and STATUS= report: energy and time since the last report */
        uint64_t show_uj, show_us;
        uint64_t last_show_ns;
        uint64_t last_commit_ns;
        bool journal_failing;
        double last_power_w;
        bool notify;             /* NOTIFY_SOCKET was set: systemd listens */
        uint64_t last_status_ns; /* STATUS= sent */

        uint64_t store_failures;
        bool store_failing;
        uint64_t store_ok_since_ns; /* while failing: first of the successful commits since */
        uint64_t last_maintain_ns;  /* rollups and retention (store_maintain) */
        bool maintain_behind;

        /* the model's energy so far (µJ: curve, dram), which weights the run's band */
        double band_uj[2];
        uint64_t band_ticks;

        /* --profile: this thread's CPU time per part of the stored ticks (ns) */
        uint64_t prof_ns[_PROF_MAX];
        uint64_t prof_ticks;
        bool prof_steady; /* the first PROF_SKIP_TICKS are behind */
};

/* STATUS= for systemctl status: the host's power over the last second of measured time, sent
 * when the first second is measured and every STATUS_EVERY_NS after: each one is a datagram PID 1
 * reads and turns into a unit property change, a cost the host would pay every second for a line
 * a person reads now and then. Nothing is formatted when no service manager listens. */
#define STATUS_EVERY_NS (10 * NSEC_PER_SEC)
static void daemon_status(Daemon *d, uint64_t now_ns)
{
        if (!d->ready || !d->notify ||
            (d->last_status_ns && now_ns - d->last_status_ns < STATUS_EVERY_NS))
                return;
        d->last_status_ns = now_ns;
        (void)sd_notifyf(false, "STATUS=host %.2f W%s, %zu active service(s), source %s",
                         d->last_power_w, d->source->ops->estimated ? " (estimated)" : "",
                         d->active_services, d->source->ops->name);
}

/* The three units that drew the most in the tick, as "name 1.23 W, ...". */
static void daemon_top_units(const ServicesTick *st, uint64_t dt_us, char *buf, size_t size)
{
        size_t best[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX}, len = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < st->n_units; i++) {
                uint64_t e = st->units[i].active_uj + st->units[i].idle_uj;
                for (size_t k = 0; k < 3; k++) {
                        if (best[k] == SIZE_MAX ||
                            e > st->units[best[k]].active_uj + st->units[best[k]].idle_uj) {
                                memmove(&best[k + 1], &best[k], (2 - k) * sizeof(best[0]));
                                best[k] = i;
                                break;
                        }
                }
        }
        for (size_t k = 0; k < 3 && best[k] != SIZE_MAX && dt_us > 0 && len < size; k++) {
                const StoreUnitValue *u = &st->units[best[k]];
                char name[80];
                int n = snprintf(buf + len, size - len, "%s%s %.2f W", k ? ", " : "",
                                 text_abbrev(TEXT_SAFE(st->unit_names[best[k]]), 60, "...", name,
                                             sizeof(name)),
                                 (double)(u->active_uj + u->idle_uj) / (double)dt_us);
                if (n < 0)
                        break;
                len += (size_t)n;
        }
}

static void daemon_show(Daemon *d, uint64_t now_ns, const ServicesTick *st, uint64_t dt_us)
{
        /* Once a second of measured time (a little less, so 1 s ticks are not skipped). */
        if (d->show_us < USEC_PER_SEC * 95 / 100)
                return;
        d->last_power_w = (double)d->show_uj / (double)d->show_us;
        if (d->opts.show) {
                char ts[32], top[256];
                daemon_top_units(st, dt_us, top, sizeof(top));
                printf("%s  host %7.2f W%s  idle %.2f W  top: %s%s\n",
                       format_rfc3339(now_realtime_us(), ts, sizeof(ts)), d->last_power_w,
                       d->source->ops->estimated ? " (estimated)" : "",
                       services_idle_w(d->services), top[0] ? top : "-",
                       d->tracker.dropped ? "  (dropped intervals, see the log)" : "");
                fflush(stdout);
        }
        daemon_status(d, now_ns);
        d->show_uj = d->show_us = 0;
        d->last_show_ns = now_ns;
}

/* The start-up summary: what is measured, how, and where it goes. */
static void daemon_log_started(const Daemon *d)
{
        char n_domains[24], interval[24];
        snprintf(n_domains, sizeof(n_domains), "%zu", d->source->n_domains);
        snprintf(interval, sizeof(interval), "%" PRIu64, d->cfg.interval_us);
        log_fields(LOG_NOTICE,
                   (LogField[]){{"MESSAGE_ID", MSG_STARTED},
                                {"JOULES_SOURCE", d->source->ops->name},
                                {"JOULES_ESTIMATED", d->source->ops->estimated ? "1" : "0"},
                                {"JOULES_DOMAINS", n_domains},
                                {"JOULES_INTERVAL_USEC", interval},
                                {"JOULES_WEIGHT", services_weight(d->services)},
                                {"JOULES_DATABASE", d->cfg.db_path},
                                {NULL, NULL}},
                   "sampling %zu energy domain(s) from %s%s every %.3f s into %s, splitting by %s",
                   d->source->n_domains, d->source->ops->name,
                   d->source->ops->estimated ? " (estimated)" : "",
                   (double)d->cfg.interval_us / 1e6, d->cfg.db_path, services_weight(d->services));
}

/* How long ticks may wait to be committed. With the journal holding each of them, the commit
 * interval: a SQLite transaction each second (its locks and WAL frames, cold after the sleep)
 * was a third of what a tick cost. Without it, ticks of 0.25 s or longer commit each and shorter
 * ones are batched for at most half a second, so a crash loses under a second. */
static uint64_t daemon_commit_every_ns(const Daemon *d)
{
        if (store_journal_ok(d->store))
                return d->cfg.commit_interval_us * NSEC_PER_USEC;
        return d->cfg.interval_us >= USEC_PER_SEC / 4 ? 0 : NSEC_PER_SEC / 2;
}

/* Logs once that the journal cannot be written (ticks then commit as they come) and once that
 * it can again. */
static void daemon_journal_health(Daemon *d)
{
        int e = store_journal_error(d->store);
        if (e == EBADF || (e != 0) == d->journal_failing)
                return;
        d->journal_failing = e != 0;
        if (e)
                log_warning("writing the tick journal %s-ticks: %s; committing every tick until "
                            "it works again",
                            d->cfg.db_path, strerror(e));
        else
                log_notice("the tick journal %s-ticks works again", d->cfg.db_path);
}

/* Opens the tick journal and commits what a run that stopped without committing left in it (a
 * run with a commit interval; the start replays whatever the setting is now). No journal is not
 * fatal: ticks then commit as they come. */
static void daemon_journal_open(Daemon *d)
{
        StoreJournalReplay jr;
        if (store_journal_open(d->store, &jr) < 0) {
                log_warning("no tick journal (%s); committing every tick",
                            store_last_error(d->store));
                return;
        }
        if (jr.problem[0])
                log_error("the tick journal %s-ticks has a bad %s; replayed the %zu tick(s) "
                          "before it and set the file aside as %s",
                          d->cfg.db_path, jr.problem, jr.replayed, jr.aside);
        else if (jr.replayed || jr.stored || jr.foreign)
                log_notice("replayed %zu tick(s) from the tick journal %s-ticks (%zu already "
                           "stored, %zu of a run this history does not hold)%s",
                           jr.replayed, d->cfg.db_path, jr.stored, jr.foreign,
                           jr.torn ? "; its last record was cut short by the crash" : "");
        if (jr.replayed && store_commit(d->store) < 0)
                log_warning("committing the replayed ticks: %s; they stay queued",
                            store_last_error(d->store));
        /* Committing every tick, the journal would only cost its write: it is kept only while
         * it holds ticks not committed yet (committing them failed). */
        StoreBacklog b;
        store_backlog(d->store, &b);
        if (d->cfg.commit_interval_us == 0 && b.ticks == 0)
                store_journal_close(d->store);
}

/* Logs a failing history once, and its recovery once writes have worked for a second: a disk
 * that is nearly full lets some commits through and not others, which must not flood the log.
 * The ticks themselves wait in the store's backlog and are written when it works again. */
static void daemon_store_health(Daemon *d, int r, uint64_t now_ns, bool final)
{
        if (r < 0) {
                d->store_failures++;
                d->store_ok_since_ns = 0;
                if (!d->store_failing)
                        log_fields(LOG_ERR,
                                   (LogField[]){{"MESSAGE_ID", MSG_STORE_FAILED},
                                                {"JOULES_DATABASE", d->cfg.db_path},
                                                {NULL, NULL}},
                                   "writing %s: %s; keeping the samples in memory until it works "
                                   "again",
                                   d->cfg.db_path, store_last_error(d->store));
                d->store_failing = true;
                return;
        }
        if (!d->store_failing)
                return;
        if (d->store_ok_since_ns == 0)
                d->store_ok_since_ns = now_ns;
        if (now_ns - d->store_ok_since_ns < NSEC_PER_SEC && !final)
                return;
        StoreBacklog b;
        store_backlog(d->store, &b);
        log_fields(LOG_NOTICE,
                   (LogField[]){{"MESSAGE_ID", MSG_STORE_RESUMED},
                                {"JOULES_DATABASE", d->cfg.db_path},
                                {NULL, NULL}},
                   "writing %s works again after %llu failed attempt(s); %llu tick(s) lost to a "
                   "full backlog",
                   d->cfg.db_path, (unsigned long long)d->store_failures,
                   (unsigned long long)b.dropped);
        d->store_failing = false;
        d->store_failures = 0;
        d->store_ok_since_ns = 0;
}

/* The model's run band: the bands of the curve and of the dram estimate weighted by their energy
 * so far, written to the run on the first tick, about once a minute after and at the end. */
static void daemon_band(Daemon *d, bool final)
{
        const EnergyModelInfo *m = d->source->model;
        if (!m)
                return;
        if (!final) {
                for (size_t i = 0; i < d->source->n_domains; i++) {
                        const StoreDomainValue *v = &d->domain_values[i];
                        if (!v->valid)
                                continue;
                        if (d->source->domains[i].kind == ENERGY_DOMAIN_DRAM)
                                d->band_uj[1] += (double)v->energy_uj;
                        else
                                d->band_uj[0] += (double)v->energy_uj;
                }
                if (d->band_ticks++ % 60 != 0)
                        return;
        }
        const double bands[2] = {m->band_pct, m->dram_band_pct};
        double b = power_band_combine(d->band_uj, bands, m->dram_w > 0 ? 2 : 1);
        if (!isnan(b) && store_run_set_band(d->store, b) < 0)
                log_debug("storage: the run's band: %s", store_last_error(d->store));
}

#define PROF_SKIP_TICKS 30

/* --profile: the time since *last on this thread's clock added to part k; *last moves on. */
static void daemon_profile(Daemon *d, size_t k, uint64_t *last)
{
        if (!d->opts.profile)
                return;
        uint64_t now = now_thread_cpu_ns();
        d->prof_ns[k] += now - *last;
        *last = now;
}

static void daemon_tick(Daemon *d)
{
        uint64_t prof = d->opts.profile ? now_thread_cpu_ns() : 0;
        uint64_t mono_ns = now_monotonic_ns();
        int64_t wall_us = now_realtime_us();
        d->source->tick_ns = mono_ns;
        int r = d->source->ops->read(d->source, d->cur_uj, d->cur_valid);
        if (r < 0) {
                for (size_t i = 0; i < d->source->n_domains; i++)
                        d->cur_valid[i] = false;
                log_debug("reading energy: %s", strerror(-r));
        }
        r = energy_tracker_step(&d->tracker, d->source->domains, d->cur_uj, d->cur_valid,
                                mono_ns / NSEC_PER_USEC, &d->interval);
        if (!d->ready) {
                bool any = false;
                for (size_t i = 0; i < d->source->n_domains; i++)
                        any |= d->cur_valid[i];
                if (any) {
                        d->ready = true;
                        (void)sd_notify(false, "READY=1\nSTATUS=first sample taken, measuring");
                        daemon_log_started(d);
                }
        }
        daemon_profile(d, PROF_ENERGY, &prof);
        ServicesTick st;
        int rs = services_tick(d->services, r == 0, d->interval.host_valid, d->interval.host_uj,
                               d->interval.dt_us, &st);
        if (rs < 0) {
                log_debug("attributing the tick: %s", strerror(-rs));
                st = (ServicesTick){0};
        }
        daemon_profile(d, PROF_SERVICES, &prof);
        if (r == 0)
                return; /* baseline */
        d->active_services = st.n_active;

        const EnergyInterval *iv = &d->interval;
        for (size_t i = 0; i < d->source->n_domains; i++) {
                const EnergyDomain *dom = &d->source->domains[i];
                StoreDomainValue *v = &d->domain_values[i];
                v->valid = energy_delta_valid(iv->status[i]);
                v->energy_uj = iv->delta_uj[i];
                v->drop_reason = NULL;
                if (!v->valid && iv->status[i] != ENERGY_DELTA_UNREADABLE)
                        v->drop_reason = energy_delta_status_to_string(iv->status[i]);
                else if (!v->valid && !d->cur_valid[i])
                        v->drop_reason = "unreadable";
                if (v->drop_reason)
                        log_fields(LOG_WARNING,
                                   (LogField[]){{"JOULES_DOMAIN", dom->name},
                                                {"JOULES_ZONE", dom->zone},
                                                {"MESSAGE_ID", "5b1f7f0e0d6a4b55a1c7e0d7c0a2f001"},
                                                {NULL, NULL}},
                                   "dropped interval of %s (%s): %s", dom->name, dom->zone,
                                   v->drop_reason);
        }
        StoreTick t = {
                .ts_us = wall_us,
                .dt_us = iv->dt_us,
                .host_valid = iv->host_valid,
                .host_uj = iv->host_uj,
                .estimated = d->source->ops->estimated,
                .has_util = d->source->model != NULL,
                .util_pct = d->source->util_pct,
                .domains = d->domain_values,
                .n_domains = d->source->n_domains,
                .units = st.units,
                .n_units = st.n_units,
                .procs = st.procs,
                .n_procs = st.n_procs,
                .counters = st.counters,
                .n_counters = st.n_counters,
                .proc_counters = st.proc_counters,
                .n_proc_counters = st.n_proc_counters,
        };
        daemon_profile(d, PROF_OTHER, &prof);
        RequestsTick rq = {0};
        if (requests_tick(d->requests, &rq) < 0)
                log_debug("requests: %s", store_last_error(d->store));
        daemon_profile(d, PROF_REQUESTS, &prof);
        t.requests = rq.values;
        t.n_requests = rq.n_values;
        t.ingest = rq.ingest;
        daemon_band(d, false);
        daemon_profile(d, PROF_OTHER, &prof);
        if (mono_ns - d->last_commit_ns >= daemon_commit_every_ns(d)) {
                r = store_tick_commit(d->store, &t);
                d->last_commit_ns = mono_ns;
        } else {
                r = store_tick_append(d->store, &t);
        }
        daemon_journal_health(d);
        daemon_profile(d, PROF_STORE, &prof);
        daemon_store_health(d, r, mono_ns, false);
        /* Rollups and retention about once a minute (at start-up too), each tick while behind. */
        if (r >= 0 && (d->maintain_behind || d->last_maintain_ns == 0 ||
                       mono_ns - d->last_maintain_ns >= 60 * NSEC_PER_SEC)) {
                StoreRetention keep = {d->cfg.raw_retention_us, d->cfg.minute_retention_us,
                                       d->cfg.hour_retention_us};
                int m = store_maintain(d->store, wall_us, &keep);
                if (m < 0)
                        log_debug("storage: rollups: %s", store_last_error(d->store));
                d->maintain_behind = m == 1;
                d->last_maintain_ns = mono_ns;
        }
        daemon_profile(d, PROF_MAINTAIN, &prof);
        if (iv->host_valid) {
                d->show_uj += iv->host_uj;
                d->show_us += iv->dt_us;
        }
        daemon_show(d, mono_ns, &st, iv->dt_us);
        if (d->opts.profile) {
                daemon_profile(d, PROF_OTHER, &prof);
                /* start-up's ticks (the first reads of everything) are not the steady state */
                if (++d->prof_ticks == PROF_SKIP_TICKS && !d->prof_steady) {
                        memset(d->prof_ns, 0, sizeof(d->prof_ns));
                        d->prof_ticks = 0;
                        d->prof_steady = true;
                        store_profile_enable(d->store);
                }
        }
}

/* --profile's report, on stderr at exit: CPU per stored tick of each part, and of store_commit's
 * own parts, over the ticks after the first PROF_SKIP_TICKS. The clock reads are system calls
 * (about a dozen a tick), counted in the parts. */
static void daemon_profile_print(const Daemon *d)
{
        static const char *const names[_PROF_MAX] = {"energy", "services", "requests",
                                                     "store",  "maintain", "other"};
        if (!d->opts.profile || d->prof_ticks == 0)
                return;
        double n = (double)d->prof_ticks, sum = 0;
        fprintf(stderr, "joulesd: profile: %" PRIu64 " ticks, CPU us per tick:", d->prof_ticks);
        for (size_t k = 0; k < _PROF_MAX; k++) {
                fprintf(stderr, " %s %.1f", names[k], (double)d->prof_ns[k] / 1e3 / n);
                sum += (double)d->prof_ns[k];
        }
        fprintf(stderr, " total %.1f\n", sum / 1e3 / n);
        StoreCommitProfile p;
        store_commit_profile(d->store, &p);
        if (p.commits)
                fprintf(stderr,
                        "joulesd: profile: %" PRIu64 " commits, CPU us per commit: begin %.1f "
                        "rows %.1f totals %.1f commit %.1f\n",
                        p.commits, (double)p.begin_ns / 1e3 / (double)p.commits,
                        (double)p.rows_ns / 1e3 / (double)p.commits,
                        (double)p.totals_ns / 1e3 / (double)p.commits,
                        (double)p.commit_ns / 1e3 / (double)p.commits);
}

static int daemon_arm_timer(Daemon *d)
{
        struct itimerspec its = {
                .it_interval = {.tv_sec = (time_t)(d->cfg.interval_us / USEC_PER_SEC),
                                .tv_nsec = (long)(d->cfg.interval_us % USEC_PER_SEC) * 1000},
        };
        its.it_value = its.it_interval;
        if (timerfd_settime(d->timer_fd, 0, &its, NULL) < 0)
                return -errno;
        return 0;
}

static int daemon_register_domains(Daemon *d)
{
        for (size_t i = 0; i < d->source->n_domains; i++) {
                const EnergyDomain *dom = &d->source->domains[i];
                StoreDomain sd = {
                        .name = dom->name,
                        .zone = dom->zone,
                        .source = d->source->ops->name,
                        .kind = energy_domain_kind_to_string(dom->kind),
                        .estimated = d->source->ops->estimated,
                        .in_host = dom->in_host,
                };
                int r = store_domain_ensure(d->store, &sd, &d->domain_ids[i]);
                if (r < 0)
                        return r;
                d->domain_values[i].domain_id = d->domain_ids[i];
        }
        return 0;
}

int daemon_new(const JoulesConfig *cfg, const DaemonOptions *opts, Daemon **ret, char *err,
               size_t errlen)
{
        Daemon *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->cfg = *cfg;
        d->opts = *opts;
        d->timer_fd = d->signal_fd = -1;
        d->roots = (JoulesRoots){
                .sysfs = d->cfg.sysfs_root,
                .procfs = d->cfg.procfs_root,
                .cgroupfs = d->cfg.cgroup_root[0] ? d->cfg.cgroup_root : NULL,
        };
        int r;
        char why[1024];

        r = energy_source_open(cfg->energy_source, &d->roots, &cfg->energy, &d->source, why,
                               sizeof(why));
        if (r < 0) {
                snprintf(err, errlen, "no usable energy source (%s): %s", cfg->energy_source, why);
                goto fail;
        }
        size_t n = d->source->n_domains;
        d->cur_uj = calloc(n ? n : 1, sizeof(*d->cur_uj));
        d->cur_valid = calloc(n ? n : 1, sizeof(*d->cur_valid));
        d->domain_ids = calloc(n ? n : 1, sizeof(*d->domain_ids));
        d->domain_values = calloc(n ? n : 1, sizeof(*d->domain_values));
        if (!d->cur_uj || !d->cur_valid || !d->domain_ids || !d->domain_values) {
                r = -ENOMEM;
                snprintf(err, errlen, "out of memory");
                goto fail;
        }
        r = energy_tracker_init(&d->tracker, n, cfg->max_domain_power_w);
        if (r >= 0)
                r = energy_interval_init(&d->interval, n);
        if (r < 0) {
                snprintf(err, errlen, "out of memory");
                goto fail;
        }

        r = store_open(cfg->db_path, STORE_READ_WRITE, &d->store, why, sizeof(why));
        if (r == -EBADMSG) {
                /* A corrupt history is never deleted: it is moved aside for recovery and a new
                 * one begins, and both paths are logged. */
                char aside[PATH_MAX + 64];
                int m = store_move_aside(cfg->db_path, aside, sizeof(aside));
                if (m < 0) {
                        snprintf(err, errlen, "%s is corrupt (%s) and could not be moved aside: %s",
                                 cfg->db_path, why, strerror(-m));
                        goto fail;
                }
                log_fields(LOG_ERR,
                           (LogField[]){{"JOULES_DATABASE", cfg->db_path},
                                        {"JOULES_DATABASE_ASIDE", aside},
                                        {NULL, NULL}},
                           "%s is corrupt (%s); moved it to %s and started a new history",
                           cfg->db_path, why, aside);
                r = store_open(cfg->db_path, STORE_READ_WRITE, &d->store, why, sizeof(why));
        }
        if (r < 0) {
                snprintf(err, errlen, "cannot open the history %s: %s", cfg->db_path, why);
                goto fail;
        }
        char hostname[256] = "";
        (void)gethostname(hostname, sizeof(hostname) - 1);
        StoreRun run = {
                .started_us = now_realtime_us(),
                .source = d->source->ops->name,
                .estimated = d->source->ops->estimated,
                .interval_us = cfg->interval_us,
                .hostname = hostname,
        };
        daemon_journal_open(d);
        if (opts->profile)
                store_profile_enable(d->store);
        r = store_run_begin(d->store, &run, &d->run_id);
        if (r >= 0 && d->source->model) {
                const EnergyModelInfo *m = d->source->model;
                char curve[512];
                (void)power_curve_format(&m->curve, ", ", curve, sizeof(curve));
                StoreRunModel sm = {
                        .method = power_method_to_string((PowerMethod)m->method),
                        .source = m->source,
                        .cpu = m->cpu[0] ? m->cpu : NULL,
                        .curve = curve,
                        .band_pct = m->band_pct,
                        .dram_w = m->dram_w > 0 ? m->dram_w : NAN,
                        .dram_source = m->dram_w > 0 ? m->dram_source : NULL,
                        .dram_band_pct = m->dram_w > 0 ? m->dram_band_pct : NAN,
                };
                r = store_run_set_model(d->store, &sm);
                log_fields(LOG_NOTICE,
                           (LogField[]){{"JOULES_MODEL_METHOD", sm.method},
                                        {"JOULES_MODEL_CURVE", curve},
                                        {NULL, NULL}},
                           "model: %s, %s, ±%g %%; curve %s; dram %.2f W",
                           power_method_label((PowerMethod)m->method),
                           m->source, /* log.c makes it safe */
                           m->band_pct, curve, m->dram_w);
        }
        if (r >= 0)
                r = config_store_carbon(cfg, d->store);
        if (r >= 0)
                r = daemon_register_domains(d);
        if (r < 0) {
                snprintf(err, errlen, "writing %s: %s", cfg->db_path, store_last_error(d->store));
                goto fail;
        }
        r = services_new(&d->cfg, &d->roots, d->store, d->source->idle_w, &d->services, why,
                         sizeof(why));
        if (r < 0) {
                snprintf(err, errlen, "%s", why);
                goto fail;
        }
        r = store_run_set_weight(d->store, services_weight(d->services),
                                 services_weight_reason(d->services)[0]
                                         ? services_weight_reason(d->services)
                                         : NULL);
        if (r < 0) {
                snprintf(err, errlen, "writing %s: %s", cfg->db_path, store_last_error(d->store));
                goto fail;
        }

        r = requests_new(&d->cfg, &d->roots, d->store, &d->requests, why, sizeof(why));
        if (r < 0) {
                snprintf(err, errlen, "requests: %s", why);
                goto fail;
        }

        d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (d->timer_fd < 0) {
                r = -errno;
                snprintf(err, errlen, "timerfd_create: %s", strerror(errno));
                goto fail;
        }
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
            (d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
                r = -errno;
                snprintf(err, errlen, "signalfd: %s", strerror(errno));
                goto fail;
        }
        d->notify = getenv("NOTIFY_SOCKET") != NULL;
        uint64_t wd = 0;
        if (sd_watchdog_enabled(false, &wd) > 0)
                d->watchdog_us = wd;
        *ret = d;
        return 0;
fail:
        daemon_free(d);
        return r;
}

/* WATCHDOG=1 at half the interval systemd gave (WatchdogSec=), sent from the sampling loop after
 * a tick: a tick that hangs (a stuck read, a lock) stops the pings and systemd restarts us. */
static void daemon_watchdog(Daemon *d, uint64_t now_ns)
{
        if (d->watchdog_us == 0)
                return;
        if (now_ns - d->last_watchdog_ns >= d->watchdog_us * NSEC_PER_USEC / 2) {
                (void)sd_notify(false, "WATCHDOG=1");
                d->last_watchdog_ns = now_ns;
        }
}

/* poll()'s timeout: until the next ping is due, so a wakeup just before it (a signal) cannot push
 * the ping a whole half-interval later. -1 without a watchdog. */
static int daemon_poll_timeout_ms(const Daemon *d, uint64_t now_ns)
{
        if (d->watchdog_us == 0)
                return -1;
        uint64_t due_ns = d->last_watchdog_ns + d->watchdog_us * NSEC_PER_USEC / 2;
        if (now_ns >= due_ns)
                return 0;
        return (int)((due_ns - now_ns + 999999) / 1000000);
}

/* Applies the live keys of next (already merged into d->cfg by the caller's copy). */
static int daemon_apply_live(Daemon *d, const JoulesConfig *old)
{
        if (d->cfg.log_level != old->log_level)
                log_setup(d->cfg.log_level, NULL);
        d->tracker.max_watts = d->cfg.max_domain_power_w;
        if (memcmp(&d->cfg.carbon, &old->carbon, sizeof(old->carbon)) != 0 &&
            config_store_carbon(&d->cfg, d->store) < 0)
                log_warning("writing the [carbon] settings into %s: %s", d->cfg.db_path,
                            store_last_error(d->store));
        int r = services_reconfigure(d->services, &d->cfg);
        if (r < 0)
                return r;
        if (d->cfg.interval_us != old->interval_us) {
                r = daemon_arm_timer(d);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void daemon_reload(Daemon *d)
{
        const char *path = d->opts.settings.path ? d->opts.settings.path : "(no file)";
        char err[1024];
        JoulesConfig next;

        /* systemd shows the unit as "reloading" until READY=1 comes back. */
        (void)sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading %s",
                         now_monotonic_ns() / NSEC_PER_USEC, path);
        int r = settings_build(&d->opts.settings, &next, err, sizeof(err));
        if (r < 0) {
                log_fields(LOG_ERR,
                           (LogField[]){{"MESSAGE_ID", MSG_RELOAD_FAILED},
                                        {"JOULES_CONFIG", path},
                                        {NULL, NULL}},
                           "reload failed, the running settings stay in effect: %s", err);
                goto done;
        }
        SettingsDiff diff;
        r = settings_diff(&d->cfg, &next, &diff);
        if (r < 0) {
                log_error("reload failed, the running settings stay in effect: %s", strerror(-r));
                goto done;
        }
        /* Keys bound to what start-up opened are named, never silently ignored. */
        char applied[512] = "", restart[512] = "";
        size_t n_applied = 0, n_restart = 0;
        for (size_t i = 0; i < diff.n; i++) {
                const SettingsChange *ch = &diff.changes[i];
                char key[160];
                snprintf(key, sizeof(key), "%s.%s", ch->section, ch->key);
                char *list = ch->live ? applied : restart;
                size_t len = strlen(list);
                snprintf(list + len, sizeof(applied) - len, "%s%s", len ? ", " : "", key);
                if (ch->live) {
                        n_applied++;
                        continue;
                }
                n_restart++;
                log_fields(LOG_NOTICE,
                           (LogField[]){{"MESSAGE_ID", MSG_NEEDS_RESTART},
                                        {"JOULES_CONFIG", path},
                                        {"JOULES_CONFIG_KEY", key},
                                        {NULL, NULL}},
                           "%s changed from '%s' to '%s' in %s: takes effect only after a "
                           "restart (systemctl restart joulesd)",
                           key, ch->old_value, ch->new_value, path);
        }
        settings_diff_done(&diff);

        JoulesConfig old = d->cfg;
        settings_apply_live(&d->cfg, &next);
        r = daemon_apply_live(d, &old);
        if (r < 0) {
                /* Only the timer or memory can fail here: go back to what worked. */
                d->cfg = old;
                (void)daemon_apply_live(d, &next);
                log_fields(LOG_ERR,
                           (LogField[]){{"MESSAGE_ID", MSG_RELOAD_FAILED},
                                        {"JOULES_CONFIG", path},
                                        {NULL, NULL}},
                           "reload failed applying %s, the running settings stay in effect: %s",
                           applied, strerror(-r));
                goto done;
        }
        log_fields(LOG_NOTICE,
                   (LogField[]){{"MESSAGE_ID", MSG_RELOADED},
                                {"JOULES_CONFIG", path},
                                {"JOULES_APPLIED", applied},
                                {"JOULES_NEEDS_RESTART", restart},
                                {NULL, NULL}},
                   "reloaded %s: %s%s%s%s%s%s", path, n_applied + n_restart ? "" : "no changes",
                   n_applied ? "applied " : "", applied, n_applied && n_restart ? "; " : "",
                   n_restart ? "waiting for a restart: " : "", restart);
done:
        (void)sd_notify(false, "READY=1");
        d->last_status_ns = 0; /* RELOADING=1 replaced it: say it again now */
        daemon_status(d, now_monotonic_ns());
}

/* Returns 1 to keep running, 0 to stop. */
static int daemon_handle_signal(Daemon *d)
{
        struct signalfd_siginfo si;
        ssize_t n = read(d->signal_fd, &si, sizeof(si));
        if (n != (ssize_t)sizeof(si))
                return 1;
        if (si.ssi_signo == SIGHUP) {
                daemon_reload(d);
                return 1;
        }
        log_fields(LOG_INFO, (LogField[]){{"MESSAGE_ID", MSG_STOPPING}, {NULL, NULL}},
                   "received %s, stopping", strsignal((int)si.ssi_signo));
        return 0;
}

int daemon_run(Daemon *d)
{
        int r = daemon_arm_timer(d);
        if (r < 0) {
                log_error("timerfd_settime: %s", strerror(-r));
                return r;
        }
        d->started_ns = now_monotonic_ns();
        d->last_show_ns = d->started_ns;
        daemon_tick(d); /* the baseline */
        for (;;) {
                struct pollfd pfd[3] = {{.fd = d->timer_fd, .events = POLLIN},
                                        {.fd = d->signal_fd, .events = POLLIN},
                                        {.fd = requests_fd(d->requests), .events = POLLIN}};
                uint64_t before_ns = now_monotonic_ns();
                int timeout = daemon_poll_timeout_ms(d, before_ns);
                int64_t wait_ns = timeout < 0 ? -1 : (int64_t)timeout * (int64_t)NSEC_PER_MSEC;
                uint64_t read_after_ns = requests_read_after_ns(d->requests);
                if (read_after_ns > before_ns) { /* requests streaming in: read them in batches */
                        pfd[2].fd = -1;
                        int64_t until = (int64_t)(read_after_ns - before_ns);
                        if (wait_ns < 0 || until < wait_ns)
                                wait_ns = until;
                }
                struct timespec ts = {.tv_sec = wait_ns / (int64_t)NSEC_PER_SEC,
                                      .tv_nsec = wait_ns % (int64_t)NSEC_PER_SEC};
                if (ppoll(pfd, 3, wait_ns < 0 ? NULL : &ts, NULL) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        log_error("poll: %s", strerror(errno));
                        break;
                }
                uint64_t now_ns = now_monotonic_ns();
                if (pfd[1].revents & POLLIN) {
                        if (daemon_handle_signal(d) == 0)
                                break;
                }
                if ((pfd[2].revents & POLLIN) ||
                    (pfd[2].fd < 0 && now_ns >= read_after_ns)) /* put off, now due */
                        requests_handle(d->requests);
                if (pfd[0].revents & POLLIN) {
                        uint64_t expirations;
                        if (read(d->timer_fd, &expirations, sizeof(expirations)) > 0) {
                                daemon_tick(d);
                                now_ns = now_monotonic_ns();
                        }
                }
                /* Sent from the sampling loop itself, so a stuck tick stops the pings. */
                daemon_watchdog(d, now_ns);
                if (d->opts.duration_us &&
                    now_ns - d->started_ns >= d->opts.duration_us * NSEC_PER_USEC)
                        break;
        }
        daemon_profile_print(d);
        (void)sd_notify(false, "STOPPING=1");
        int c = store_commit(d->store);
        if (c >= 0)
                daemon_store_health(d, c, now_monotonic_ns(), true);
        if (c >= 0) {
                daemon_band(d, true);
                c = store_run_end(d->store, now_realtime_us());
        }
        if (c < 0)
                log_error("flushing %s: %s", d->cfg.db_path, store_last_error(d->store));
        return r < 0 ? r : c;
}

Daemon *daemon_free(Daemon *d)
{
        if (!d)
                return NULL;
        services_free(d->services);
        requests_free(d->requests);
        energy_source_close(d->source);
        energy_tracker_done(&d->tracker);
        energy_interval_done(&d->interval);
        free(d->cur_uj);
        free(d->cur_valid);
        free(d->domain_ids);
        free(d->domain_values);
        store_close(d->store);
        if (d->timer_fd >= 0)
                close(d->timer_fd);
        if (d->signal_fd >= 0)
                close(d->signal_fd);
        free(d);
        return NULL;
}

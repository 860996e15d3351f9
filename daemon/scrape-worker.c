/* The scrape worker: the process that fetches the services' /metrics pages and parses them.
 *
 * A page comes from the network, so it is never parsed where joulesd's capabilities are: joulesd
 * forks, gives the child up to nobody when it runs as root, clears the ambient capabilities
 * (systemd's AmbientCapabilities= would otherwise carry CAP_DAC_READ_SEARCH and CAP_PERFMON over
 * execve), sets no_new_privs and executes itself again as `joulesd --scrape-worker`: a fresh
 * image that holds no capability (checked with capget before it opens libcurl), shares no memory
 * with joulesd, and holds only two pipes and stderr. It reads its targets from the first pipe and
 * writes fixed-size records into the second: READY once libcurl is loaded, then the growth each
 * scrape counted for a target. joulesd reads them without blocking at each tick and checks each
 * one (a worker that has been taken over can send anything, but only numbers, and only as many
 * as it is given room for). If the worker dies, joulesd says so and starts another one
 * SCRAPE_RESTART_SEC later; the counts of a page not yet sent are lost with it. */

#include "daemon/scrape.h"

#define CURL_DISABLE_TYPECHECK /* the calls go through pointers (curl_load) */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privs.h"

#define SCRAPE_CONF_FD     3 /* the worker's end of the targets pipe */
#define SCRAPE_RESULTS_FD  4 /* the worker's end of the records pipe */
#define SCRAPE_RESTART_SEC 10
#define SCRAPE_READY_SEC   10 /* how long scrape_start waits for READY */
#define SCRAPE_NOBODY      65534

/* ---- libcurl, in the worker only ---- */

/* libcurl is opened by the worker, never by joulesd: with it come TLS, Kerberos and LDAP
 * libraries, about 5 MiB resident, and the code that parses HTTP. */
static struct {
        bool loaded;
        CURLcode (*global_init)(long flags);
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *c, CURLoption o, ...);
        CURLcode (*easy_perform)(CURL *c);
        CURLcode (*easy_getinfo)(CURL *c, CURLINFO i, ...);
        const char *(*easy_strerror)(CURLcode rc);
        void (*easy_cleanup)(CURL *c);
} curl_api;

static int curl_load(char *err, size_t errlen)
{
        if (curl_api.loaded)
                return 0;
        void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(err, errlen, "request scraping needs libcurl: %s", dlerror());
                return -ENOENT;
        }
        void *sym[7];
        static const char *const names[7] = {
                "curl_global_init",  "curl_easy_init",     "curl_easy_setopt",  "curl_easy_perform",
                "curl_easy_getinfo", "curl_easy_strerror", "curl_easy_cleanup",
        };
        for (size_t i = 0; i < 7; i++)
                if (!(sym[i] = dlsym(h, names[i]))) {
                        snprintf(err, errlen, "libcurl.so.4 lacks %s", names[i]);
                        dlclose(h);
                        return -ENOENT;
                }
        /* POSIX: a void * from dlsym converts to a function pointer */
        memcpy(&curl_api.global_init, &sym[0], sizeof(void *));
        memcpy(&curl_api.easy_init, &sym[1], sizeof(void *));
        memcpy(&curl_api.easy_setopt, &sym[2], sizeof(void *));
        memcpy(&curl_api.easy_perform, &sym[3], sizeof(void *));
        memcpy(&curl_api.easy_getinfo, &sym[4], sizeof(void *));
        memcpy(&curl_api.easy_strerror, &sym[5], sizeof(void *));
        memcpy(&curl_api.easy_cleanup, &sym[6], sizeof(void *));
        curl_api.loaded = true; /* never closed: the handles live as long as the process */
        return 0;
}

/* ---- pipes ---- */

static ssize_t read_full(int fd, void *buf, size_t len)
{
        size_t got = 0;
        while (got < len) {
                ssize_t n = read(fd, (char *)buf + got, len - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : (ssize_t)got;
                got += (size_t)n;
        }
        return (ssize_t)got;
}

static int write_full(int fd, const void *buf, size_t len)
{
        size_t done = 0;
        while (done < len) {
                ssize_t n = write(fd, (const char *)buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                done += (size_t)n;
        }
        return 0;
}

/* ---- the records ---- */

void scrape_records_apply(const ScrapeRecord *v, size_t n, double *pending, size_t n_targets,
                          size_t *ret_ready, size_t *ret_bad)
{
        for (size_t i = 0; i < n; i++) {
                const ScrapeRecord *r = &v[i];
                if (r->kind == SCRAPE_RECORD_READY && r->target == 0 && r->growth == 0) {
                        (*ret_ready)++;
                        continue;
                }
                if (r->kind != SCRAPE_RECORD_GROWTH || r->target >= n_targets ||
                    !isfinite(r->growth) || r->growth < 0 || r->growth > SCRAPE_GROWTH_MAX) {
                        (*ret_bad)++;
                        continue;
                }
                pending[r->target] += r->growth;
        }
}

/* ---- the worker ---- */

typedef struct ScrapeTarget {
        JoulesRequestSource src;
        ScrapeSelector sel;
        CURL *curl;
        char *body;
        size_t body_len, body_cap;
        bool has_prev;
        ScrapeSeriesSet prev;
        uint64_t next_ns;
        int failing; /* -1 unknown, 0 working, 1 failing */
} ScrapeTarget;

static size_t scrape_write(char *data, size_t size, size_t n, void *userdata)
{
        ScrapeTarget *t = userdata;
        size_t len = size * n;
        if (t->body_len + len + 1 > SCRAPE_BODY_MAX)
                return 0; /* aborts the transfer */
        if (t->body_len + len + 1 > t->body_cap) {
                size_t cap = t->body_cap ? t->body_cap : 65536;
                while (cap < t->body_len + len + 1)
                        cap *= 2;
                char *b = realloc(t->body, cap);
                if (!b)
                        return 0;
                t->body = b;
                t->body_cap = cap;
        }
        memcpy(t->body + t->body_len, data, len);
        t->body_len += len;
        return len;
}

static void scrape_state(ScrapeTarget *t, bool failed, const char *why)
{
        int now = failed ? 1 : 0;
        if (now == t->failing)
                return;
        if (failed)
                log_warning("scraping %s for %s: %s (logged again only when it works again)",
                            t->src.url, t->src.unit, why);
        else if (t->failing == 1)
                log_notice("scraping %s for %s works again", t->src.url, t->src.unit);
        else
                log_info("scraping %s for %s (%s)", t->src.url, t->src.unit, t->src.selector);
        t->failing = now;
}

/* One scrape; returns the growth since the last good one (0 for the first). */
static double scrape_one(ScrapeTarget *t)
{
        t->body_len = 0;
        char cerr[CURL_ERROR_SIZE] = "";
        curl_api.easy_setopt(t->curl, CURLOPT_ERRORBUFFER, cerr);
        CURLcode rc = curl_api.easy_perform(t->curl);
        long status = 0;
        if (rc == CURLE_OK)
                curl_api.easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        char why[CURL_ERROR_SIZE + 600];
        if (rc != CURLE_OK) {
                snprintf(why, sizeof(why), "%s", cerr[0] ? cerr : curl_api.easy_strerror(rc));
                scrape_state(t, true, why);
                return 0;
        }
        if (status != 200) {
                snprintf(why, sizeof(why), "HTTP status %ld", status);
                scrape_state(t, true, why);
                return 0;
        }
        ScrapeSeriesSet cur;
        if (scrape_collect(&t->sel, t->body ? t->body : "", t->body_len, &cur) < 0) {
                scrape_state(t, true, "out of memory");
                return 0;
        }
        if (cur.n == 0) {
                snprintf(why, sizeof(why), "no series matches %s", t->src.selector);
                scrape_state(t, true, why);
                scrape_series_done(&cur);
                return 0;
        }
        scrape_state(t, false, NULL);
        double d = t->has_prev ? scrape_growth(&t->prev, &cur) : 0;
        /* out of memory: the series gone from this page are forgotten a little early */
        if (t->has_prev && scrape_series_carry(&t->prev, &cur) < 0)
                log_debug("scraping %s: out of memory keeping the series it no longer shows",
                          t->src.url);
        scrape_series_done(&t->prev);
        t->prev = cur;
        t->has_prev = true;
        return d;
}

static int worker_send(ScrapeRecordKind kind, uint32_t target, double growth)
{
        ScrapeRecord r = {.kind = kind, .target = target, .growth = growth};
        /* at most PIPE_BUF bytes: written whole or not at all */
        ssize_t n = write(SCRAPE_RESULTS_FD, &r, sizeof(r));
        return n == (ssize_t)sizeof(r) ? 0 : -EPIPE;
}

/* The targets joulesd sent: a count, then that many JoulesRequestSource (the same executable on
 * both ends, so the same layout). */
static int worker_read_targets(ScrapeTarget **ret, size_t *ret_n)
{
        uint32_t n;
        if (read_full(SCRAPE_CONF_FD, &n, sizeof(n)) != (ssize_t)sizeof(n) || n == 0 ||
            n > SCRAPE_TARGETS_MAX)
                return -EBADMSG;
        ScrapeTarget *v = calloc(n, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                JoulesRequestSource *src = &v[i].src;
                if (read_full(SCRAPE_CONF_FD, src, sizeof(*src)) != (ssize_t)sizeof(*src) ||
                    !memchr(src->url, '\0', sizeof(src->url)) ||
                    !memchr(src->unit, '\0', sizeof(src->unit)) ||
                    !memchr(src->selector, '\0', sizeof(src->selector))) {
                        free(v);
                        return -EBADMSG;
                }
                v[i].failing = -1;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int scrape_worker_main(void)
{
        log_setup(LOG_INFO, "joulesd");
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* joulesd's mask (its signalfd) came along */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() == 1) /* joulesd died before the line above */
                return 1;
        int r = privs_drop_capabilities();
        if (r < 0) {
                log_error("scrape worker: giving up every capability: %s", strerror(-r));
                return 1;
        }
        ScrapeTarget *t;
        size_t n;
        r = worker_read_targets(&t, &n);
        close(SCRAPE_CONF_FD);
        if (r < 0) {
                log_error("scrape worker: reading the targets from joulesd: %s", strerror(-r));
                return 1;
        }
        char err[512];
        if (curl_load(err, sizeof(err)) < 0 || curl_api.global_init(CURL_GLOBAL_DEFAULT) != 0) {
                log_error("%s", curl_api.loaded ? "curl_global_init failed" : err);
                return 78;
        }
        for (size_t i = 0; i < n; i++) {
                if (scrape_selector_parse(t[i].src.selector, &t[i].sel, err, sizeof(err)) < 0) {
                        log_error("scrape worker: %s", err);
                        return 78;
                }
                t[i].curl = curl_api.easy_init();
                if (!t[i].curl) {
                        log_error("scrape worker: curl_easy_init failed");
                        return 1;
                }
                long timeout_ms = (long)(t[i].src.scrape_timeout_us / 1000);
                curl_api.easy_setopt(t[i].curl, CURLOPT_URL, t[i].src.url);
                curl_api.easy_setopt(t[i].curl, CURLOPT_NOSIGNAL, 1L);
                curl_api.easy_setopt(t[i].curl, CURLOPT_TIMEOUT_MS, timeout_ms);
                curl_api.easy_setopt(t[i].curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
                curl_api.easy_setopt(t[i].curl, CURLOPT_WRITEFUNCTION, scrape_write);
                curl_api.easy_setopt(t[i].curl, CURLOPT_WRITEDATA, &t[i]);
                curl_api.easy_setopt(t[i].curl, CURLOPT_USERAGENT, "joulesd/" JOULES_VERSION);
                curl_api.easy_setopt(t[i].curl, CURLOPT_PROTOCOLS_STR, "http,https");
                curl_api.easy_setopt(t[i].curl, CURLOPT_FOLLOWLOCATION, 0L);
        }
        if (worker_send(SCRAPE_RECORD_READY, 0, 0) < 0)
                return 0;
        for (;;) {
                uint64_t now = now_monotonic_ns(), next = UINT64_MAX;
                for (size_t i = 0; i < n; i++) {
                        if (now >= t[i].next_ns) {
                                double d = scrape_one(&t[i]);
                                if (d > 0 && worker_send(SCRAPE_RECORD_GROWTH, (uint32_t)i, d) < 0)
                                        return 0; /* joulesd is gone */
                                now = now_monotonic_ns();
                                t[i].next_ns = now + t[i].src.scrape_interval_us * NSEC_PER_USEC;
                        }
                        if (t[i].next_ns < next)
                                next = t[i].next_ns;
                }
                if (next > now)
                        sleep_us((next - now) / NSEC_PER_USEC);
        }
}

/* ---- joulesd's side ---- */

struct Scrape {
        JoulesRequestSource *src; /* the scrape targets, in the order the worker numbers them */
        double *pending;          /* growth not yet taken by a tick, per target */
        size_t n;
        pid_t pid; /* the worker; 0 when there is none */
        int fd;    /* the read end of its records, O_NONBLOCK */
        ScrapeRecord partial;
        size_t partial_len;
        uint64_t restart_ns; /* when to start another worker after one died */
        bool ready;
        size_t bad_logged;
};

/* Says on stderr (the journal under systemd) why the child could not become the worker, and
 * exits: between fork and execve, so write(2) and a number, no stdio. */
static void worker_die(const char *what, int status)
{
        char num[12], *p = num + sizeof(num);
        int e = errno;
        *--p = '\n';
        do
                *--p = (char)('0' + e % 10);
        while ((e /= 10) > 0 && p > num);
        static const char pre[] = "joulesd: the scrape worker could not start: ";
        (void)!write(STDERR_FILENO, pre, sizeof(pre) - 1);
        (void)!write(STDERR_FILENO, what, strlen(what));
        (void)!write(STDERR_FILENO, " failed, errno ", 15);
        (void)!write(STDERR_FILENO, p, (size_t)(num + sizeof(num) - p));
        _exit(status);
}

/* In the child between fork and execve: async-signal-safe calls only. */
static void worker_exec(int conf_fd, int results_fd)
{
        if (dup2(conf_fd, SCRAPE_CONF_FD) < 0 || dup2(results_fd, SCRAPE_RESULTS_FD) < 0)
                worker_die("dup2", 127);
        /* every other descriptor of joulesd's (the history, the journal, sockets) stays behind */
        if (syscall(SYS_close_range, SCRAPE_RESULTS_FD + 1, ~0U, 0) < 0)
                for (int fd = SCRAPE_RESULTS_FD + 1; fd < 65536; fd++)
                        (void)close(fd);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (geteuid() == 0 || getuid() == 0) {
                /* as root the new image would hold every capability again */
                (void)setgroups(0, NULL);
                if (setgid(SCRAPE_NOBODY) < 0 || setuid(SCRAPE_NOBODY) < 0)
                        worker_die("becoming nobody (setgid/setuid 65534)", 126);
        }
        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                worker_die("prctl(PR_SET_NO_NEW_PRIVS)", 126);
        char *const argv[] = {(char *)"joulesd", (char *)"--scrape-worker", NULL};
        execv("/proc/self/exe", argv);
        worker_die("execv /proc/self/exe", 127);
}

/* kill_it: joulesd stops it. Otherwise its end of the pipe closed, which a worker does when it
 * exits, but one taken over could close it and go on: it is stopped too, so waiting for it can
 * never hold up the tick loop. */
static void worker_reap(Scrape *s, bool kill_it)
{
        if (s->pid <= 0)
                return;
        int st = 0;
        pid_t r = 0;
        /* an exiting process closes its files a moment before it can be waited for */
        for (int i = 0; !kill_it && r == 0 && i < 100; i++) {
                r = waitpid(s->pid, &st, WNOHANG);
                if (r == 0)
                        sleep_us(1000);
        }
        if (r == 0) {
                if (!kill_it)
                        log_warning("the scrape worker (pid %d) closed its pipe but runs on: "
                                    "stopped; another starts in %d s",
                                    (int)s->pid, SCRAPE_RESTART_SEC);
                (void)kill(s->pid, SIGKILL);
                do
                        r = waitpid(s->pid, &st, 0);
                while (r < 0 && errno == EINTR);
                kill_it = true;
        }
        if (!kill_it && r == s->pid) {
                if (WIFEXITED(st))
                        log_warning("the scrape worker (pid %d) exited with status %d; another "
                                    "starts in %d s",
                                    (int)s->pid, WEXITSTATUS(st), SCRAPE_RESTART_SEC);
                else if (WIFSIGNALED(st))
                        log_warning("the scrape worker (pid %d) was killed by signal %d (%s); "
                                    "another starts in %d s",
                                    (int)s->pid, WTERMSIG(st), strsignal(WTERMSIG(st)),
                                    SCRAPE_RESTART_SEC);
        }
        s->pid = 0;
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
        s->partial_len = 0;
        s->ready = false;
}

static int worker_spawn(Scrape *s)
{
        int conf[2], res[2];
        if (pipe2(conf, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(res, O_CLOEXEC) < 0) {
                int e = errno;
                close(conf[0]);
                close(conf[1]);
                return -e;
        }
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(conf[0]);
                close(conf[1]);
                close(res[0]);
                close(res[1]);
                return -e;
        }
        if (pid == 0)
                worker_exec(conf[0], res[1]);
        close(conf[0]);
        close(res[1]);
        s->pid = pid;
        s->fd = res[0];
        uint32_t n = (uint32_t)s->n;
        /* the worker reads these before anything else: the pipe's 64 KiB hold 100 targets */
        int r = write_full(conf[1], &n, sizeof(n));
        if (r >= 0)
                r = write_full(conf[1], s->src, s->n * sizeof(*s->src));
        close(conf[1]);
        if (r < 0 || fcntl(s->fd, F_SETFL, O_NONBLOCK) < 0) {
                worker_reap(s, true);
                return r < 0 ? r : -errno;
        }
        return 0;
}

/* Reads what the worker wrote: 1 when there may be more, 0 when drained, -EPIPE when it is
 * gone (end of file). */
static int worker_drain(Scrape *s)
{
        ScrapeRecord buf[16];
        memcpy(buf, &s->partial, s->partial_len);
        size_t want = sizeof(buf) - s->partial_len;
        ssize_t n = read(s->fd, (char *)buf + s->partial_len, want);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
        if (n == 0)
                return -EPIPE;
        size_t have = s->partial_len + (size_t)n, whole = have / sizeof(ScrapeRecord);
        size_t ready = 0, bad = 0;
        scrape_records_apply(buf, whole, s->pending, s->n, &ready, &bad);
        s->ready |= ready > 0;
        if (bad > 0 && s->bad_logged++ < 3)
                log_warning("the scrape worker (pid %d) sent %zu record(s) joulesd does not take "
                            "(a target it does not have, or a count that is not one): ignored",
                            (int)s->pid, bad);
        s->partial_len = have % sizeof(ScrapeRecord);
        memcpy(&s->partial, (char *)buf + whole * sizeof(ScrapeRecord), s->partial_len);
        return (size_t)n == want;
}

int scrape_start(const JoulesConfig *cfg, Scrape **ret, char *err, size_t errlen)
{
        *ret = NULL;
        size_t n = 0;
        for (size_t i = 0; i < cfg->n_request_sources; i++)
                n += cfg->request_sources[i].url[0] != '\0';
        if (n == 0)
                return 0;
        if (n > SCRAPE_TARGETS_MAX) {
                snprintf(err, errlen, "%zu scrape targets: at most %d", n, SCRAPE_TARGETS_MAX);
                return -E2BIG;
        }
        Scrape *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->src = calloc(n, sizeof(*s->src));
        s->pending = calloc(n, sizeof(*s->pending));
        if (!s->src || !s->pending) {
                scrape_stop(s);
                return -ENOMEM;
        }
        /* their selectors were checked when the configuration was read (config-requests.c) */
        for (size_t i = 0; i < cfg->n_request_sources; i++)
                if (cfg->request_sources[i].url[0])
                        s->src[s->n++] = cfg->request_sources[i];
        int r = worker_spawn(s);
        if (r < 0) {
                snprintf(err, errlen, "starting the scrape worker: %s", strerror(-r));
                scrape_stop(s);
                return r;
        }
        /* READY, or the reason it could not start (in the log, from the worker itself) */
        uint64_t deadline = now_monotonic_ns() + SCRAPE_READY_SEC * NSEC_PER_SEC;
        while (!s->ready) {
                r = worker_drain(s);
                if (r == -EPIPE || now_monotonic_ns() > deadline) {
                        bool timeout = r != -EPIPE;
                        worker_reap(s, true);
                        snprintf(err, errlen,
                                 timeout ? "the scrape worker did not start within %d s"
                                         : "the scrape worker could not start (its error is "
                                           "logged above)",
                                 SCRAPE_READY_SEC);
                        scrape_stop(s);
                        return timeout ? -ETIMEDOUT : -ENOEXEC;
                }
                if (r == 0 && !s->ready)
                        sleep_us(10000);
        }
        *ret = s;
        return 0;
}

Scrape *scrape_stop(Scrape *s)
{
        if (!s)
                return NULL;
        worker_reap(s, true);
        free(s->src);
        free(s->pending);
        free(s);
        return NULL;
}

pid_t scrape_worker_pid(const Scrape *s)
{
        return s ? s->pid : 0;
}

void scrape_take(Scrape *s, ScrapeSink sink, void *userdata)
{
        if (!s)
                return;
        if (s->pid > 0) {
                int r;
                while ((r = worker_drain(s)) > 0)
                        ;
                if (r == -EPIPE) {
                        worker_reap(s, false);
                        s->restart_ns = now_monotonic_ns() + SCRAPE_RESTART_SEC * NSEC_PER_SEC;
                }
        } else if (now_monotonic_ns() >= s->restart_ns) {
                int r = worker_spawn(s);
                if (r < 0) {
                        log_warning("starting the scrape worker again: %s; trying again in %d s",
                                    strerror(-r), SCRAPE_RESTART_SEC);
                        s->restart_ns = now_monotonic_ns() + SCRAPE_RESTART_SEC * NSEC_PER_SEC;
                }
        }
        for (size_t i = 0; i < s->n; i++) {
                if (s->pending[i] > 0)
                        sink(userdata, s->src[i].unit,
                             s->src[i].metric_name[0] ? s->src[i].metric_name : "requests",
                             s->pending[i]);
                s->pending[i] = 0;
        }
}

#include "bench/lib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tests/plain.h"

#define BENCH_PERIOD_NS INT64_C(10000000) /* a busy process's period: 10 ms */

volatile sig_atomic_t bench_stop_signal;

static void bench_on_signal(int sig)
{
        bench_stop_signal = sig;
}

void bench_signals_init(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 &&
            rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        struct sigaction sa = {.sa_handler = bench_on_signal}; /* no SA_RESTART */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
}

int64_t bench_now_ns(clockid_t c)
{
        struct timespec ts;
        clock_gettime(c, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool bench_sleep_until(int64_t deadline_ns)
{
        struct timespec ts = {.tv_sec = deadline_ns / 1000000000,
                              .tv_nsec = deadline_ns % 1000000000};
        while (!bench_stop_signal) {
                int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                if (r == 0)
                        return !bench_stop_signal;
                if (r != EINTR)
                        return false;
        }
        return false;
}

int bench_write_str(const char *path, const char *s)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, s, strlen(s));
        int r = n < 0 ? -errno : 0;
        close(fd);
        return r;
}

int bench_find_cgroup2(char *buf, size_t size)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        char line[4096];
        int r = -ENOENT;
        while (fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - ");
                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                char mnt[4096];
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strlen(mnt) < size) {
                        snprintf(buf, size, "%s", mnt);
                        r = 0;
                        break;
                }
        }
        fclose(f);
        return r;
}

int bench_cgroup_join(const char *dir, pid_t pid)
{
        char path[PATH_MAX + 16], num[32];
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        snprintf(num, sizeof(num), "%d\n", (int)pid);
        return bench_write_str(path, num);
}

int bench_cgroup_remove(const char *dir)
{
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
        (void)bench_write_str(path, "1"); /* Linux 5.14+; callers also kill their children */
        for (int t = 0; t < 200; t++) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        break;
                usleep(10000);
        }
        return -errno;
}

void bench_child_setup(pid_t parent)
{
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(0);
}

void bench_busy_loop(int pct)
{
        int64_t slice = BENCH_PERIOD_NS * pct / 100;
        int64_t next = bench_now_ns(CLOCK_MONOTONIC);
        for (;;) {
                int64_t until = bench_now_ns(CLOCK_PROCESS_CPUTIME_ID) + slice;
                while (bench_now_ns(CLOCK_PROCESS_CPUTIME_ID) < until)
                        ;
                next += BENCH_PERIOD_NS;
                struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
                (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
}

pid_t bench_spawn(char *const argv[], const char *log)
{
        pid_t self = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid != 0)
                return pid;
        bench_child_setup(self);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && null >= 0) {
                dup2(null, 0);
                dup2(fd, 1);
                dup2(fd, 2);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
}

int bench_stop_child(pid_t pid, unsigned timeout_ms, int *ret_status)
{
        int status = 0, r = 0;
        (void)kill(pid, SIGTERM);
        int64_t deadline = bench_now_ns(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
        pid_t w;
        while ((w = waitpid(pid, &status, WNOHANG)) == 0) {
                if (bench_now_ns(CLOCK_MONOTONIC) > deadline) {
                        (void)kill(pid, SIGKILL);
                        (void)waitpid(pid, &status, 0);
                        r = -ETIMEDOUT;
                        break;
                }
                usleep(10000);
        }
        if (w < 0 && errno != EINTR)
                r = -errno;
        if (ret_status)
                *ret_status = status;
        return r;
}

void bench_show_log(const char *log, unsigned lines)
{
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof(cmd), "tail -n %u '%s' >&2", lines, log);
        (void)system(cmd);
}

int bench_sql_line(const char *db, const char *sql, char *out, size_t size)
{
        char cmd[8192];
        snprintf(cmd, sizeof(cmd),
                 "sqlite3 -batch -noheader -separator ' ' '%s' \"%s\" 2>/dev/null", db, sql);
        FILE *p = popen(cmd, "re");
        if (!p)
                return -errno;
        out[0] = 0;
        bool got = fgets(out, (int)size, p) != NULL;
        int st = pclose(p);
        if (!got || st != 0)
                return -EIO;
        out[strcspn(out, "\n")] = 0;
        return 0;
}

int bench_plain_sql_line(const char *db, const char *sql, char *out, size_t size)
{
        char err[256];
        sqlite3 *p = plain_open(db, err, sizeof(err));
        if (!p) {
                fprintf(stderr, "bench: %s\n", err);
                return -EIO;
        }
        sqlite3_stmt *q = NULL;
        int r = -EIO;
        out[0] = 0;
        if (sqlite3_prepare_v2(p, sql, -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW) {
                size_t o = 0;
                for (int c = 0; c < sqlite3_column_count(q) && o < size; c++) {
                        const unsigned char *t = sqlite3_column_text(q, c);
                        int n = snprintf(out + o, size - o, "%s%s", c ? " " : "",
                                         t ? (const char *)t : "");
                        o += n > 0 ? (size_t)n : 0;
                }
                r = o < size ? 0 : -ENOBUFS;
        }
        sqlite3_finalize(q);
        sqlite3_close(p);
        return r;
}

static int bench_remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        (void)(type == FTW_DP ? rmdir(path) : unlink(path));
        return 0;
}

void bench_remove_dir(const char *dir)
{
        if (dir && dir[0])
                (void)nftw(dir, bench_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int bench_build_path(const char *dir, const char *name, char *buf, size_t size)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
                return -errno;
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash)
                *slash = 0; /* <build>/bench */
        slash = strrchr(self, '/');
        if (slash)
                *slash = 0; /* <build> */
        if ((size_t)snprintf(buf, size, "%s/%s/%s", self, dir, name) >= size)
                return -ENAMETOOLONG;
        return 0;
}

int bench_proc_rss_kib(pid_t pid, long *ret)
{
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        int r = -ENODATA;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", ret) == 1) {
                        r = 0;
                        break;
                }
        fclose(f);
        return r;
}

int bench_proc_fds(pid_t pid, long *ret)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return -errno;
        long n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        *ret = n;
        return 0;
}

const char *const bench_rss_part_names[BENCH_RSS_PARTS] = {
        "heap (malloc: SQLite page cache, tables)",
        "anonymous maps (malloc arenas, big blocks)",
        "libsqlite3",
        "libpfm",
        "libc",
        "joulesd binary",
        "other libraries",
        "stack",
};

int bench_rss_parts(pid_t pid, long parts[BENCH_RSS_PARTS])
{
        char path[64], line[512];
        snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        int part = BENCH_RSS_ANON;
        memset(parts, 0, sizeof(long) * BENCH_RSS_PARTS);
        while (fgets(line, sizeof(line), f)) {
                long kib;
                if (sscanf(line, "Rss: %ld kB", &kib) == 1) {
                        parts[part] += kib;
                        continue;
                }
                unsigned long lo, hi;
                int name_at = 0;
                if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &name_at) != 2 ||
                    name_at == 0)
                        continue;
                const char *name = line + name_at;
                if (strstr(name, "[heap]"))
                        part = BENCH_RSS_HEAP;
                else if (strstr(name, "[stack]"))
                        part = BENCH_RSS_STACK;
                else if (strstr(name, "libsqlite3"))
                        part = BENCH_RSS_SQLITE;
                else if (strstr(name, "libpfm"))
                        part = BENCH_RSS_PFM;
                else if (strstr(name, "/libc.so") || strstr(name, "/libc-"))
                        part = BENCH_RSS_LIBC;
                else if (strstr(name, "joulesd"))
                        part = BENCH_RSS_SELF;
                else if (name[0] == '/' || name[0] == '[')
                        part = BENCH_RSS_LIBS;
                else
                        part = BENCH_RSS_ANON;
        }
        fclose(f);
        return 0;
}

pid_t bench_waker_start(uint64_t interval_us)
{
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        bench_child_setup(parent);
        int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        int idle[2];
        if (tfd < 0 || pipe(idle) < 0)
                _exit(1);
        struct itimerspec its = {
                .it_interval = {.tv_sec = (time_t)(interval_us / 1000000),
                                .tv_nsec = (long)(interval_us % 1000000) * 1000},
        };
        its.it_value = its.it_interval;
        if (timerfd_settime(tfd, 0, &its, NULL) < 0)
                _exit(1);
        for (;;) {
                struct pollfd pfd[3] = {{.fd = tfd, .events = POLLIN},
                                        {.fd = idle[0], .events = POLLIN},
                                        {.fd = idle[1], .events = 0}};
                uint64_t expirations;
                if (ppoll(pfd, 3, NULL, NULL) > 0 && (pfd[0].revents & POLLIN))
                        (void)!read(tfd, &expirations, sizeof(expirations));
        }
}

int bench_load_create(BenchLoad *l, const char *parent, size_t services, size_t sleepers,
                      size_t busy, int busy_pct)
{
        *l = (BenchLoad){0};
        l->cg = calloc(services ? services : 1, sizeof(*l->cg));
        l->made_cg = calloc(services ? services : 1, sizeof(*l->made_cg));
        l->kids = calloc(sleepers + busy + 1, sizeof(*l->kids));
        if (!l->cg || !l->made_cg || !l->kids)
                return -ENOMEM;
        snprintf(l->slice, sizeof(l->slice), "%s/system.slice", parent);
        if (mkdir(l->slice, 0755) == 0)
                l->made_slice = true;
        else if (errno != EEXIST)
                return -errno;
        for (size_t i = 0; i < services; i++) {
                snprintf(l->cg[i], sizeof(l->cg[i]), "%.300s/bench-joules-%d-%zu.service", l->slice,
                         (int)getpid(), i);
                if (mkdir(l->cg[i], 0755) < 0)
                        return -errno;
                l->made_cg[i] = true;
                l->n_cg = i + 1;
        }
        pid_t self = getpid();
        size_t spread = busy ? services / busy : 1;
        for (size_t k = 0; k < sleepers + busy && !bench_stop_signal; k++) {
                bool is_busy = k >= sleepers;
                size_t svc =
                        is_busy ? (k - sleepers) * (spread ? spread : 1) % services : k % services;
                pid_t pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid == 0) {
                        bench_child_setup(self);
                        if (is_busy)
                                bench_busy_loop(busy_pct);
                        for (;;)
                                pause();
                }
                l->kids[l->n_kids++] = pid;
                int r = bench_cgroup_join(l->cg[svc], pid);
                if (r < 0)
                        return r;
        }
        return bench_stop_signal ? -EINTR : 0;
}

void bench_load_destroy(BenchLoad *l)
{
        for (size_t i = 0; i < l->n_cg; i++) {
                char path[PATH_MAX + 16];
                snprintf(path, sizeof(path), "%s/cgroup.kill", l->cg[i]);
                if (l->made_cg[i])
                        (void)bench_write_str(path, "1");
        }
        for (size_t k = 0; k < l->n_kids; k++)
                (void)kill(l->kids[k], SIGKILL);
        for (size_t k = 0; k < l->n_kids; k++)
                while (waitpid(l->kids[k], NULL, 0) < 0 && errno == EINTR)
                        ;
        l->n_kids = 0;
        for (size_t i = 0; i < l->n_cg; i++) {
                if (!l->made_cg[i])
                        continue;
                int r = bench_cgroup_remove(l->cg[i]);
                if (r < 0)
                        fprintf(stderr, "bench: rmdir %s: %s\n", l->cg[i], strerror(-r));
                else
                        l->made_cg[i] = false;
        }
        l->n_cg = 0;
        if (l->made_slice && rmdir(l->slice) == 0)
                l->made_slice = false;
        free(l->cg);
        free(l->made_cg);
        free(l->kids);
        l->cg = NULL;
        l->made_cg = NULL;
        l->kids = NULL;
}

/* Adds schedstat's run time over /proc/PID/task/ to *sum. */
static int tasks_cpu_ns(pid_t pid, uint64_t *sum)
{
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char path[128];
                snprintf(path, sizeof(path), "%s/%.32s/schedstat", dir, de->d_name);
                FILE *f = fopen(path, "re");
                unsigned long long ns;
                if (f && fscanf(f, "%llu", &ns) == 1)
                        *sum += ns;
                if (f)
                        fclose(f);
        }
        closedir(d);
        return 0;
}

int bench_tasks_cpu_ns(pid_t pid, uint64_t *ret)
{
        uint64_t sum = 0;
        int r = tasks_cpu_ns(pid, &sum);
        if (r < 0)
                return r;
        *ret = sum;
        return 0;
}

int bench_tree_cpu_ns(pid_t pid, uint64_t *ret)
{
        uint64_t sum = 0;
        int r = tasks_cpu_ns(pid, &sum);
        if (r < 0)
                return r;
        /* The descendants: every process whose parent chain reaches pid. */
        DIR *d = opendir("/proc");
        if (!d)
                return -errno;
        struct dirent *de;
        while ((de = readdir(d))) {
                pid_t p = (pid_t)strtol(de->d_name, NULL, 10);
                if (p <= 0 || p == pid)
                        continue;
                pid_t q = p;
                for (int depth = 0; depth < 16 && q > 1 && q != pid; depth++) {
                        char path[64], buf[512];
                        snprintf(path, sizeof(path), "/proc/%d/stat", (int)q);
                        FILE *f = fopen(path, "re");
                        if (!f || !fgets(buf, sizeof(buf), f)) {
                                if (f)
                                        fclose(f);
                                q = 0;
                                break;
                        }
                        fclose(f);
                        const char *c = strrchr(buf, ')');
                        int ppid = 0;
                        if (!c || sscanf(c + 2, "%*c %d", &ppid) != 1)
                                ppid = 0;
                        q = ppid;
                }
                if (q == pid)
                        (void)tasks_cpu_ns(p, &sum);
        }
        closedir(d);
        *ret = sum;
        return 0;
}

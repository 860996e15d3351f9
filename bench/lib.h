#pragma once

/* What the benchmarks that drive the real joulesd share (bench-tick, bench-soak, bench-crash):
 * clocks and sleeps that a stop signal interrupts, the cgroup2 mount, children that die with the
 * bench, the programs of the build tree, the sqlite3 shell for one-line answers, what a
 * process's resident pages are, and the floor process that only wakes. Not a library
 * of the project: only bench/ links it. */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define PATH_MAX_BENCH 400

/* The signal that asked the bench to stop (SIGINT, SIGTERM, SIGHUP), 0 while none came. */
extern volatile sig_atomic_t bench_stop_signal;

/* Installs the stop handler for SIGINT, SIGTERM and SIGHUP, without SA_RESTART so that waits
 * see EINTR; raises RLIMIT_NOFILE (the daemon caches a descriptor per cgroup and process). */
void bench_signals_init(void);

int64_t bench_now_ns(clockid_t c);

/* Sleeps until the CLOCK_MONOTONIC deadline; false when a stop signal came first. */
bool bench_sleep_until(int64_t deadline_ns);

/* Writes s to an existing file (cgroupfs): 0 or -errno. */
int bench_write_str(const char *path, const char *s);

/* The first cgroup2 mount in mountinfo (/sys/fs/cgroup/unified on a hybrid machine). */
int bench_find_cgroup2(char *buf, size_t size);

/* Moves pid into the cgroup directory dir: 0 or -errno. */
int bench_cgroup_join(const char *dir, pid_t pid);

/* Kills what is in the cgroup dir (cgroup.kill), then removes it, retrying EBUSY for up to 2 s
 * (a reaped task leaves its cgroup a moment later). 0, or -errno of the last rmdir. */
int bench_cgroup_remove(const char *dir);

/* In a child: die with the bench (parent is the bench's pid), and leave its signal handling. */
void bench_child_setup(pid_t parent);

/* Burns pct% of one CPU, forever: each 10 ms period, spin until this process's CPU time grew by
 * its share (so a preempted burner catches up), then sleep to the period's end. */
void bench_busy_loop(int pct) __attribute__((noreturn));

/* Starts argv in a child whose stdout and stderr go to log (stdin /dev/null): its pid, -errno. */
pid_t bench_spawn(char *const argv[], const char *log);

/* Stops a child with SIGTERM, and SIGKILL after timeout_ms; its wait status in *ret_status
 * (may be NULL). 0, or -ETIMEDOUT when it had to be killed. */
int bench_stop_child(pid_t pid, unsigned timeout_ms, int *ret_status);

/* Prints the last lines of a log to stderr. */
void bench_show_log(const char *log, unsigned lines);

/* Runs sql on db with the sqlite3 shell; its first output line (fields separated by spaces)
 * into out. */
int bench_sql_line(const char *db, const char *sql, char *out, size_t size);
/* The same, through the SQLite library on an in-memory copy of the history whose packed ticks
 * are plain rows again (tests/plain.h): for counting unit_energy rows. */
int bench_plain_sql_line(const char *db, const char *sql, char *out, size_t size);

/* Removes a directory and everything below it (symbolic links are not followed). */
void bench_remove_dir(const char *dir);

/* The path of a program of this build tree: <build>/DIR/NAME, where <build> is the parent of
 * the directory holding this benchmark ("bin", "joulesd" gives <build>/bin/joulesd). */
int bench_build_path(const char *dir, const char *name, char *buf, size_t size);

/* Resident set size (VmRSS, KiB) and the count of open descriptors (/proc/PID/fd) of pid. */
int bench_proc_rss_kib(pid_t pid, long *ret);
int bench_proc_fds(pid_t pid, long *ret);

/* What the resident pages of pid are: /proc/PID/smaps's Rss, in KiB, summed by mapping. */
enum {
        BENCH_RSS_HEAP,
        BENCH_RSS_ANON,
        BENCH_RSS_SQLITE,
        BENCH_RSS_PFM,
        BENCH_RSS_LIBC,
        BENCH_RSS_SELF,
        BENCH_RSS_LIBS,
        BENCH_RSS_STACK,
        BENCH_RSS_PARTS
};
extern const char *const bench_rss_part_names[BENCH_RSS_PARTS];
int bench_rss_parts(pid_t pid, long parts[BENCH_RSS_PARTS]);

/* The floor: a child doing only what joulesd's loop does between two ticks (a timerfd at the
 * same interval, ppoll on it and two idle descriptors, the read of the expiration count), run
 * beside the daemon and measured over the same window. What a tick costs above it is the tick's
 * own work; the floor itself is what waking once per interval costs on this machine (on a
 * paravirtualised guest, where a wake-up and a system call exit to the hypervisor, it is tens of
 * microseconds). Its pid, or -1 (errno set); it dies with the bench. */
pid_t bench_waker_start(uint64_t interval_us);

/* The load the cost benchmarks run under: services as real cgroups below parent/system.slice
 * (bench-joules-<pid>-N.service), sleeping processes spread over them, busy ones (each burning
 * busy_pct% of a CPU, bench_busy_loop) in services 0, S/B, 2S/B, ... Every child dies with the
 * bench (PR_SET_PDEATHSIG). */
typedef struct BenchLoad {
        char slice[PATH_MAX_BENCH];
        bool made_slice;
        char (*cg)[PATH_MAX_BENCH];
        bool *made_cg;
        size_t n_cg;
        pid_t *kids;
        size_t n_kids;
} BenchLoad;

/* 0, or -errno (what was made so far is left for bench_load_destroy). */
int bench_load_create(BenchLoad *l, const char *parent, size_t services, size_t sleepers,
                      size_t busy, int busy_pct);
/* Kills the children, removes the cgroups; safe to call twice. */
void bench_load_destroy(BenchLoad *l);

/* CPU time (ns, schedstat's first field) of every thread of pid (a thread that exits while it is
read is left out); bench_tree_cpu_ns adds its live descendants'. */
int bench_tasks_cpu_ns(pid_t pid, uint64_t *ret);
int bench_tree_cpu_ns(pid_t pid, uint64_t *ret);

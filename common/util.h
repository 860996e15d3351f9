#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <assert.h>
#include <stdlib.h>
#include <unistd.h>

/* Helpers shared by every module. Fallible functions return >= 0 on success and -errno on failure;
 * outputs are written only on success. */

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define WARN_UNUSED   __attribute__((warn_unused_result))
#define PRINTF(f, a)  __attribute__((format(printf, f, a)))

#define USEC_PER_SEC  UINT64_C(1000000)
#define NSEC_PER_SEC  UINT64_C(1000000000)
#define NSEC_PER_USEC UINT64_C(1000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define UJ_PER_J      1000000.0
#define J_PER_KWH     3600000.0

static inline void freep(void *p)
{
        free(*(void **)p);
}
static inline void closep(int *fd)
{
        if (*fd >= 0)
                (void)close(*fd);
}
#define _cleanup_free_  __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* Hands ownership on: returns the pointer and clears the variable. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })

/* Formats a path into buf; -ENAMETOOLONG when it does not fit. */
int path_fmt(char *buf, size_t size, const char *fmt, ...) PRINTF(3, 4) WARN_UNUSED;

/* Reads at most size-1 bytes of a (sysfs/procfs) file and NUL-terminates. Returns the length. */
ssize_t read_text(const char *path, char *buf, size_t size) WARN_UNUSED;
/* Same with an already open fd, from offset 0 (pread): the cheap way to re-read a cached file.
 * Stops at the first short read, the end of a pseudo-file's text. */
ssize_t pread_text(int fd, char *buf, size_t size) WARN_UNUSED;
/* Reads a file holding one unsigned decimal number (sysfs style, trailing newline allowed). */
int read_u64(const char *path, uint64_t *ret) WARN_UNUSED;
/* Reads the first line of a file without its newline. -EINVAL if empty. */
int read_line(const char *path, char *buf, size_t size) WARN_UNUSED;

/* The decimal digits at the start of s (at least one), overflow-checked; *ret_end points past
 * them. The hand-written parser the hot /proc and cgroup readers share (sscanf costs 10x). */
int parse_u64_prefix(const char *s, const char **ret_end, uint64_t *ret) WARN_UNUSED;
/* Strict unsigned decimal: digits, then only optional trailing white space. */
int parse_u64(const char *s, uint64_t *ret) WARN_UNUSED;
/* Strict finite double, optional trailing white space. */
int parse_double(const char *s, double *ret) WARN_UNUSED;
/* Durations: "200ms", "1s", "0.2" (seconds), "15m", "24h", "7d", "500us", "1h30m". */
int parse_duration_us(const char *s, uint64_t *ret_us) WARN_UNUSED;
/* A point in time: an ISO 8601 date or date-time (UTC unless an offset is given), "now", or a
 * duration meaning that long before now_us. Result in microseconds since the epoch. */
int parse_time_point(const char *s, int64_t now_us, int64_t *ret_us) WARN_UNUSED;

/* A duration as parse_duration_us reads it back exactly, in the largest unit that divides it:
 * "7d", "1h", "90s", "250ms", "1234567us". buf needs 24 bytes. */
char *format_duration_us(uint64_t us, char *buf, size_t size);

/* Whether glibc's regcomp() could blow up compiling this POSIX extended regex: it copies the
 * subexpression of every repeat ("x+" becomes "xx*", "x{3}" three copies), nested ones
 * multiplying, so "((a+)+)+..." or "(x{255}){255}" takes gigabytes. Counts '+' as 2 copies and
 * {m,n} as max(m,n)+1, all as if nested, and refuses past REGEX_COPIES_MAX or a repeat stacked
 * on a repeat ("a++"). Conservative for the short filters joules takes (" 5[0-9]{2} ": 3). */
#define REGEX_COPIES_MAX 4096
bool regex_too_costly(const char *re);

/* RFC 3339 UTC, second precision: "2026-11-27T02:54:09Z". buf needs 21 bytes. */
char *format_rfc3339(int64_t us, char *buf, size_t size);

/* FNV-1a over n bytes, from h (FNV1A_OFFSET to start a hash). */
#define FNV1A_OFFSET 2166136261u
static inline uint32_t fnv1a(uint32_t h, const void *data, size_t n)
{
        for (size_t i = 0; i < n; i++)
                h = (h ^ ((const unsigned char *)data)[i]) * 16777619u;
        return h;
}

uint64_t now_monotonic_ns(void);
int64_t now_realtime_us(void);
/* This thread's CPU time (a system call, not the vDSO: for profiles, not for every tick). */
uint64_t now_thread_cpu_ns(void);

/* Sleeps on CLOCK_MONOTONIC; used by tests and tools, never by the daemon's tick loop. */
void sleep_us(uint64_t us);

/* Trims leading and trailing white space in place and returns the start. */
char *strstrip(char *s);
/* Whether dir/name exists (false too when the path is too long). */
bool file_exists_in(const char *dir, const char *name);
bool startswith(const char *s, const char *prefix);

/* Makes room for need elements of elem bytes in *v (*cap of them now), doubling the capacity:
 * 0, or -ENOMEM (*v and *cap untouched). */
int array_grow(void **v, size_t *cap, size_t need, size_t elem) WARN_UNUSED;

/* Whether word is one of the comma-separated items of s[0..n) ("cpu,cpuacct" has "cpuacct"). */
bool comma_list_has(const char *s, size_t n, const char *word);

#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int path_fmt(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t)n >= size)
                return -ENAMETOOLONG;
        return 0;
}

ssize_t pread_text(int fd, char *buf, size_t size)
{
        if (size == 0)
                return -ENOBUFS;
        size_t len = 0;
        while (len < size - 1) {
                size_t want = size - 1 - len;
                ssize_t n = pread(fd, buf + len, want, (off_t)len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                len += (size_t)n;
                /* A short read is the end: procfs, sysfs and cgroupfs make a file's text in one
                 * go (seq_file fills the buffer up to the last record), so asking again only to
                 * hear 0 would double the system calls of every pseudo-file read each tick. */
                if ((size_t)n < want)
                        break;
        }
        buf[len] = '\0';
        return (ssize_t)len;
}

ssize_t read_text(const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return pread_text(fd, buf, size);
}

int read_u64(const char *path, uint64_t *ret)
{
        char buf[64];
        ssize_t n = read_text(path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        return parse_u64(buf, ret);
}

int read_line(const char *path, char *buf, size_t size)
{
        ssize_t n = read_text(path, buf, size);
        if (n < 0)
                return (int)n;
        buf[strcspn(buf, "\n")] = '\0';
        if (buf[0] == '\0')
                return -EINVAL;
        return 0;
}

int parse_u64_prefix(const char *s, const char **ret_end, uint64_t *ret)
{
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        uint64_t v = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
                /* No division per digit: this parses every number of every procfs read. */
                if (__builtin_mul_overflow(v, 10, &v) ||
                    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
                        return -ERANGE;
        }
        *ret_end = s;
        *ret = v;
        return 0;
}

int parse_u64(const char *s, uint64_t *ret)
{
        uint64_t v;
        int r = parse_u64_prefix(s, &s, &v);
        if (r < 0)
                return r;
        while (isspace((unsigned char)*s))
                s++;
        if (*s)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_double(const char *s, double *ret)
{
        if (!s)
                return -EINVAL;
        while (isspace((unsigned char)*s))
                s++;
        if (!*s)
                return -EINVAL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == s)
                return -EINVAL;
        while (isspace((unsigned char)*end))
                end++;
        if (*end || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

static const struct {
        const char *suffix;
        double us;
} duration_units[] = {
        /* Longest suffixes first so "ms" is not read as "m" followed by junk. */
        {"usec", 1},   {"us", 1},   {"msec", 1e3}, {"ms", 1e3},    {"sec", 1e6},       {"s", 1e6},
        {"min", 60e6}, {"m", 60e6}, {"h", 3600e6}, {"d", 86400e6}, {"w", 7 * 86400e6},
};

int parse_duration_us(const char *s, uint64_t *ret_us)
{
        if (!s || !*s)
                return -EINVAL;
        double total = 0;
        const char *p = s;
        bool any = false;
        while (*p) {
                if (!isdigit((unsigned char)*p) && *p != '.')
                        return -EINVAL;
                char *end;
                errno = 0;
                double v = strtod(p, &end);
                if (end == p || errno != 0 || v < 0 || !isfinite(v))
                        return -EINVAL;
                p = end;
                if (!*p) {
                        /* A bare number is seconds, and only allowed as the whole string. */
                        if (any)
                                return -EINVAL;
                        total = v * 1e6;
                        any = true;
                        break;
                }
                size_t i;
                for (i = 0; i < ELEMENTSOF(duration_units); i++) {
                        size_t l = strlen(duration_units[i].suffix);
                        if (strncmp(p, duration_units[i].suffix, l) == 0 &&
                            !isalpha((unsigned char)p[l]))
                                break;
                }
                if (i == ELEMENTSOF(duration_units))
                        return -EINVAL;
                total += v * duration_units[i].us;
                p += strlen(duration_units[i].suffix);
                any = true;
        }
        /* llround() stops at 2^63 (10000000000000s came back as 2^63 us): round as a double,
         * which converts exactly below 2^64 */
        if (!any || total >= 0x1p64)
                return -ERANGE;
        *ret_us = (uint64_t)round(total);
        return 0;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);
        unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

/* n ASCII digits at s (sscanf's %4d alone also takes a sign or leading blanks: "2026-+1-01",
 * "2026-01-01T 1: 2Z") */
static bool iso_digits(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static int parse_iso8601(const char *s, int64_t *ret_us)
{
        int y, mo, d, h = 0, mi = 0, n = 0;
        double sec = 0;
        if (!iso_digits(s, 4) || s[4] != '-' || !iso_digits(s + 5, 2) || s[7] != '-' ||
            !iso_digits(s + 8, 2))
                return -EINVAL;
        if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
                return -EINVAL;
        const char *p = s + n;
        if (*p == 'T' || *p == 't' || *p == ' ') {
                int m2 = 0;
                p++;
                if (!iso_digits(p, 2) || p[2] != ':' || !iso_digits(p + 3, 2) ||
                    sscanf(p, "%2d:%2d%n", &h, &mi, &m2) != 2 || m2 != 5)
                        return -EINVAL;
                p += m2;
                if (*p == ':') {
                        /* ss or ss.fraction; strtod alone would take "1e1" and hex */
                        char *end;
                        size_t len = 2;
                        p++;
                        if (!iso_digits(p, 2))
                                return -EINVAL;
                        if (p[2] == '.') {
                                for (len = 3; isdigit((unsigned char)p[len]); len++)
                                        ;
                                if (len == 3)
                                        return -EINVAL;
                        }
                        sec = strtod(p, &end);
                        if (end != p + len)
                                return -EINVAL;
                        p = end;
                }
        }
        int64_t offset_s = 0;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int oh, om, m3 = 0;
                int sign = *p == '-' ? -1 : 1;
                p++;
                if (iso_digits(p, 2) && p[2] == ':' && iso_digits(p + 3, 2) &&
                    sscanf(p, "%2d:%2d%n", &oh, &om, &m3) == 2 && m3 == 5)
                        p += 5;
                else if (iso_digits(p, 4) && sscanf(p, "%2d%2d%n", &oh, &om, &m3) == 2 && m3 == 4)
                        p += 4;
                else
                        return -EINVAL;
                offset_s = sign * (oh * 3600 + om * 60);
        }
        if (*p)
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61)
                return -EINVAL;
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
                return -EINVAL;
        int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
        int64_t secs = days * 86400 + h * 3600 + mi * 60 - offset_s;
        *ret_us = secs * (int64_t)USEC_PER_SEC + (int64_t)llround(sec * 1e6);
        return 0;
}

int parse_time_point(const char *s, int64_t now_us, int64_t *ret_us)
{
        if (!s || !*s)
                return -EINVAL;
        if (strcmp(s, "now") == 0) {
                *ret_us = now_us;
                return 0;
        }
        if (parse_iso8601(s, ret_us) >= 0)
                return 0;
        uint64_t ago;
        if (parse_duration_us(s, &ago) < 0 || ago > (uint64_t)INT64_MAX)
                return -EINVAL;
        *ret_us = now_us - (int64_t)ago;
        return 0;
}

bool regex_too_costly(const char *re)
{
        uint64_t copies = 1;
        bool after_repeat = false;
        for (const char *p = re; *p; p++) {
                uint64_t k = 1;
                bool repeat = false;
                if (*p == '\\') {
                        if (!*++p)
                                break;
                } else if (*p == '[') {
                        /* a bracket expression: its characters are literal ("[]+]", "[^]x]") */
                        p += p[1] == '^' ? 2 : 1;
                        if (*p == ']')
                                p++;
                        while (*p && *p != ']')
                                p++;
                        if (!*p)
                                break;
                } else if (*p == '+') {
                        repeat = true, k = 2;
                } else if (*p == '*' || *p == '?') {
                        repeat = true;
                } else if (*p == '{') {
                        repeat = true;
                        uint64_t hi = 0;
                        for (p++; *p && *p != '}'; p++)
                                if (*p >= '0' && *p <= '9') {
                                        uint64_t v = strtoull(p, (char **)&p, 10);
                                        hi = v > hi ? v : hi;
                                        p--;
                                }
                        if (!*p)
                                break;
                        k = (hi < REGEX_COPIES_MAX ? hi : REGEX_COPIES_MAX) + 1;
                }
                if (repeat && after_repeat)
                        return true;
                after_repeat = repeat;
                copies *= k;
                if (copies > REGEX_COPIES_MAX)
                        return true;
        }
        return false;
}

char *format_duration_us(uint64_t us, char *buf, size_t size)
{
        static const struct {
                uint64_t us;
                const char *suffix;
        } units[] = {
                {86400 * USEC_PER_SEC, "d"},
                {3600 * USEC_PER_SEC, "h"},
                {60 * USEC_PER_SEC, "m"},
                {USEC_PER_SEC, "s"},
                {1000, "ms"},
        };
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (us % units[i].us == 0) {
                        snprintf(buf, size, "%llu%s", (unsigned long long)(us / units[i].us),
                                 us ? units[i].suffix : "s");
                        return buf;
                }
        snprintf(buf, size, "%lluus", (unsigned long long)us);
        return buf;
}

char *format_rfc3339(int64_t us, char *buf, size_t size)
{
        time_t t = (time_t)(us >= 0 ? us / (int64_t)USEC_PER_SEC
                                    : -((-us + (int64_t)USEC_PER_SEC - 1) / (int64_t)USEC_PER_SEC));
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
                if (size > 0)
                        buf[0] = '\0';
        }
        return buf;
}

uint64_t now_monotonic_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t now_thread_cpu_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int64_t now_realtime_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * (int64_t)USEC_PER_SEC + ts.tv_nsec / 1000;
}

void sleep_us(uint64_t us)
{
        struct timespec ts = {.tv_sec = (time_t)(us / USEC_PER_SEC),
                              .tv_nsec = (long)(us % USEC_PER_SEC) * 1000};
        while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
                ;
}

char *strstrip(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t l = strlen(s);
        while (l > 0 && isspace((unsigned char)s[l - 1]))
                s[--l] = '\0';
        return s;
}

bool file_exists_in(const char *dir, const char *name)
{
        char path[4096];
        if (path_fmt(path, sizeof(path), "%s/%s", dir, name) < 0)
                return false;
        return access(path, F_OK) == 0;
}

bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

int array_grow(void **v, size_t *cap, size_t need, size_t elem)
{
        if (need <= *cap)
                return 0;
        size_t c = *cap ? *cap : 16;
        while (c < need) {
                if (c > SIZE_MAX / 2)
                        return -ENOMEM;
                c *= 2;
        }
        if (elem && c > SIZE_MAX / elem)
                return -ENOMEM;
        void *n = realloc(*v, c * elem);
        if (!n)
                return -ENOMEM;
        *v = n;
        *cap = c;
        return 0;
}

bool comma_list_has(const char *s, size_t n, const char *word)
{
        size_t wl = strlen(word);
        while (n > 0) {
                size_t k = 0;
                while (k < n && s[k] != ',')
                        k++;
                if (k == wl && memcmp(s, word, wl) == 0)
                        return true;
                if (k == n)
                        break;
                s += k + 1;
                n -= k + 1;
        }
        return false;
}

#include "daemon/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ACCESSLOG_CHUNK 65536

struct AccessLog {
        char *path;
        bool has_filter;
        regex_t re;
        int fd;
        dev_t dev;
        ino_t ino;
        uint64_t offset;
        char line[ACCESSLOG_LINE_MAX + 1]; /* the partial line carried between reads */
        size_t line_len;
        bool line_started;
        char chunk[ACCESSLOG_CHUNK];
};

/* Opens the log: never waits (O_NONBLOCK: a FIFO's open(2) would wait for a writer, fifo(7)), and
 * only a regular file is read (a FIFO or a device has no offsets to resume from). fd, or -errno. */
static int accesslog_open_file(const char *path, struct stat *st)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        int r = fstat(fd, st) < 0 ? -errno : S_ISREG(st->st_mode) ? 0 : -EINVAL;
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int accesslog_open(const char *path, const char *filter, AccessLog **ret, char *err, size_t errlen)
{
        AccessLog *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->fd = -1;
        a->path = strdup(path);
        if (!a->path) {
                free(a);
                return -ENOMEM;
        }
        if (filter && filter[0] && regex_too_costly(filter)) {
                snprintf(err, errlen, "filter '%s': too many nested repeats to compile", filter);
                free(a->path);
                free(a);
                return -EINVAL;
        }
        if (filter && filter[0]) {
                int rc = regcomp(&a->re, filter, REG_EXTENDED | REG_NOSUB);
                if (rc != 0) {
                        char why[128];
                        regerror(rc, &a->re, why, sizeof(why));
                        snprintf(err, errlen, "filter '%s': %s", filter, why);
                        free(a->path);
                        free(a);
                        return -EINVAL;
                }
                a->has_filter = true;
        }
        struct stat st = {0};
        a->fd = accesslog_open_file(path, &st);
        if (a->fd < 0) {
                a->fd = -1; /* retried, and reported, by accesslog_poll */
        } else {
                a->dev = st.st_dev;
                a->ino = st.st_ino;
                a->offset = (uint64_t)st.st_size; /* start at the end */
        }
        *ret = a;
        return 0;
}

AccessLog *accesslog_free(AccessLog *a)
{
        if (!a)
                return NULL;
        if (a->fd >= 0)
                close(a->fd);
        if (a->has_filter)
                regfree(&a->re);
        free(a->path);
        free(a);
        return NULL;
}

static uint64_t accesslog_end_line(AccessLog *a)
{
        a->line[a->line_len] = '\0';
        bool match = !a->has_filter || regexec(&a->re, a->line, 0, NULL, 0) == 0;
        a->line_len = 0;
        a->line_started = false;
        return match ? 1 : 0;
}

uint64_t accesslog_feed(AccessLog *a, const char *buf, size_t len)
{
        uint64_t lines = 0;
        const char *p = buf, *end = buf + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                size_t n = (size_t)(le - p);
                size_t room = ACCESSLOG_LINE_MAX - a->line_len;
                memcpy(a->line + a->line_len, p, n < room ? n : room);
                a->line_len += n < room ? n : room;
                a->line_started = true;
                if (nl)
                        lines += accesslog_end_line(a);
                p = nl ? nl + 1 : end;
        }
        return lines;
}

/* Reads fd from the offset to its end or the budget. Returns the bytes read, or -errno. */
static int64_t accesslog_read(AccessLog *a, uint64_t budget, uint64_t *lines)
{
        int64_t total = 0;
        while ((uint64_t)total < budget) {
                ssize_t n = pread(a->fd, a->chunk, sizeof(a->chunk), (off_t)a->offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                a->offset += (uint64_t)n;
                total += n;
                *lines += accesslog_feed(a, a->chunk, (size_t)n);
        }
        return total;
}

int accesslog_poll(AccessLog *a, uint64_t *ret_lines)
{
        uint64_t lines = 0, budget = ACCESSLOG_READ_MAX;
        struct stat st;
        int r = 0;
        for (int round = 0; round < 2; round++) {
                if (a->fd >= 0) {
                        if (fstat(a->fd, &st) == 0 && (uint64_t)st.st_size < a->offset) {
                                /* truncated (copytruncate): start over */
                                a->offset = 0;
                                a->line_len = 0;
                                a->line_started = false;
                        }
                        int64_t n = accesslog_read(a, budget, &lines);
                        if (n < 0) {
                                r = (int)n;
                                break;
                        }
                        budget -= (uint64_t)n;
                        if (budget == 0)
                                break; /* the rest next time, rotation or not */
                }
                /* renamed away or replaced? The old file is read to its end above. */
                if (stat(a->path, &st) < 0) {
                        if (errno != ENOENT)
                                r = -errno;
                        break;
                }
                if (a->fd >= 0 && st.st_dev == a->dev && st.st_ino == a->ino)
                        break;
                if (a->fd >= 0) {
                        if (a->line_started && a->line_len > 0)
                                lines += accesslog_end_line(a); /* its last line, unterminated */
                        close(a->fd);
                }
                a->line_len = 0;
                a->line_started = false;
                a->fd = accesslog_open_file(a->path, &st);
                if (a->fd < 0) {
                        r = a->fd == -ENOENT ? 0 : a->fd;
                        a->fd = -1;
                        break;
                }
                a->dev = st.st_dev;
                a->ino = st.st_ino;
                a->offset = 0; /* a new file: from its start */
        }
        *ret_lines = lines;
        return r;
}

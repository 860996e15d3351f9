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

/* Polls a renamed-away file is still read for once nothing more is written to it: a server writes
 * to it until it reopens its log (nginx's USR1 after logrotate's rename, Apache's graceful restart:
 * each child when its request is done), which may come after the poll that saw the rename. */
#define ACCESSLOG_OLD_QUIET_POLLS 10

/* A file being read: where, and the partial line carried between reads. */
typedef struct AccessLogFile {
        int fd;
        uint64_t offset;
        char line[ACCESSLOG_LINE_MAX + 1];
        size_t line_len;
        bool line_started;
} AccessLogFile;

struct AccessLog {
        char *path;
        bool has_filter;
        regex_t re;
        AccessLogFile cur; /* the file at the path */
        dev_t dev;
        ino_t ino;
        AccessLogFile old; /* the file renamed away, while it may still be written to */
        unsigned old_quiet;
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
        a->cur.fd = -1;
        a->old.fd = -1;
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
        a->cur.fd = accesslog_open_file(path, &st);
        if (a->cur.fd < 0) {
                a->cur.fd = -1; /* retried, and reported, by accesslog_poll */
        } else {
                a->dev = st.st_dev;
                a->ino = st.st_ino;
                a->cur.offset = (uint64_t)st.st_size; /* start at the end */
        }
        *ret = a;
        return 0;
}

AccessLog *accesslog_free(AccessLog *a)
{
        if (!a)
                return NULL;
        if (a->cur.fd >= 0)
                close(a->cur.fd);
        if (a->old.fd >= 0)
                close(a->old.fd);
        if (a->has_filter)
                regfree(&a->re);
        free(a->path);
        free(a);
        return NULL;
}

static uint64_t accesslog_end_line(AccessLog *a, AccessLogFile *f)
{
        f->line[f->line_len] = '\0';
        bool match = !a->has_filter || regexec(&a->re, f->line, 0, NULL, 0) == 0;
        f->line_len = 0;
        f->line_started = false;
        return match ? 1 : 0;
}

static uint64_t accesslog_feed_file(AccessLog *a, AccessLogFile *f, const char *buf, size_t len)
{
        uint64_t lines = 0;
        const char *p = buf, *end = buf + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                size_t n = (size_t)(le - p);
                size_t room = ACCESSLOG_LINE_MAX - f->line_len;
                memcpy(f->line + f->line_len, p, n < room ? n : room);
                f->line_len += n < room ? n : room;
                f->line_started = true;
                if (nl)
                        lines += accesslog_end_line(a, f);
                p = nl ? nl + 1 : end;
        }
        return lines;
}

uint64_t accesslog_feed(AccessLog *a, const char *buf, size_t len)
{
        return accesslog_feed_file(a, &a->cur, buf, len);
}

/* Reads f from its offset to its end or the budget. Returns the bytes read, or -errno. */
static int64_t accesslog_read(AccessLog *a, AccessLogFile *f, uint64_t budget, uint64_t *lines)
{
        int64_t total = 0;
        while ((uint64_t)total < budget) {
                ssize_t n = pread(f->fd, a->chunk, sizeof(a->chunk), (off_t)f->offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                f->offset += (uint64_t)n;
                total += n;
                *lines += accesslog_feed_file(a, f, a->chunk, (size_t)n);
        }
        return total;
}

/* Done with the renamed-away file: its last line counts even if unterminated. */
static uint64_t accesslog_old_finish(AccessLog *a)
{
        uint64_t lines = 0;
        if (a->old.fd < 0)
                return 0;
        if (a->old.line_started && a->old.line_len > 0)
                lines = accesslog_end_line(a, &a->old);
        close(a->old.fd);
        a->old.fd = -1;
        return lines;
}

int accesslog_poll(AccessLog *a, uint64_t *ret_lines)
{
        uint64_t lines = 0, budget = ACCESSLOG_READ_MAX;
        struct stat st;
        int r = 0;
        if (a->old.fd >= 0) {
                /* what the server wrote to the renamed-away file since the last poll */
                int64_t n = accesslog_read(a, &a->old, budget, &lines);
                if (n > 0)
                        budget -= (uint64_t)n, a->old_quiet = 0;
                if (n < 0 || (n == 0 && ++a->old_quiet >= ACCESSLOG_OLD_QUIET_POLLS))
                        lines += accesslog_old_finish(a);
        }
        for (int round = 0; round < 2 && budget > 0; round++) {
                if (a->cur.fd >= 0) {
                        if (fstat(a->cur.fd, &st) == 0 && (uint64_t)st.st_size < a->cur.offset) {
                                /* truncated (copytruncate): start over */
                                a->cur.offset = 0;
                                a->cur.line_len = 0;
                                a->cur.line_started = false;
                        }
                        int64_t n = accesslog_read(a, &a->cur, budget, &lines);
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
                if (a->cur.fd >= 0 && st.st_dev == a->dev && st.st_ino == a->ino)
                        break;
                if (a->cur.fd >= 0) {
                        /* kept, and read at the next polls, while the server may write to it */
                        lines += accesslog_old_finish(a);
                        a->old = a->cur;
                        a->old_quiet = 0;
                }
                a->cur.line_len = 0;
                a->cur.line_started = false;
                a->cur.fd = accesslog_open_file(a->path, &st);
                if (a->cur.fd < 0) {
                        r = a->cur.fd == -ENOENT ? 0 : a->cur.fd;
                        a->cur.fd = -1;
                        break;
                }
                a->dev = st.st_dev;
                a->ino = st.st_ino;
                a->cur.offset = 0; /* a new file: from its start */
        }
        *ret_lines = lines;
        return r;
}

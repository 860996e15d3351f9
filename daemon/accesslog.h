#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Requests from an access log: each complete line appended to the file is one request (or, with
 * a filter, each line the POSIX extended regular expression matches).
 *
 * Reading starts at the end of the file as it is when opened (what was logged before the daemon
 * started is not counted again); a file that does not exist yet is read from its start once it
 * appears. Rotation:
 *   - by rename (logrotate's default, nginx's USR1 reopen): the path names a new inode; the old
 *     file is read to its end first (the server may still have written to it), then the new one
 *     is opened and read from its start. The old file stays open and is read at the next polls
 *     too, until it has not grown for 10 polls (the server writes to it until it reopens);
 *   - by truncation (copytruncate): the size falls below the offset read; reading starts over at 0.
 * Each poll reads at most ACCESSLOG_READ_MAX bytes so a huge backlog cannot stall a tick; the rest
 * is read at the next polls. A line longer than ACCESSLOG_LINE_MAX still counts as one line; the
 * filter sees its first ACCESSLOG_LINE_MAX bytes. Only a regular file (or a symlink to one) is
 * read: anything else at the path (a FIFO, a device) is -EINVAL from accesslog_poll, and is never
 * opened in a way that could wait. */

#define ACCESSLOG_READ_MAX (8u << 20)
#define ACCESSLOG_LINE_MAX 16384

typedef struct AccessLog AccessLog;

/* filter: NULL or "" for every line. err says what is wrong with the filter. */
int accesslog_open(const char *path, const char *filter, AccessLog **ret, char *err,
                   size_t errlen) WARN_UNUSED;
AccessLog *accesslog_free(AccessLog *a);

/* Reads what was appended since the last poll; *ret_lines gets the complete lines counted.
 * Returns 0, or -errno when the file cannot be read (missing: 0 lines, not an error). */
int accesslog_poll(AccessLog *a, uint64_t *ret_lines) WARN_UNUSED;

/* The matcher alone, no I/O: takes the next len bytes of the log (any split, a line may continue
 * from the previous call) and returns how many lines they complete that pass the filter. */
uint64_t accesslog_feed(AccessLog *a, const char *buf, size_t len);

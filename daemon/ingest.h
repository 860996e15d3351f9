#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collectors/roots.h"
#include "common/util.h"

/* The request ingest socket: a unix datagram socket taking StatsD counter lines.
 *
 * Line format (one or more per datagram, separated by '\n'):
 *     NAME:VALUE|c[|@RATE][|#TAG,TAG...]
 *   NAME   [A-Za-z0-9_.-], 1..127 characters ("requests", "orders", "http.ok")
 *   VALUE  a non-negative decimal, digits with an optional fraction ("1", "2.5")
 *   RATE   the sample rate, 0 < RATE <= 1: the count stored is VALUE / RATE
 *   TAG    "unit:x.service" names the unit counted for; other tags are ignored
 * Anything else (another metric type, a negative, non-numeric, NaN or infinite value, a line longer
 * than INGEST_LINE_MAX, binary junk) is malformed. An empty line (a trailing '\n') is skipped.
 *
 * Who counts for whom. The kernel attaches the sender's credentials (SO_PASSCRED, SCM_CREDENTIALS:
 * a PID, uid and gid it has checked) to every datagram; the PID is mapped to its systemd unit
 * (units_pid_get_unit) and the counts go to that unit, so a service can only count for itself.
 * A sender in no unit counts for the pseudo-unit `unattributed`. A `unit:` tag is honoured only
 * from uid 0 or from a trusted sender (its uid, or its unit's name, in the configured lists: a
 * load balancer counting for its backends); from anyone else the line is rejected. A sender that
 * exited before its datagram was read cannot be mapped: its lines are rejected too. So a
 * one-shot shell client must outlive its send by a moment:
 *     { echo 'requests:1|c'; sleep 0.1; } | socat -u - UNIX-SENDTO:/run/joules/ingest.sock
 * (without the sleep, socat often exits before joulesd reads the datagram: measured 6 to 10 of
 * 50 lost here). Long-running services (include/joules/ingest.h) are not affected.
 *
 * systemd. A unix datagram socket passed by socket activation (sd_listen_fds) is used instead of
 * creating one; joulesd.socket needs PassCredentials=yes so datagrams queued before joulesd
 * starts carry credentials too (without them they are rejected).
 *
 * PID -> unit answers are cached for INGEST_PID_CACHE_US: a PID can be reused by another process
 * (in another unit) once its owner exits, so the cache is kept short and keyed by PID and uid.
 *
 * Cost. Datagrams are read INGEST_MMSG at a time (recvmmsg), the clock is read once per batch, a
 * sender seen within the cache's second costs no system call, and lines are parsed in place in
 * the receive buffer (names and unit tags NUL-terminated where they lie, nothing copied). A wakeup
 * costs more than reading a datagram here (about 1 us of scheduling on this VM), so while
 * datagrams stream in the next read is put off a little (ingest_read_after_ns). */
#define INGEST_LINE_MAX     1024    /* bytes, without the newline */
#define INGEST_DGRAM_MAX    65536   /* a longer datagram is oversized, dropped whole */
#define INGEST_NAME_MAX     128     /* NAME, NUL included */
#define INGEST_UNIT_MAX     288     /* a unit's display name, NUL included */
#define INGEST_VALUE_MAX    1e12    /* one line's count (after the sample rate) */
#define INGEST_PID_CACHE_US 1000000 /* 1 s */
#define INGEST_BATCH_MAX    4096    /* datagrams read per wakeup */
#define INGEST_MMSG         32      /* datagrams per recvmmsg() */
#define INGEST_COALESCE_NS  2000000 /* 2 ms: the longest a drain is put off */
#define INGEST_DEFAULT_PATH "/run/joules/ingest.sock"

typedef struct IngestLine {
        char name[INGEST_NAME_MAX];
        double count; /* VALUE / RATE */
        bool has_unit;
        char unit[INGEST_UNIT_MAX];
} IngestLine;

/* One parsed line as views into the bytes parsed: nothing is copied (the daemon's path). */
typedef struct IngestLineView {
        const char *name; /* name_len bytes, not NUL-terminated */
        size_t name_len;
        double count;
        const char *unit; /* NULL: no unit tag; else unit_len bytes, a valid unit name */
        size_t unit_len;
} IngestLineView;

/* Parses one line (len bytes, no newline, not NUL-terminated). 0, or -EINVAL when malformed.
 * ingest_scan_line is the parser; ingest_parse_line is the same with the strings copied out. */
int ingest_scan_line(const char *s, size_t len, IngestLineView *ret) WARN_UNUSED;
int ingest_parse_line(const char *s, size_t len, IngestLine *ret) WARN_UNUSED;

/* Is name a unit name a tag may give: a system unit ("x.service", "a@b.scope") or a user unit
 * display name ("user@1000/x.service"); slices and pseudo-units are not. */
bool ingest_unit_name_valid(const char *name);

typedef struct IngestStats {
        uint64_t accepted;  /* lines counted */
        uint64_t rejected;  /* well-formed lines refused: foreign unit tag, unknown sender */
        uint64_t malformed; /* bad lines, plus oversized or unreadable datagrams */
} IngestStats;

/* Where accepted counts go: unit is the display name, name the metric. false: refused (a limit),
 * the line is counted as rejected. */
typedef bool (*IngestSink)(void *userdata, const char *unit, const char *name, double count);

typedef struct IngestOptions {
        const char *path;          /* socket path */
        const JoulesRoots *roots;  /* for PID -> unit */
        const char *trusted_units; /* space/comma separated unit names; may be NULL */
        const char *trusted_uids;  /* space/comma separated uids; may be NULL */
        IngestSink sink;
        void *userdata;
} IngestOptions;

typedef struct Ingest Ingest;

/* Uses the socket systemd passed (sd_listen_fds: a unix datagram socket bound to opts->path), or
 * creates it: the directory (0755) if missing, a stale socket file replaced, mode 0660 and group
 * `joules` when that group exists. -EADDRINUSE when another live process owns the path.
 * err says what failed. */
int ingest_open(const IngestOptions *opts, Ingest **ret, char *err, size_t errlen) WARN_UNUSED;
Ingest *ingest_free(Ingest *in);
int ingest_fd(const Ingest *in);
bool ingest_from_systemd(const Ingest *in);

/* Reads pending datagrams (at most INGEST_BATCH_MAX), never blocks. Returns how many were read. */
int ingest_drain(Ingest *in);

/* When the socket next needs reading: 0, as soon as it is readable; else a CLOCK_MONOTONIC time
 * (ns) before which the caller leaves it out of its poll set. Wakeups are coalesced while
 * datagrams stream in: after a drain, the next one is put off for as long as the rate just seen
 * takes to fill half the socket's queue (net.unix.max_dgram_qlen), at most INGEST_COALESCE_NS. */
uint64_t ingest_read_after_ns(const Ingest *in);

/* The counts since the last call, then zeroes them. */
void ingest_take_stats(Ingest *in, IngestStats *ret);

/* Processes one datagram as if it came from pid/uid (the socket path calls this; tests too). */
void ingest_datagram(Ingest *in, const char *buf, size_t len, pid_t pid, uid_t uid);

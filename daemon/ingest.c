#include "daemon/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "collectors/cgroup.h"
#include "collectors/units.h"
#include "common/log.h"

#define INGEST_CACHE_SLOTS   512
#define INGEST_TRUSTED_MAX   64
#define INGEST_LOG_EVERY_NS  (60 * NSEC_PER_SEC)
#define INGEST_FDS_PER_DGRAM 16
#define INGEST_BUF_SIZE      (INGEST_DGRAM_MAX + 2) /* + 1 to see an oversized one, + 1 for a NUL */

typedef struct IngestCacheEntry {
        pid_t pid;
        uid_t uid;
        uint64_t expires_ns;
        bool in_unit; /* false: in no unit (counted as unattributed) */
        bool trusted;
        char unit[INGEST_UNIT_MAX];
} IngestCacheEntry;

struct Ingest {
        int fd;
        bool from_systemd;
        bool created; /* we bound the path: unlink it on free */
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        JoulesRoots roots;
        IngestSink sink;
        void *userdata;
        char trusted_units[INGEST_TRUSTED_MAX][INGEST_UNIT_MAX];
        size_t n_trusted_units;
        uid_t trusted_uids[INGEST_TRUSTED_MAX];
        size_t n_trusted_uids;
        IngestStats stats;
        /* what is logged at most once a minute */
        uint64_t last_log_ns;
        uint64_t malformed_since_log, rejected_since_log;
        char last_problem[256];
        IngestCacheEntry cache[INGEST_CACHE_SLOTS];
        unsigned qlen;          /* the socket's queue limit, in datagrams */
        uint64_t last_drain_ns; /* when the previous drain ended */
        uint64_t read_after_ns; /* see ingest_read_after_ns */
        /* one recvmmsg() batch: INGEST_MMSG buffers of INGEST_BUF_SIZE bytes (allocated apart:
         * pages a small datagram does not reach are never touched, so never resident) */
        char *bufs;
        struct iovec iov[INGEST_MMSG];
        struct mmsghdr msgs[INGEST_MMSG];
        union {
                char buf[CMSG_SPACE(sizeof(struct ucred)) +
                         CMSG_SPACE(sizeof(int) * INGEST_FDS_PER_DGRAM)];
                struct cmsghdr align;
        } ctl[INGEST_MMSG];
};

/* ---- the line parser ---- */

static bool ingest_name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
}

bool ingest_unit_name_valid(const char *name)
{
        char unit[CGROUP_UNIT_NAME_MAX];
        CgroupUnitKind kind;
        size_t len = strlen(name);
        if (len == 0 || len >= INGEST_UNIT_MAX)
                return false;
        if (startswith(name, "user@")) {
                /* "user@UID/NAME": the display name of a user unit */
                const char *p = name + 5, *slash = strchr(name, '/');
                if (slash && slash > p) {
                        for (const char *q = p; q < slash; q++)
                                if (*q < '0' || *q > '9')
                                        return false;
                        name = slash + 1;
                        len = strlen(name);
                }
        }
        if (len == 0 || name[0] == '_') /* no cgroup escaping in a name given by hand */
                return false;
        if (cgroup_name_classify(name, len, unit, sizeof(unit), &kind) < 0)
                return false;
        return kind != CGROUP_UNIT_SLICE && strcmp(unit, name) == 0;
}

/* A non-negative decimal: digits, an optional fraction. Whole numbers of up to 15 digits (all a
 * counter sends) are converted here, exactly; fractions go through strtod. */
static int ingest_parse_value(const char *s, size_t len, double *ret)
{
        size_t i = 0, digits = 0;
        uint64_t whole = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (digits < 15)
                        whole = whole * 10 + (uint64_t)(s[i] - '0');
                i++, digits++;
        }
        if (i == len && digits > 0 && digits <= 15) {
                *ret = (double)whole; /* < 10^15 < 2^53: exact */
                return 0;
        }
        if (i < len && s[i] == '.') {
                i++;
                while (i < len && s[i] >= '0' && s[i] <= '9')
                        i++, digits++;
        }
        if (digits == 0 || i != len || len > 64)
                return -EINVAL;
        char tmp[65];
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        double v = strtod(tmp, NULL);
        if (!isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

int ingest_scan_line(const char *s, size_t len, IngestLineView *ret)
{
        IngestLineView l = {0};
        if (len > INGEST_LINE_MAX)
                return -EINVAL;
        const char *end = s + len;
        const char *colon = memchr(s, ':', len);
        if (!colon || colon == s || (size_t)(colon - s) >= INGEST_NAME_MAX)
                return -EINVAL;
        for (const char *p = s; p < colon; p++)
                if (!ingest_name_char(*p))
                        return -EINVAL;
        l.name = s;
        l.name_len = (size_t)(colon - s);

        const char *v = colon + 1;
        const char *bar = memchr(v, '|', (size_t)(end - v));
        if (!bar)
                return -EINVAL;
        double value;
        if (ingest_parse_value(v, (size_t)(bar - v), &value) < 0)
                return -EINVAL;

        /* the type, then optional |@rate and |#tags sections */
        const char *p = bar + 1;
        const char *next = memchr(p, '|', (size_t)(end - p));
        const char *type_end = next ? next : end;
        if (type_end - p != 1 || p[0] != 'c')
                return -EINVAL;
        double rate = 1;
        bool seen_rate = false, seen_tags = false;
        while (next) {
                p = next + 1;
                next = memchr(p, '|', (size_t)(end - p));
                const char *sec_end = next ? next : end;
                if (p < sec_end && p[0] == '@' && !seen_rate) {
                        seen_rate = true;
                        if (ingest_parse_value(p + 1, (size_t)(sec_end - p - 1), &rate) < 0 ||
                            rate <= 0 || rate > 1)
                                return -EINVAL;
                } else if (p < sec_end && p[0] == '#' && !seen_tags) {
                        seen_tags = true;
                        const char *t = p + 1;
                        while (t < sec_end) {
                                const char *comma = memchr(t, ',', (size_t)(sec_end - t));
                                const char *t_end = comma ? comma : sec_end;
                                if (t_end - t >= 5 && memcmp(t, "unit:", 5) == 0) {
                                        /* tags are rare: only a unit tag is copied, to check it */
                                        char unit[INGEST_UNIT_MAX];
                                        size_t ul = (size_t)(t_end - t - 5);
                                        if (l.unit || ul >= sizeof(unit))
                                                return -EINVAL;
                                        memcpy(unit, t + 5, ul);
                                        unit[ul] = '\0';
                                        if (!ingest_unit_name_valid(unit))
                                                return -EINVAL;
                                        l.unit = t + 5;
                                        l.unit_len = ul;
                                }
                                for (const char *q = t; q < t_end; q++)
                                        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
                                                return -EINVAL;
                                t = comma ? comma + 1 : sec_end;
                        }
                } else {
                        return -EINVAL;
                }
        }
        l.count = rate == 1 ? value : value / rate;
        if (!isfinite(l.count) || l.count > INGEST_VALUE_MAX)
                return -EINVAL;
        *ret = l;
        return 0;
}

int ingest_parse_line(const char *s, size_t len, IngestLine *ret)
{
        IngestLineView v;
        int r = ingest_scan_line(s, len, &v);
        if (r < 0)
                return r;
        IngestLine l = {.count = v.count, .has_unit = v.unit != NULL};
        memcpy(l.name, v.name, v.name_len);
        if (v.unit)
                memcpy(l.unit, v.unit, v.unit_len);
        *ret = l;
        return 0;
}

/* ---- the socket ---- */

static void ingest_parse_trusted(Ingest *in, const char *units, const char *uids)
{
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s", units ? units : "");
        char *save = NULL;
        for (char *t = strtok_r(tmp, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save))
                if (in->n_trusted_units < INGEST_TRUSTED_MAX)
                        snprintf(in->trusted_units[in->n_trusted_units++], INGEST_UNIT_MAX, "%s",
                                 t);
        snprintf(tmp, sizeof(tmp), "%s", uids ? uids : "");
        for (char *t = strtok_r(tmp, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save)) {
                uint64_t u;
                if (parse_u64(t, &u) == 0 && in->n_trusted_uids < INGEST_TRUSTED_MAX)
                        in->trusted_uids[in->n_trusted_uids++] = (uid_t)u;
        }
}

/* A unix datagram socket passed by systemd (joulesd.socket, ListenDatagram=): the one bound to
 * our path, else the first one (its unit file names the path; it wins over the config). */
static int ingest_take_systemd_socket(Ingest *in)
{
        int n = sd_listen_fds(0), any = -1;
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                if (sd_is_socket_unix(fd, SOCK_DGRAM, -1, in->path, 0) > 0) {
                        in->fd = fd;
                        in->from_systemd = true;
                        return 1;
                }
                if (any < 0 && sd_is_socket_unix(fd, SOCK_DGRAM, -1, NULL, 0) > 0)
                        any = fd;
        }
        if (any < 0)
                return 0;
        struct sockaddr_un sa = {0};
        socklen_t len = sizeof(sa);
        if (getsockname(any, (struct sockaddr *)&sa, &len) == 0 && sa.sun_path[0]) {
                log_notice("ingest: using the socket systemd passed, %s, instead of %s",
                           sa.sun_path, in->path);
                snprintf(in->path, sizeof(in->path), "%s", sa.sun_path);
        }
        in->fd = any;
        in->from_systemd = true;
        return 1;
}

/* Is someone listening on path? A datagram connect() to a dead socket file is refused. */
static bool ingest_path_live(const struct sockaddr_un *sa)
{
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return true;
        int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
        int e = errno;
        close(fd);
        return r == 0 || (e != ECONNREFUSED && e != ENOENT);
}

static int ingest_create_socket(Ingest *in, char *err, size_t errlen)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", in->path);
        char dir[sizeof(in->path)];
        snprintf(dir, sizeof(dir), "%s", in->path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                        int r = -errno;
                        snprintf(err, errlen, "creating %s: %s", dir, strerror(errno));
                        return r;
                }
        }
        in->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (in->fd < 0) {
                int r = -errno;
                snprintf(err, errlen, "socket: %s", strerror(errno));
                return r;
        }
        /* bind() creates the file with the umask applied: start closed, open up after chown */
        mode_t old = umask(0177);
        int r = bind(in->fd, (struct sockaddr *)&sa, sizeof(sa));
        if (r < 0 && errno == EADDRINUSE) {
                if (ingest_path_live(&sa)) {
                        umask(old);
                        snprintf(err, errlen, "%s is in use by another process (another joulesd?)",
                                 in->path);
                        return -EADDRINUSE;
                }
                (void)unlink(in->path); /* a stale socket left by a crash */
                r = bind(in->fd, (struct sockaddr *)&sa, sizeof(sa));
        }
        int e = errno;
        umask(old);
        if (r < 0) {
                snprintf(err, errlen, "binding %s: %s", in->path, strerror(e));
                return -e;
        }
        in->created = true;
        /* Under joulesd.service (Group=joules) the socket is created in group joules already,
         * and the unit's system call filter (~@privileged) refuses even a chown that changes
         * nothing: only a socket in another group is changed. */
        struct group gr, *g = NULL;
        char gbuf[4096];
        struct stat st;
        if (getgrnam_r("joules", &gr, gbuf, sizeof(gbuf), &g) == 0 && g &&
            (stat(in->path, &st) < 0 || st.st_gid != g->gr_gid) &&
            chown(in->path, (uid_t)-1, g->gr_gid) < 0)
                log_warning("ingest: chown %s to group joules: %s", in->path, strerror(errno));
        if (chmod(in->path, 0660) < 0) {
                r = -errno;
                snprintf(err, errlen, "chmod %s: %s", in->path, strerror(errno));
                return r;
        }
        return 0;
}

int ingest_open(const IngestOptions *opts, Ingest **ret, char *err, size_t errlen)
{
        Ingest *in = calloc(1, sizeof(*in));
        if (!in)
                return -ENOMEM;
        in->fd = -1;
        int r;
        in->bufs = malloc((size_t)INGEST_MMSG * INGEST_BUF_SIZE);
        if (!in->bufs) {
                snprintf(err, errlen, "out of memory");
                r = -ENOMEM;
                goto fail;
        }
        if (strlen(opts->path) >= sizeof(in->path)) {
                snprintf(err, errlen, "%s: path too long for a unix socket", opts->path);
                r = -ENAMETOOLONG;
                goto fail;
        }
        snprintf(in->path, sizeof(in->path), "%s", opts->path);
        in->roots = opts->roots ? *opts->roots : JOULES_ROOTS_DEFAULT;
        in->sink = opts->sink;
        in->userdata = opts->userdata;
        ingest_parse_trusted(in, opts->trusted_units, opts->trusted_uids);

        if (ingest_take_systemd_socket(in) == 0) {
                r = ingest_create_socket(in, err, errlen);
                if (r < 0)
                        goto fail;
        } else {
                int fl = fcntl(in->fd, F_GETFL);
                if (fl < 0 || fcntl(in->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
                        r = -errno;
                        snprintf(err, errlen, "fcntl: %s", strerror(errno));
                        goto fail;
                }
        }
        int one = 1, rcvbuf = 4 << 20;
        if (setsockopt(in->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
                r = -errno;
                snprintf(err, errlen, "SO_PASSCRED on %s: %s", in->path, strerror(errno));
                goto fail;
        }
        (void)setsockopt(in->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        /* the limit this network namespace gives new unix sockets; the kernel's default if unread
         */
        char q[32];
        uint64_t qlen;
        in->qlen = 10;
        if (read_text("/proc/sys/net/unix/max_dgram_qlen", q, sizeof(q)) >= 0 &&
            parse_u64(strstrip(q), &qlen) == 0 && qlen > 0 && qlen < 1000000)
                in->qlen = (unsigned)qlen;
        if (in->qlen < 2 * INGEST_MMSG)
                log_info("ingest: net.unix.max_dgram_qlen is %u, so the socket queues only %u "
                         "datagrams: under load every few need a wakeup of their own (2 to 3 "
                         "instead of 0.6 us of CPU per datagram on the build machine). systemd "
                         "sets 512 (sysctl.d/50-default.conf); set it before joulesd starts",
                         in->qlen, in->qlen);
        in->last_drain_ns = now_monotonic_ns();
        *ret = in;
        return 0;
fail:
        ingest_free(in);
        return r;
}

Ingest *ingest_free(Ingest *in)
{
        if (!in)
                return NULL;
        if (in->fd >= 0 && !in->from_systemd) {
                close(in->fd);
                if (in->created)
                        (void)unlink(in->path);
        }
        free(in->bufs);
        free(in);
        return NULL;
}

int ingest_fd(const Ingest *in)
{
        return in ? in->fd : -1;
}

bool ingest_from_systemd(const Ingest *in)
{
        return in && in->from_systemd;
}

static void ingest_log_summary(Ingest *in, uint64_t now)
{
        log_warning("ingest %s: %llu malformed and %llu rejected line(s) since the last report "
                    "(reported at most once a minute); latest: %s",
                    in->path, (unsigned long long)in->malformed_since_log,
                    (unsigned long long)in->rejected_since_log, in->last_problem);
        in->last_log_ns = now;
        in->malformed_since_log = in->rejected_since_log = 0;
        in->last_problem[0] = '\0';
}

void ingest_take_stats(Ingest *in, IngestStats *ret)
{
        *ret = in->stats;
        in->stats = (IngestStats){0};
        /* problems held back within the minute are reported once it is over */
        uint64_t now = now_monotonic_ns();
        if ((in->malformed_since_log || in->rejected_since_log) &&
            now - in->last_log_ns >= INGEST_LOG_EVERY_NS)
                ingest_log_summary(in, now);
}

static void ingest_problem(Ingest *in, bool malformed, const char *fmt, ...) PRINTF(3, 4);
static void ingest_problem(Ingest *in, bool malformed, const char *fmt, ...)
{
        if (malformed) {
                in->stats.malformed++;
                in->malformed_since_log++;
        } else {
                in->stats.rejected++;
                in->rejected_since_log++;
        }
        uint64_t now = now_monotonic_ns();
        bool due = in->last_log_ns == 0 || now - in->last_log_ns >= INGEST_LOG_EVERY_NS;
        if (!due && in->last_problem[0])
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(in->last_problem, sizeof(in->last_problem), fmt, ap);
        va_end(ap);
        if (due)
                ingest_log_summary(in, now);
}

/* The sender's unit, cached briefly (now: the batch's clock). NULL when the PID is gone. */
static const IngestCacheEntry *ingest_sender(Ingest *in, pid_t pid, uid_t uid, uint64_t now)
{
        IngestCacheEntry *e = &in->cache[(unsigned)pid % INGEST_CACHE_SLOTS];
        if (e->pid == pid && e->uid == uid && now < e->expires_ns)
                return e;
        CgroupUnitId id;
        int r = units_pid_get_unit(&in->roots, pid, &id, NULL);
        if (r < 0 && r != -ENXIO)
                return NULL;
        *e = (IngestCacheEntry){
                .pid = pid, .uid = uid, .expires_ns = now + INGEST_PID_CACHE_US * NSEC_PER_USEC};
        e->in_unit = r == 0;
        snprintf(e->unit, sizeof(e->unit), "%s", r == 0 ? id.display : "unattributed");
        e->trusted = uid == 0;
        for (size_t i = 0; i < in->n_trusted_uids && !e->trusted; i++)
                e->trusted = in->trusted_uids[i] == uid;
        for (size_t i = 0; i < in->n_trusted_units && !e->trusted && e->in_unit; i++)
                e->trusted = strcmp(in->trusted_units[i], e->unit) == 0;
        return e;
}

/* Counts one datagram's lines. buf has room for one more byte than len: names and unit tags are
 * NUL-terminated where they lie (over the ':' or the byte after the tag), once their line has
 * been parsed. */
static void ingest_datagram_in_place(Ingest *in, char *buf, size_t len, pid_t pid, uid_t uid,
                                     uint64_t now)
{
        const IngestCacheEntry *sender = NULL;
        bool looked_up = false;
        char *p = buf, *end = buf + len;
        while (p < end) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *line_end = nl ? nl : end;
                size_t ll = (size_t)(line_end - p);
                if (ll > 0 && p[ll - 1] == '\r')
                        ll--;
                if (ll > 0) {
                        IngestLineView l;
                        if (ingest_scan_line(p, ll, &l) < 0) {
                                char shown[81];
                                size_t k = 0;
                                for (; k < ll && k < sizeof(shown) - 1; k++)
                                        shown[k] = p[k] >= 0x20 && p[k] < 0x7f ? p[k] : '?';
                                shown[k] = '\0';
                                ingest_problem(in, true,
                                               "PID %d sent a malformed line (%zu bytes): '%s'",
                                               (int)pid, ll, shown);
                        } else {
                                char *name = p, *unit = (char *)l.unit;
                                name[l.name_len] = '\0';
                                if (unit)
                                        unit[l.unit_len] = '\0';
                                if (!looked_up) {
                                        sender = ingest_sender(in, pid, uid, now);
                                        looked_up = true;
                                }
                                if (!sender)
                                        ingest_problem(in, false,
                                                       "PID %d exited before its datagram was "
                                                       "read: its unit is unknown",
                                                       (int)pid);
                                else if (unit && !sender->trusted &&
                                         strcmp(unit, sender->unit) != 0)
                                        ingest_problem(in, false,
                                                       "PID %d (%s, uid %u) may not count for %s "
                                                       "(not a trusted sender)",
                                                       (int)pid, sender->unit, (unsigned)uid, unit);
                                else {
                                        const char *u = unit ? unit : sender->unit;
                                        if (!in->sink || in->sink(in->userdata, u, name, l.count))
                                                in->stats.accepted++;
                                        else
                                                ingest_problem(in, false,
                                                               "%s counts more metric names in "
                                                               "one tick than allowed ('%s' "
                                                               "dropped)",
                                                               u, name);
                                }
                        }
                }
                p = nl ? nl + 1 : end;
        }
}

void ingest_datagram(Ingest *in, const char *buf, size_t len, pid_t pid, uid_t uid)
{
        if (len > INGEST_DGRAM_MAX) {
                ingest_problem(in, true, "PID %d sent an oversized datagram (%zu bytes)", (int)pid,
                               len);
                return;
        }
        memcpy(in->bufs, buf, len);
        ingest_datagram_in_place(in, in->bufs, len, pid, uid, now_monotonic_ns());
}

/* One received datagram: descriptors closed, size and credentials checked, lines counted. */
static void ingest_received(Ingest *in, struct msghdr *mh, size_t len, uint64_t now)
{
        struct ucred *cred = NULL;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        cred = (struct ucred *)CMSG_DATA(c);
                else if (c->cmsg_type == SCM_RIGHTS) {
                        /* never keep descriptors a sender pushes at us */
                        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t k = 0; k < nfd; k++) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
                                close(fd);
                        }
                }
        }
        if (len > INGEST_DGRAM_MAX || (mh->msg_flags & MSG_TRUNC)) {
                ingest_problem(in, true, "PID %d sent an oversized datagram (%zu bytes)",
                               cred ? (int)cred->pid : 0, len);
                return;
        }
        if (!cred || cred->pid <= 0) {
                ingest_problem(in, false, "a datagram without sender credentials");
                return;
        }
        ingest_datagram_in_place(in, mh->msg_iov->iov_base, len, cred->pid, cred->uid, now);
}

int ingest_drain(Ingest *in)
{
        int n = 0;
        uint64_t now = now_monotonic_ns();
        while (n < INGEST_BATCH_MAX) {
                for (size_t i = 0; i < INGEST_MMSG; i++) {
                        in->iov[i] = (struct iovec){.iov_base = in->bufs + i * INGEST_BUF_SIZE,
                                                    .iov_len = INGEST_BUF_SIZE - 1};
                        in->msgs[i] =
                                (struct mmsghdr){.msg_hdr = {
                                                         .msg_iov = &in->iov[i],
                                                         .msg_iovlen = 1,
                                                         .msg_control = in->ctl[i].buf,
                                                         .msg_controllen = sizeof(in->ctl[i].buf),
                                                 }};
                }
                /* MSG_TRUNC: each msg_len is the datagram's real length, so an oversized one is
                 * told apart from one that just fits */
                int k = recvmmsg(in->fd, in->msgs, INGEST_MMSG,
                                 MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC, NULL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                ingest_problem(in, true, "recvmmsg: %s", strerror(errno));
                        break;
                }
                for (int i = 0; i < k; i++)
                        ingest_received(in, &in->msgs[i].msg_hdr, in->msgs[i].msg_len, now);
                n += k;
                if (k < INGEST_MMSG) /* the queue is empty: no need to ask again */
                        break;
        }
        uint64_t end = now_monotonic_ns(), gap = end - in->last_drain_ns;
        in->last_drain_ns = end;
        in->read_after_ns = 0;
        /* with a short queue (the kernel's default of 10) a drain gets a few datagrams however
         * long it waits, and waking on a timer costs what waking on data costs: read at once */
        if (n > 0 && n < INGEST_BATCH_MAX && in->qlen >= 2 * INGEST_MMSG) {
                /* at the rate just seen (n since the last drain), half the queue fills in: */
                double fill_ns = (double)gap * (in->qlen / 2.0) / n;
                in->read_after_ns = end + (fill_ns < INGEST_COALESCE_NS ? (uint64_t)fill_ns
                                                                        : INGEST_COALESCE_NS);
        }
        return n;
}

uint64_t ingest_read_after_ns(const Ingest *in)
{
        return in ? in->read_after_ns : 0;
}

/* The tick journal: joulesd appends each tick to <history>-ticks with one write and commits the
 * history's SQLite transaction only every few seconds (store_commit). A tick's record is the
 * block the store already queues it in (PendingTick: the tick, its arrays and its strings in one
 * allocation), so appending costs a checksum and a pwritev; SQLite's transaction per tick (its
 * locks, page writes and WAL frames, all cold after a second's sleep) was a third of what a tick
 * cost. A crash loses nothing the journal holds: the next start replays it. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/util.h"

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* Bump when PendingTick or a value struct changes its fields without changing its size: a
 * journal from another build is then set aside instead of misread. */
#define JOURNAL_FORMAT 1u
#define JOURNAL_MAGIC  0x4b54534au /* "JSTK" */
/* A record larger than this is corrupt: a tick with 2,000 units and 10 processes each is about
 * 1.5 MiB. */
#define JOURNAL_RECORD_MAX (64u << 20)

typedef struct JournalHeader {
        uint32_t magic;
        uint32_t layout;
        uint64_t bytes; /* of the block that follows */
        uint64_t sum;   /* store_journal_sum of the block */
} JournalHeader;

uint64_t store_journal_sum(const void *data, size_t len)
{
        /* FNV-1a over 64-bit words (the block is a multiple of 8 bytes), then a final mix: a
         * torn or overwritten record fails it, and it costs well under a microsecond a tick. */
        uint64_t h = UINT64_C(0xcbf29ce484222325) ^ len;
        const unsigned char *p = data;
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                h = (h ^ w) * UINT64_C(0x100000001b3);
        }
        for (; i < len; i++)
                h = (h ^ p[i]) * UINT64_C(0x100000001b3);
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        return h;
}

static uint32_t journal_layout(void)
{
        const size_t sizes[] = {
                JOURNAL_FORMAT,
                sizeof(PendingTick),
                offsetof(PendingTick, t),
                sizeof(StoreDomainValue),
                sizeof(StoreUnitValue),
                sizeof(StoreProcValue),
                sizeof(StoreCounterValue),
                sizeof(StoreProcCounterValue),
                sizeof(StoreRequestValue),
        };
        return (uint32_t)store_journal_sum(sizes, sizeof(sizes));
}

/* Points a block's arrays and strings at where they lie in it, from its counts; the same walk
 * lays a new block out (store_pending_copy) and checks one read back from the journal, where a
 * pointer read back only tells whether it was set (drop_reason, ingest). -EBADMSG when the
 * counts or strings do not fit the size. */
int store_pending_link(PendingTick *p, size_t size)
{
        if (size < ALIGN8(sizeof(PendingTick)) || size % 8 != 0)
                return -EBADMSG;
        char *at = (char *)p + ALIGN8(sizeof(PendingTick)), *end = (char *)p + size;
        StoreTick *t = &p->t;
#define LINK(field, n)                                                                             \
        do {                                                                                       \
                if ((n) > (size_t)(end - at) / sizeof(*t->field))                                  \
                        return -EBADMSG;                                                           \
                size_t len = ALIGN8((n) * sizeof(*t->field));                                      \
                if (len > (size_t)(end - at))                                                      \
                        return -EBADMSG;                                                           \
                t->field = (void *)at;                                                             \
                at += len;                                                                         \
        } while (0)
        LINK(domains, t->n_domains);
        LINK(units, t->n_units);
        LINK(procs, t->n_procs);
        LINK(counters, t->n_counters);
        LINK(proc_counters, t->n_proc_counters);
        LINK(requests, t->n_requests);
#undef LINK
        StoreDomainValue *domains = (StoreDomainValue *)t->domains;
        StoreProcValue *procs = (StoreProcValue *)t->procs;
        for (size_t i = 0; i < t->n_domains + t->n_procs; i++) {
                const char **str =
                        i < t->n_domains ? &domains[i].drop_reason : &procs[i - t->n_domains].comm;
                if (i < t->n_domains && !*str)
                        continue;
                char *nul = at < end ? memchr(at, '\0', (size_t)(end - at)) : NULL;
                if (!nul)
                        return -EBADMSG;
                *str = at;
                at = nul + 1;
        }
        if ((size_t)(end - at) >= 8)
                return -EBADMSG; /* more than the padding */
        if (t->ingest)
                t->ingest = &p->ingest;
        p->bytes = size;
        p->next = NULL;
        return 0;
}

PendingTick *store_pending_copy(const Store *s, const StoreTick *t)
{
        size_t size = ALIGN8(sizeof(PendingTick));
        size += ALIGN8(t->n_domains * sizeof(*t->domains));
        size += ALIGN8(t->n_units * sizeof(*t->units));
        size += ALIGN8(t->n_procs * sizeof(*t->procs));
        size += ALIGN8(t->n_counters * sizeof(*t->counters));
        size += ALIGN8(t->n_proc_counters * sizeof(*t->proc_counters));
        size += ALIGN8(t->n_requests * sizeof(*t->requests));
        size_t strings = 0;
        for (size_t i = 0; i < t->n_domains; i++)
                if (t->domains[i].drop_reason)
                        strings += strlen(t->domains[i].drop_reason) + 1;
        for (size_t i = 0; i < t->n_procs; i++)
                strings += strlen(t->procs[i].comm ? t->procs[i].comm : "") + 1;
        size = ALIGN8(size + strings);
        /* calloc: the padding is hashed and written to the journal too */
        char *block = calloc(1, size);
        if (!block)
                return NULL;
        PendingTick *p = (PendingTick *)block;
        p->run_id = s->run_id;
        p->run_started_us = s->run_started_us;
        p->t = *t;
        if (t->ingest)
                p->ingest = *t->ingest;
        char *at = block + ALIGN8(sizeof(PendingTick));
#define COPY(field, n)                                                                             \
        do {                                                                                       \
                size_t len = (n) * sizeof(*t->field);                                              \
                if (len)                                                                           \
                        memcpy(at, t->field, len);                                                 \
                at += ALIGN8(len);                                                                 \
        } while (0)
        COPY(domains, t->n_domains);
        COPY(units, t->n_units);
        COPY(procs, t->n_procs);
        COPY(counters, t->n_counters);
        COPY(proc_counters, t->n_proc_counters);
        COPY(requests, t->n_requests);
#undef COPY
        for (size_t i = 0; i < t->n_domains + t->n_procs; i++) {
                const char *c = i < t->n_domains ? t->domains[i].drop_reason
                                                 : t->procs[i - t->n_domains].comm;
                if (i < t->n_domains && !c)
                        continue;
                size_t l = strlen(c ? c : "") + 1;
                memcpy(at, c ? c : "", l);
                at += l;
        }
        int r = store_pending_link(p, size);
        assert(r == 0);
        (void)r;
        return p;
}

/* The smallest mapping: 40 ticks of 100 services, 10 of them and 10 processes active. */
#define JOURNAL_CAP_MIN (64u << 10)

static StoreJournalWrites journal_writes = STORE_JOURNAL_WRITES_AUTO;

void store_journal_set_writes(StoreJournalWrites w)
{
        journal_writes = w;
}

/* Whether the journal is mapped on a file system of this type (statfs f_type): where a block
 * posix_fallocate gave stays the file's when it is written, so a store into the mapping never
 * needs space (ext4 and XFS keep clusters in reserve for turning preallocated extents into
 * written ones; tmpfs allocates the pages). Copy-on-write file systems (btrfs, bcachefs, ZFS)
 * need new space at every write after writeback, and a mapped store that finds none is SIGBUS,
 * as it is on a network file system; there each record is written with pwritev. */
bool store_journal_maps_fs(unsigned long f_type)
{
        return f_type == EXT4_SUPER_MAGIC || f_type == XFS_SUPER_MAGIC || f_type == TMPFS_MAGIC;
}

static bool journal_maps(int fd)
{
        if (journal_writes != STORE_JOURNAL_WRITES_AUTO)
                return journal_writes == STORE_JOURNAL_WRITES_MAPPED;
        struct statfs fs;
        return fstatfs(fd, &fs) == 0 && store_journal_maps_fs((unsigned long)fs.f_type);
}

/* Makes the mapped file and its mapping at least need bytes long: posix_fallocate gives the file
 * its blocks (a store into a mapped hole on a full disk would be SIGBUS, not an error), and what
 * it adds reads as zeros, which end the records. It doubles, up to the backlog the queue is
 * bounded by (or need, past it). Like SQLite's -shm file, which is mapped too, the file must not
 * be cut short by another process while joulesd runs (a store past its end is SIGBUS): it is
 * joulesd's own, mode 0640 beside the history, and locked (journal_replay) so that a second
 * joulesd on the same history leaves it alone. */
static int journal_reserve(Store *s, uint64_t need)
{
        if (need <= s->journal_cap)
                return 0;
        uint64_t cap = s->journal_cap ? s->journal_cap : JOURNAL_CAP_MIN;
        while (cap < need)
                cap *= 2;
        uint64_t most = ((need > s->backlog_limit ? need : s->backlog_limit) + 4095) & ~4095ull;
        if (cap > most)
                cap = most;
        if (cap > SIZE_MAX / 2)
                return -EFBIG;
        int e = posix_fallocate(s->journal_fd, 0, (off_t)cap);
        if (e)
                return -e;
        void *m = s->journal_map
                          ? mremap(s->journal_map, s->journal_cap, cap, MREMAP_MAYMOVE)
                          : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, s->journal_fd, 0);
        if (m == MAP_FAILED)
                return -errno;
        s->journal_map = m;
        s->journal_cap = cap;
        return 0;
}

/* A record is its block, then its header with the magic stored last: a writer killed in between
 * leaves a zero magic, which ends the records as the end of the file does, so what a reader or
 * the next start finds is a whole record or none. Unmapped, one pwritev of both. */
static int journal_write_at(Store *s, const PendingTick *p, uint64_t off)
{
        uint64_t rec = sizeof(JournalHeader) + p->bytes;
        if (!s->journal_mapped) {
                JournalHeader h = {JOURNAL_MAGIC, journal_layout(), p->bytes,
                                   store_journal_sum(p, p->bytes)};
                struct iovec iov[] = {{&h, sizeof(h)}, {(void *)p, p->bytes}};
                ssize_t n = pwritev(s->journal_fd, iov, 2, (off_t)off);
                if (n == (ssize_t)rec)
                        return 0;
                return n < 0 ? -errno : -ENOSPC;
        }
        int r = journal_reserve(s, off + rec);
        if (r < 0)
                return r;
        unsigned char *at = s->journal_map + off;
        memcpy(at + sizeof(JournalHeader), p, p->bytes);
        JournalHeader *h = (JournalHeader *)at;
        h->layout = journal_layout();
        h->bytes = p->bytes;
        h->sum = store_journal_sum(p, p->bytes);
        __atomic_store_n(&h->magic, JOURNAL_MAGIC, __ATOMIC_RELEASE);
        return 0;
}

/* Empties the journal. Mapped, the records are zeroed in place, the first magic first, so that
 * from then on none of them is there; unmapped, the file is truncated (also after a failed
 * write, which may have left part of a record). */
static int journal_clear(Store *s)
{
        if (s->journal_map) {
                if (s->journal_size) {
                        __atomic_store_n(&((JournalHeader *)s->journal_map)->magic, 0u,
                                         __ATOMIC_RELEASE);
                        memset(s->journal_map, 0, s->journal_size);
                }
        } else if (s->journal_size || s->journal_error) {
                if (ftruncate(s->journal_fd, 0) < 0)
                        return -errno;
        }
        s->journal_size = 0;
        return 0;
}

/* Starts the journal again from the ticks still queued (after a write failed, or when the
 * journal would outgrow the backlog the queue is bounded by). */
static int journal_rewrite(Store *s)
{
        int r = journal_clear(s);
        for (const PendingTick *p = s->pending_head; p && r >= 0; p = p->next) {
                r = journal_write_at(s, p, s->journal_size);
                if (r >= 0)
                        s->journal_size += sizeof(JournalHeader) + p->bytes;
        }
        return r;
}

void store_journal_append(Store *s, const PendingTick *p)
{
        if (s->journal_fd < 0)
                return;
        int r;
        uint64_t rec = sizeof(JournalHeader) + p->bytes;
        if (s->journal_error == 0 && s->journal_size + rec <= s->backlog_limit) {
                r = journal_write_at(s, p, s->journal_size);
                if (r >= 0)
                        s->journal_size += rec;
        } else {
                r = journal_rewrite(s); /* p is queued already */
        }
        s->journal_error = r < 0 ? -r : 0;
}

/* Mapped, a store into the page cache, not a system call: a cold pwritev into ext4 cost 20 to 45
 * us a tick, and the ftruncate that emptied the file at each commit as much again; the mapping's
 * pages stay in place from one commit to the next. */
void store_journal_committed(Store *s)
{
        if (s->journal_fd < 0)
                return;
        int r = journal_clear(s);
        s->journal_error = r < 0 ? -r : 0;
}

void store_journal_close(Store *s)
{
        if (s->journal_map)
                munmap(s->journal_map, s->journal_cap);
        /* Nothing left to replay: the file is left empty, not at its mapped size. */
        if (s->journal_fd >= 0 && s->journal_size == 0 && s->journal_error == 0 && s->journal_cap)
                (void)ftruncate(s->journal_fd, 0);
        if (s->journal_fd >= 0)
                close(s->journal_fd);
        s->journal_fd = -1;
        s->journal_mapped = false;
        s->journal_map = NULL;
        s->journal_cap = 0;
        s->journal_size = 0;
        s->journal_error = 0;
}

bool store_journal_ok(const Store *s)
{
        return s->journal_fd >= 0 && s->journal_error == 0;
}

int store_journal_error(const Store *s)
{
        return s->journal_fd < 0 ? EBADF : s->journal_error;
}

/* Whether the history holds the record's run, and already holds its tick (a crash after the
 * commit, before the journal was emptied). -errno on a read error. */
static int journal_check(Store *s, const PendingTick *p, bool *ret_run, bool *ret_stored)
{
        sqlite3_stmt *q;
        int r = store_cached(s, "SELECT started_us FROM runs WHERE id = ?1", &q);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, p->run_id);
        int rc = sqlite3_step(q);
        *ret_run = rc == SQLITE_ROW && sqlite3_column_int64(q, 0) == p->run_started_us;
        store_release(q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return store_fail(s, rc, "reading the journal's run");
        *ret_stored = false;
        if (!*ret_run)
                return 0;
        r = store_cached(s, "SELECT 1 FROM ticks WHERE ts_us = ?1 AND run_id = ?2", &q);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, p->t.ts_us);
        sqlite3_bind_int64(q, 2, p->run_id);
        rc = sqlite3_step(q);
        *ret_stored = rc == SQLITE_ROW;
        store_release(q);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reading the ticks");
}

/* Reads one record at off of a file of size bytes: 1 and *ret (malloc'd) for a good one, 0 at
 * the end or at a torn tail (*ret_torn), -EBADMSG with why for a bad one, -errno. */
static int journal_read(int fd, uint64_t off, uint64_t size, PendingTick **ret, bool *ret_torn,
                        const char **ret_why)
{
        *ret = NULL;
        *ret_torn = false;
        if (off == size)
                return 0;
        JournalHeader h;
        if (size - off < sizeof(h)) {
                *ret_torn = true;
                return 0;
        }
        ssize_t n = pread(fd, &h, sizeof(h), (off_t)off);
        if (n != (ssize_t)sizeof(h))
                return n < 0 ? -errno : -EIO;
        if (h.magic == 0)
                return 0; /* the end of the records: the rest of the file is not written yet */
        if (h.magic != JOURNAL_MAGIC) {
                *ret_why = "not a tick record";
                return -EBADMSG;
        }
        if (h.layout != journal_layout()) {
                *ret_why = "written by another build of joulesd";
                return -EBADMSG;
        }
        if (h.bytes < sizeof(PendingTick) || h.bytes > JOURNAL_RECORD_MAX || h.bytes % 8) {
                *ret_why = "impossible record length";
                return -EBADMSG;
        }
        if (size - off - sizeof(h) < h.bytes) {
                *ret_torn = true;
                return 0;
        }
        PendingTick *p = malloc(h.bytes);
        if (!p)
                return -ENOMEM;
        n = pread(fd, p, h.bytes, (off_t)(off + sizeof(h)));
        int r = 1;
        if (n != (ssize_t)h.bytes)
                r = n < 0 ? -errno : -EIO;
        else if (store_journal_sum(p, h.bytes) != h.sum) {
                *ret_why = "checksum mismatch";
                r = -EBADMSG;
        } else if (store_pending_link(p, h.bytes) < 0) {
                *ret_why = "counts that do not fit the record";
                r = -EBADMSG;
        }
        if (r < 0)
                free(p);
        else
                *ret = p;
        return r;
}

/* <history>-ticks */
static int journal_path(const Store *s, char *buf, size_t size)
{
        return path_fmt(buf, size, "%s-ticks", s->path);
}

static int journal_set_aside(Store *s, StoreJournalReplay *ret)
{
        char path[PATH_MAX + 16];
        int r = journal_path(s, path, sizeof(path));
        if (r >= 0)
                r = store_aside_path(path, "bad", ret->aside, sizeof(ret->aside));
        if (r >= 0 && rename(path, ret->aside) < 0)
                r = -errno;
        if (r < 0)
                return r;
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno == EWOULDBLOCK ? -EBUSY : -errno;
                close(fd);
                return e;
        }
        close(s->journal_fd);
        s->journal_fd = fd;
        s->journal_size = 0;
        return 0;
}

static int journal_replay(Store *s, StoreJournalReplay *ret);

int store_journal_open(Store *s, StoreJournalReplay *ret)
{
        int r = journal_replay(s, ret);
        /* A journal whose end is not known must not be written over. */
        if (r < 0)
                store_journal_close(s);
        return r;
}

static int journal_replay(Store *s, StoreJournalReplay *ret)
{
        assert(s->mode == STORE_READ_WRITE && s->journal_fd < 0);
        *ret = (StoreJournalReplay){0};
        char path[PATH_MAX + 16];
        int r = journal_path(s, path, sizeof(path));
        if (r < 0)
                return store_failf(s, r, "journal path too long");
        int fd = -1;
        struct stat st;
        for (int tries = 0;; tries++) {
                /* Readable as the history is (the umask decides): the exporter adds its ticks
                 * to the totals it serves (store_read_totals). */
                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
                if (fd < 0)
                        return store_failf(s, -errno, "%s: %s", path, strerror(errno));
                /* One writer: another joulesd on the same history would replay this one's
                 * ticks and cut the file it writes. Readers only pread, and take no lock. */
                if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                        close(fd);
                        return store_failf(
                                s, r, "%s: %s", path,
                                r == -EBUSY ? "in use by another joulesd writing this history"
                                            : strerror(-r));
                }
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                        r = S_ISREG(st.st_mode) ? -errno : -EINVAL;
                        close(fd);
                        return store_failf(s, r, "%s: not a regular file", path);
                }
                /* The writer that held it may have set the file aside (renamed it) between
                 * this open and this lock: then the lock is on that file, not the journal. */
                struct stat now;
                if (stat(path, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
                        break;
                close(fd);
                if (tries == 3)
                        return store_failf(s, -EBUSY, "%s: replaced while it was being opened",
                                           path);
        }
        s->journal_fd = fd;
        s->journal_mapped = journal_maps(fd);
        uint64_t size = (uint64_t)st.st_size, off = 0;
        for (;;) {
                PendingTick *p;
                const char *why = "";
                r = journal_read(fd, off, size, &p, &ret->torn, &why);
                if (r == -EBADMSG) {
                        snprintf(ret->problem, sizeof(ret->problem),
                                 "record at byte %" PRIu64 ": %s", off, why);
                        break;
                }
                if (r <= 0)
                        break;
                off += sizeof(JournalHeader) + p->bytes;
                bool run, stored;
                r = journal_check(s, p, &run, &stored);
                if (r < 0 || !run || stored) {
                        ret->foreign += r >= 0 && !run;
                        ret->stored += r >= 0 && stored;
                        free(p);
                        if (r < 0)
                                break;
                        continue;
                }
                store_pending_push(s, p);
                ret->replayed++;
        }
        if (r < 0 && r != -EBADMSG)
                return store_failf(s, r, "reading %s: %s", path, strerror(-r));
        if (ret->problem[0]) {
                /* Kept for a look, not replayed past: what follows a bad record cannot be
                 * trusted to begin where it seems to. */
                int m = journal_set_aside(s, ret);
                if (m < 0)
                        return store_failf(s, m, "%s: %s; setting it aside: %s", path, ret->problem,
                                           strerror(-m));
                m = journal_rewrite(s);
                return m < 0 ? store_failf(s, m, "%s: %s", path, strerror(-m)) : 0;
        }
        /* The file ends at the last good record: a torn tail (the crash came mid-write) and the
         * zeros of the mapped size are cut, so new records follow the good ones and nothing
         * older lies past them. */
        if ((uint64_t)st.st_size != off && ftruncate(fd, (off_t)off) < 0)
                return store_failf(s, -errno, "%s: %s", path, strerror(errno));
        r = s->journal_mapped ? journal_reserve(s, off) : 0;
        if (r < 0)
                return store_failf(s, r, "%s: %s", path, strerror(-r));
        s->journal_size = off;
        return 0;
}

/* ---- readers: the ticks the journal holds that the history does not yet ---- */

/* Inserts one record's rows into the temp.j_* tables under tick id (above every committed one). */
static int journal_temp_insert(Store *s, const PendingTick *p, int64_t id)
{
        const StoreTick *t = &p->t;
        sqlite3_stmt *q;
        int r = store_cached(s,
                             "INSERT INTO temp.j_ticks (id, run_id, ts_us, dt_us, host_uj, "
                             "estimated, dropped) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                             &q);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int64(q, 2, p->run_id);
        sqlite3_bind_int64(q, 3, t->ts_us);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)t->dt_us);
        if (t->host_valid)
                sqlite3_bind_int64(q, 5, (sqlite3_int64)t->host_uj);
        sqlite3_bind_int(q, 6, t->estimated);
        sqlite3_bind_int(q, 7, (int)store_tick_dropped(t));
        int rc = sqlite3_step(q);
        store_release(q);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, "copying the journal's ticks");
        static const char *const sql[] = {
                "INSERT INTO temp.j_domain_energy VALUES (?1, ?2, ?3, ?4)",
                "INSERT INTO temp.j_unit_energy VALUES (?1, ?2, ?3, ?4, ?5)",
                "INSERT INTO temp.j_unit_counters VALUES (?1, ?2, ?3, ?4)",
                "INSERT INTO temp.j_unit_requests VALUES (?1, ?2, ?3, ?4)",
        };
        const size_t n[] = {t->n_domains, t->n_units, t->n_counters, t->n_requests};
        for (size_t k = 0; k < ELEMENTSOF(sql); k++) {
                if (n[k] == 0)
                        continue;
                r = store_cached(s, sql[k], &q);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n[k] && rc == SQLITE_DONE; i++) {
                        sqlite3_bind_int64(q, 1, id);
                        if (k == 0) {
                                const StoreDomainValue *d = &t->domains[i];
                                sqlite3_bind_int64(q, 2, d->domain_id);
                                if (d->valid)
                                        sqlite3_bind_int64(q, 3, (sqlite3_int64)d->energy_uj);
                                else
                                        sqlite3_bind_null(q, 3);
                                if (d->valid)
                                        sqlite3_bind_null(q, 4);
                                else
                                        sqlite3_bind_text(
                                                q, 4, d->drop_reason ? d->drop_reason : "baseline",
                                                -1, SQLITE_STATIC);
                        } else if (k == 1) {
                                const StoreUnitValue *u = &t->units[i];
                                sqlite3_bind_int64(q, 2, u->unit_id);
                                sqlite3_bind_int64(q, 3, (sqlite3_int64)u->active_uj);
                                sqlite3_bind_int64(q, 4, (sqlite3_int64)u->idle_uj);
                                sqlite3_bind_int64(q, 5, (sqlite3_int64)u->cpu_ns);
                        } else if (k == 2) {
                                const StoreCounterValue *c = &t->counters[i];
                                sqlite3_bind_int64(q, 2, c->unit_id);
                                sqlite3_bind_int64(q, 3, c->event_id);
                                sqlite3_bind_int64(q, 4, (sqlite3_int64)c->value);
                        } else {
                                const StoreRequestValue *rq = &t->requests[i];
                                sqlite3_bind_int64(q, 2, rq->unit_id);
                                sqlite3_bind_int64(q, 3, rq->metric_id);
                                sqlite3_bind_double(q, 4, rq->count);
                        }
                        rc = sqlite3_step(q);
                        sqlite3_reset(q);
                }
                store_release(q);
                if (rc != SQLITE_DONE)
                        return store_fail(s, rc, "copying the journal's ticks");
        }
        return 0;
}

int store_journal_read_blocks(const Store *s, PendingTick **ret_head)
{
        *ret_head = NULL;
        char path[PATH_MAX + 16];
        if (journal_path(s, path, sizeof(path)) < 0)
                return 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0; /* none, or not readable by this user: the committed ticks only */
        struct stat st;
        PendingTick **tail = ret_head;
        int r = 0;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
                /* Read as the writer appends: a record cut short is not there yet, and one that
                 * does not check out ends what this reader takes (only joulesd sets it aside). */
                uint64_t off = 0;
                for (;;) {
                        PendingTick *p;
                        bool torn;
                        const char *why;
                        r = journal_read(fd, off, (uint64_t)st.st_size, &p, &torn, &why);
                        if (r <= 0)
                                break;
                        off += sizeof(JournalHeader) + p->bytes;
                        *tail = p;
                        tail = &p->next;
                }
        }
        close(fd);
        return r == -ENOMEM ? r : 0;
}

int store_journal_temp(Store *s, const PendingTick *head)
{
        int r = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS j_ticks (id INTEGER PRIMARY KEY, "
                              "run_id INTEGER, ts_us INTEGER, dt_us INTEGER, host_uj INTEGER, "
                              "estimated INTEGER, dropped INTEGER);"
                              "CREATE TEMP TABLE IF NOT EXISTS j_domain_energy (tick_id INTEGER, "
                              "domain_id INTEGER, energy_uj INTEGER, drop_reason TEXT);"
                              "CREATE TEMP TABLE IF NOT EXISTS j_unit_energy (tick_id INTEGER, "
                              "unit_id INTEGER, active_uj INTEGER, idle_uj INTEGER, cpu_ns "
                              "INTEGER);"
                              "CREATE TEMP TABLE IF NOT EXISTS j_unit_counters (tick_id INTEGER, "
                              "unit_id INTEGER, event_id INTEGER, value INTEGER);"
                              "CREATE TEMP TABLE IF NOT EXISTS j_unit_requests (tick_id INTEGER, "
                              "unit_id INTEGER, metric_id INTEGER, count REAL);"
                              "DELETE FROM temp.j_ticks; DELETE FROM temp.j_domain_energy;"
                              "DELETE FROM temp.j_unit_energy; DELETE FROM temp.j_unit_counters;"
                              "DELETE FROM temp.j_unit_requests");
        /* Above every committed tick's id, in the journal's order. */
        int64_t id = INT64_C(1) << 62;
        for (const PendingTick *p = head; p && r >= 0; p = p->next) {
                bool run, stored;
                r = journal_check(s, p, &run, &stored);
                if (r >= 0 && run && !stored)
                        r = journal_temp_insert(s, p, id++);
        }
        return r;
}

void store_journal_blocks_free(PendingTick *head)
{
        while (head) {
                PendingTick *next = head->next;
                free(head);
                head = next;
        }
}

int store_journal_tick_times(Store *s, int64_t **ret, size_t *ret_n)
{
        *ret = NULL;
        *ret_n = 0;
        PendingTick *head;
        int r = store_journal_read_blocks(s, &head);
        size_t n = 0;
        for (const PendingTick *p = head; p; p = p->next)
                n++;
        int64_t *v = n ? malloc(n * sizeof(*v)) : NULL;
        if (n && !v)
                r = -ENOMEM;
        n = 0;
        for (const PendingTick *p = head; p && r >= 0; p = p->next) {
                bool run, stored;
                r = journal_check(s, p, &run, &stored);
                if (r >= 0 && run && !stored)
                        v[n++] = p->t.ts_us;
        }
        store_journal_blocks_free(head);
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

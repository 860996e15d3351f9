/* The ingest socket: the StatsD line parser from a table, and the socket itself on a real unix
 * datagram socket (credentials from the kernel, malformed and oversized datagrams counted). */
#include <errno.h>
#include <sched.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "daemon/ingest.h"

static void test_parse_table(void **state)
{
        static const struct {
                const char *line;
                int r;
                const char *name;
                double count;
                const char *unit; /* NULL: no tag */
        } rows[] = {
                {"requests:1|c", 0, "requests", 1, NULL},
                {"orders:3|c", 0, "orders", 3, NULL},
                {"requests:1|c|@0.1", 0, "requests", 10, NULL},
                {"requests:2.5|c|@0.5", 0, "requests", 5, NULL},
                {"requests:0|c", 0, "requests", 0, NULL},
                {"http.ok-2xx_total:7|c", 0, "http.ok-2xx_total", 7, NULL},
                {"requests:1|c|#unit:web.service", 0, "requests", 1, "web.service"},
                {"requests:1|c|#env:prod,unit:web@2.service", 0, "requests", 1, "web@2.service"},
                {"requests:4|c|@0.5|#unit:user@1000/app.service", 0, "requests", 8,
                 "user@1000/app.service"},
                {"requests:1|c|#env:prod", 0, "requests", 1, NULL},
                /* malformed */
                {"", -EINVAL, NULL, 0, NULL},
                {"requests", -EINVAL, NULL, 0, NULL},
                {"requests:1", -EINVAL, NULL, 0, NULL},
                {"requests:1|", -EINVAL, NULL, 0, NULL},
                {"requests:1|g", -EINVAL, NULL, 0, NULL},
                {"requests:1|ms", -EINVAL, NULL, 0, NULL},
                {"requests:1|cc", -EINVAL, NULL, 0, NULL},
                {"requests:-1|c", -EINVAL, NULL, 0, NULL},
                {"requests:+1|c", -EINVAL, NULL, 0, NULL},
                {"requests:abc|c", -EINVAL, NULL, 0, NULL},
                {"requests:nan|c", -EINVAL, NULL, 0, NULL},
                {"requests:NaN|c", -EINVAL, NULL, 0, NULL},
                {"requests:inf|c", -EINVAL, NULL, 0, NULL},
                {"requests:1e3|c", -EINVAL, NULL, 0, NULL},
                {"requests:0x10|c", -EINVAL, NULL, 0, NULL},
                {"requests:|c", -EINVAL, NULL, 0, NULL},
                {"requests:.|c", -EINVAL, NULL, 0, NULL},
                {"requests:1 |c", -EINVAL, NULL, 0, NULL},
                {":1|c", -EINVAL, NULL, 0, NULL},
                {"re quests:1|c", -EINVAL, NULL, 0, NULL},
                {"req/uests:1|c", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|@0", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|@1.5", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|@abc", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|@0.1|@0.1", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|x", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|#unit:", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|#unit:system.slice", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|#unit:not a unit", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|#unit:a.service,unit:b.service", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|#unit:../../etc", -EINVAL, NULL, 0, NULL},
                {"requests:9999999999999|c", -EINVAL, NULL, 0, NULL},
                {"requests:1|c|@0.0000000000001", -EINVAL, NULL, 0, NULL},
                {"\x01\x02\xff:1|c", -EINVAL, NULL, 0, NULL},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                IngestLine l;
                int r = ingest_parse_line(rows[i].line, strlen(rows[i].line), &l);
                if (r != rows[i].r)
                        fail_msg("'%s': %d, expected %d", rows[i].line, r, rows[i].r);
                if (r < 0)
                        continue;
                assert_string_equal(l.name, rows[i].name);
                assert_true(fabs(l.count - rows[i].count) < 1e-9);
                assert_int_equal(l.has_unit, rows[i].unit != NULL);
                if (rows[i].unit)
                        assert_string_equal(l.unit, rows[i].unit);
        }
}

/* The parser's views point into the line: nothing copied, lengths exact. */
static void test_scan_views(void **state)
{
        const char *s = "http.ok:12|c|@0.5|#env:a,unit:web.service,x:y";
        IngestLineView v;
        assert_int_equal(ingest_scan_line(s, strlen(s), &v), 0);
        assert_ptr_equal(v.name, s);
        assert_int_equal(v.name_len, 7);
        assert_true(fabs(v.count - 24) < 1e-9);
        assert_ptr_equal(v.unit, strstr(s, "web.service"));
        assert_int_equal(v.unit_len, strlen("web.service"));
        assert_int_equal(ingest_scan_line(s, 5, &v), -EINVAL);
        /* 15 digits take the exact integer path, 16 the general one (and the 1e12 limit) */
        assert_int_equal(ingest_scan_line("a:999999999999|c", 16, &v), 0);
        assert_true(v.count == 999999999999.0);
        assert_int_equal(ingest_scan_line("a:000000000000007|c", 19, &v), 0);
        assert_true(v.count == 7.0);
        assert_int_equal(ingest_scan_line("a:0000000000000007|c", 20, &v), 0);
        assert_true(v.count == 7.0);
        assert_int_equal(ingest_scan_line("a:1000000000001|c", 17, &v), -EINVAL);
        assert_int_equal(ingest_scan_line("a:12.|c", 7, &v), 0);
        assert_true(v.count == 12.0);
}

static void test_parse_long_line(void **state)
{
        size_t n = 65536;
        char *s = malloc(n + 8);
        assert_non_null(s);
        memset(s, 'a', n);
        memcpy(s + n, ":1|c", 4);
        IngestLine l;
        assert_int_equal(ingest_parse_line(s, n + 4, &l), -EINVAL);
        /* the longest line accepted */
        memset(s, 'a', 100);
        memcpy(s + 100, ":1|c", 4);
        assert_int_equal(ingest_parse_line(s, 104, &l), 0);
        free(s);
}

typedef struct Seen {
        char unit[INGEST_UNIT_MAX];
        char name[INGEST_NAME_MAX];
        double count;
        int calls;
} Seen;

static bool sink(void *userdata, const char *unit, const char *name, double count)
{
        Seen *s = userdata;
        snprintf(s->unit, sizeof(s->unit), "%s", unit);
        snprintf(s->name, sizeof(s->name), "%s", name);
        s->count += count;
        s->calls++;
        return true;
}

static void send_dgram(const char *path, const void *buf, size_t len)
{
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        ssize_t n = sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa));
        if (n != (ssize_t)len)
                fail_msg("sendto %zu bytes: %s", len, strerror(errno));
        close(fd);
}

static void test_socket(void **state)
{
        char dir[] = "/tmp/joules-test-ingest-XXXXXX", path[100], err[256];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/sub/ingest.sock", dir); /* sub is created */
        Seen seen = {0};
        IngestOptions o = {.path = path, .sink = sink, .userdata = &seen};
        Ingest *in;
        assert_int_equal(ingest_open(&o, &in, err, sizeof(err)), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0660);

        /* a second owner of the same live path is refused, the first keeps it */
        Ingest *in2;
        assert_int_equal(ingest_open(&o, &in2, err, sizeof(err)), -EADDRINUSE);

        const char *good = "requests:1|c\nrequests:2|c|@0.5\norders:3|c\n";
        send_dgram(path, good, strlen(good));
        send_dgram(path, "\x00\x01\xfe\xff junk\n", 9);
        send_dgram(path, "requests:-1|c\nrequests:abc|c\nrequests:1\n", 40);
        char *big = malloc(INGEST_DGRAM_MAX + 100);
        assert_non_null(big);
        memset(big, 'x', INGEST_DGRAM_MAX + 100);
        send_dgram(path, big, 65000); /* one 65000-byte line: malformed */
        /* a datagram over the limit (the kernel takes up to wmem_max) */
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        int sndbuf = 1 << 20;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        bool sent_big = sendto(fd, big, INGEST_DGRAM_MAX + 100, 0, (struct sockaddr *)&sa,
                               sizeof(sa)) == INGEST_DGRAM_MAX + 100;
        close(fd);
        free(big);
        /* not root: foreign unit tags are rejected; root: honoured */
        send_dgram(path, "requests:5|c|#unit:other.service\n", 33);

        int n = ingest_drain(in);
        assert_int_equal(n, 5 + sent_big);
        IngestStats s;
        ingest_take_stats(in, &s);
        assert_int_equal(s.accepted, 3 + (getuid() == 0));
        assert_int_equal(s.malformed, 1 + 3 + 1 + sent_big);
        assert_int_equal(s.rejected, getuid() == 0 ? 0 : 1);
        assert_true(seen.calls >= 3);
        if (getuid() == 0) {
                assert_string_equal(seen.unit, "other.service");
                assert_true(fabs(seen.count - 13) < 1e-9);
        } else {
                assert_true(fabs(seen.count - 8) < 1e-9);
        }
        ingest_take_stats(in, &s);
        assert_int_equal(s.accepted + s.malformed + s.rejected, 0);
        assert_int_equal(ingest_drain(in), 0); /* nothing pending, never blocks */

        ingest_free(in);
        assert_int_equal(stat(path, &st), -1); /* removed */
        /* a stale socket file (a crash) is replaced */
        int stale = socket(AF_UNIX, SOCK_DGRAM, 0);
        assert_int_equal(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(stale);
        assert_int_equal(ingest_open(&o, &in, err, sizeof(err)), 0);
        ingest_free(in);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_trusted_uid(void **state)
{
        /* a trusted uid may tag, whoever it is */
        char dir[] = "/tmp/joules-test-ingest-XXXXXX", path[128], err[256], uid[32];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/i.sock", dir);
        snprintf(uid, sizeof(uid), "12345 %u", (unsigned)getuid());
        Seen seen = {0};
        IngestOptions o = {.path = path, .sink = sink, .userdata = &seen, .trusted_uids = uid};
        Ingest *in;
        assert_int_equal(ingest_open(&o, &in, err, sizeof(err)), 0);
        ingest_datagram(in, "requests:2|c|#unit:backend.service", 34, getpid(), getuid());
        ingest_datagram(in, "requests:2|c|#unit:backend.service", 34, getpid(), 999);
        IngestStats s;
        ingest_take_stats(in, &s);
        assert_int_equal(s.accepted, 1 + (getuid() == 999));
        assert_string_equal(seen.unit, "backend.service");
        /* names and tags are cut where they lie in the datagram: each line sees its own */
        seen = (Seen){0};
        const char *two = "requests:2|c|#unit:api.service,env:prod\r\norders:3|c|#unit:b.service";
        ingest_datagram(in, two, strlen(two), getpid(), getuid());
        ingest_take_stats(in, &s);
        assert_int_equal(s.accepted, 2);
        assert_int_equal(seen.calls, 2);
        assert_string_equal(seen.unit, "b.service");
        assert_string_equal(seen.name, "orders");
        assert_true(fabs(seen.count - 5) < 1e-9);
        ingest_free(in);
        rmdir(dir);
}

/* Random and mutated lines (a fixed seed, so a failure repeats): never a crash or an overread
 * (ASan), and whatever is accepted is a sane count for a valid name. */
static void test_parse_random(void **state)
{
        static const char *const seeds[] = {"requests:1|c", "requests:2.5|c|@0.5|#unit:a.service",
                                            "orders:3|c|#env:prod,unit:user@1000/x.service"};
        static const char alphabet[] = "rq:|@#,.c0123456789-_ \n\t\x01\xff";
        uint64_t x = 0x9e3779b97f4a7c15u;
        char buf[256];
        for (int i = 0; i < 200000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t len;
                if (i % 2) { /* a valid line with a few bytes changed, cut short or extended */
                        const char *sd = seeds[x % ELEMENTSOF(seeds)];
                        len = strlen(sd);
                        memcpy(buf, sd, len);
                        for (int k = 0; k < 3; k++) {
                                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                                buf[x % len] = alphabet[(x >> 8) % (sizeof(alphabet) - 1)];
                        }
                        len = (len + (x >> 20) % 8) % sizeof(buf);
                } else {
                        len = x % sizeof(buf);
                        for (size_t k = 0; k < len; k++) {
                                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                                buf[k] = (char)(x & 0xff);
                        }
                }
                /* exactly len bytes, no terminator: the parser must not read past them */
                char *exact = malloc(len ? len : 1);
                assert_non_null(exact);
                memcpy(exact, buf, len);
                IngestLine l;
                if (ingest_parse_line(exact, len, &l) == 0) {
                        assert_true(l.count >= 0 && l.count <= INGEST_VALUE_MAX);
                        assert_true(strlen(l.name) > 0);
                        if (l.has_unit)
                                assert_true(ingest_unit_name_valid(l.unit));
                }
                free(exact);
        }
}

/* Wakeups coalesced while datagrams stream in, only where the socket's queue is long enough:
 * checked in a private network namespace with systemd's queue length (512) and the kernel's (10).
 * Needs root for the namespace (skipped otherwise). */
static int coalesce_child(unsigned qlen)
{
        if (unshare(CLONE_NEWNET) < 0)
                return 77;
        FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "w");
        if (!f || fprintf(f, "%u\n", qlen) < 0 || fclose(f) != 0)
                return 77;
        char dir[] = "/tmp/joules-test-ingest-XXXXXX", path[100], err[256];
        if (!mkdtemp(dir))
                return 10;
        snprintf(path, sizeof(path), "%s/i.sock", dir);
        Seen seen = {0};
        IngestOptions o = {.path = path, .sink = sink, .userdata = &seen};
        Ingest *in;
        if (ingest_open(&o, &in, err, sizeof(err)) < 0)
                return 11;
        int rc = 0;
        if (ingest_read_after_ns(in) != 0)
                rc = 12;                        /* nothing read yet: read at once */
        int n = qlen > 20 ? 20 : (int)qlen - 2; /* a blocking send would wait on a full queue */
        for (int i = 0; i < n; i++)
                send_dgram(path, "requests:1|c", 12);
        uint64_t t0 = now_monotonic_ns();
        if (!rc && ingest_drain(in) != n)
                rc = 13;
        uint64_t after = ingest_read_after_ns(in), t1 = now_monotonic_ns();
        if (!rc && qlen >= 2 * INGEST_MMSG && !(after > t0 && after <= t1 + INGEST_COALESCE_NS))
                rc = 14; /* put off, by at most INGEST_COALESCE_NS */
        if (!rc && qlen < 2 * INGEST_MMSG && after != 0)
                rc = 15; /* a short queue is read at once */
        if (!rc && (ingest_drain(in) != 0 || ingest_read_after_ns(in) != 0))
                rc = 16; /* an empty drain: read at once again */
        if (!rc && seen.count != n)
                rc = 17;
        ingest_free(in);
        rmdir(dir);
        return rc;
}

static void test_coalesce(void **state)
{
        static const unsigned qlens[] = {512, 10};
        for (size_t i = 0; i < ELEMENTSOF(qlens); i++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0)
                        _exit(coalesce_child(qlens[i]));
                int status;
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) == 77)
                        skip();
                if (WEXITSTATUS(status) != 0)
                        fail_msg("queue %u: check %d failed", qlens[i], WEXITSTATUS(status));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_table),     cmocka_unit_test(test_parse_random),
                cmocka_unit_test(test_parse_long_line), cmocka_unit_test(test_socket),
                cmocka_unit_test(test_scan_views),      cmocka_unit_test(test_coalesce),
                cmocka_unit_test(test_trusted_uid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Access-log line counting on real files: starting at the end, partial lines, rotation by rename
 * (with writes to the old file after the rename, before and after a poll) and by truncation, a
 * filter, a file that appears later, very long lines, a FIFO at the log's path. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "daemon/accesslog.h"

static char dir[] = "/tmp/joules-test-accesslog-XXXXXX";
static char path[128], rotated[128];

static int setup(void **state)
{
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/access.log", dir);
        snprintf(rotated, sizeof(rotated), "%s/access.log.1", dir);
        return 0;
}

static int teardown(void **state)
{
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* Appends text through its own fd (as a server would, O_APPEND). */
static void append(const char *p, const char *text)
{
        int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static uint64_t poll_lines(AccessLog *a)
{
        uint64_t n = 99999;
        assert_int_equal(accesslog_poll(a, &n), 0);
        return n;
}

static const char *line200 =
        "127.0.0.1 - - [27/Nov/2026:03:00:00 +0000] \"GET / HTTP/1.1\" 200 3\n";
static const char *line404 =
        "127.0.0.1 - - [27/Nov/2026:03:00:00 +0000] \"GET /x HTTP/1.1\" 404 9\n";

static void test_rotation(void **state)
{
        char err[128];
        unlink(path);
        unlink(rotated);
        append(path, "old 1\nold 2\nold 3\n");
        AccessLog *a;
        assert_int_equal(accesslog_open(path, NULL, &a, err, sizeof(err)), 0);
        assert_int_equal(poll_lines(a), 0); /* starts at the end */
        append(path, "a\nb\nc\nd\ne\n");
        assert_int_equal(poll_lines(a), 5);
        assert_int_equal(poll_lines(a), 0);
        /* a partial line waits for its newline */
        append(path, "par");
        assert_int_equal(poll_lines(a), 0);
        append(path, "tial\n");
        assert_int_equal(poll_lines(a), 1);

        /* rename: the server writes 2 lines, logrotate renames, the server writes 1 more line to
         * the old file (it has not reopened yet), then reopens and writes 3 to the new file */
        int old_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(old_fd >= 0);
        append(path, "x\ny\n");
        assert_int_equal(rename(path, rotated), 0);
        assert_int_equal(write(old_fd, "z\n", 2), 2);
        close(old_fd);
        append(path, "n1\nn2\nn3\n");
        assert_int_equal(poll_lines(a), 2 + 1 + 3);
        append(path, "n4\n");
        assert_int_equal(poll_lines(a), 1);

        /* a poll between logrotate's rename (and create) and the server's reopen: what the server
         * still writes to the old file after that poll counts too, its unterminated last line
         * once the old file has stayed quiet */
        old_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(old_fd >= 0);
        append(path, "p\n");
        unlink(rotated);
        assert_int_equal(rename(path, rotated), 0);
        append(path, ""); /* create */
        assert_int_equal(poll_lines(a), 1);
        assert_int_equal(write(old_fd, "q\nr\nhal", 8), 8);
        close(old_fd); /* reopened */
        append(path, "s\n");
        assert_int_equal(poll_lines(a), 2 + 1);
        uint64_t late = 0;
        for (int i = 0; i < 20; i++)
                late += poll_lines(a);
        assert_int_equal(late, 1); /* "hal" */

        /* rename with the new file not there yet: the old one is finished, the new one is read
         * from its start once it appears */
        append(path, "last\n");
        unlink(rotated);
        assert_int_equal(rename(path, rotated), 0);
        assert_int_equal(poll_lines(a), 1);
        assert_int_equal(poll_lines(a), 0);
        append(path, "first\nsecond\n");
        assert_int_equal(poll_lines(a), 2);

        /* truncation (copytruncate): the size falls below what was read; start over */
        append(path, "t1\nt2\nt3\nt4\n");
        assert_int_equal(poll_lines(a), 4);
        assert_int_equal(truncate(path, 0), 0);
        append(path, "u1\nu2\n");
        assert_int_equal(poll_lines(a), 2);
        accesslog_free(a);
}

static void test_filter_and_late_file(void **state)
{
        char err[128];
        unlink(path);
        AccessLog *a;
        assert_int_equal(accesslog_open(path, "\" [23][0-9][0-9] ", &a, err, sizeof(err)), 0);
        assert_int_equal(poll_lines(a), 0); /* no file yet: not an error */
        append(path, line200);              /* appears later: read from its start */
        append(path, line404);
        append(path, line200);
        assert_int_equal(poll_lines(a), 2);
        accesslog_free(a);
        assert_int_equal(accesslog_open(path, "(", &a, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "filter"));
}

static void test_long_lines(void **state)
{
        char err[128];
        unlink(path);
        append(path, "");
        AccessLog *a;
        assert_int_equal(accesslog_open(path, "END$", &a, err, sizeof(err)), 0);
        size_t n = 3 * ACCESSLOG_READ_MAX / 2; /* more than one poll reads */
        char *big = malloc(n + 2);
        assert_non_null(big);
        memset(big, 'q', n);
        big[n] = '\n';
        big[n + 1] = '\0';
        append(path, big);
        append(path, "short END\n");
        free(big);
        /* the long line counts once (its kept start does not end in END), over two polls */
        uint64_t total = poll_lines(a);
        total += poll_lines(a);
        assert_int_equal(total, 1);
        accesslog_free(a);
        /* unfiltered, a long line is one line */
        unlink(path);
        append(path, "");
        assert_int_equal(accesslog_open(path, NULL, &a, err, sizeof(err)), 0);
        big = malloc(100001);
        memset(big, 'w', 100000);
        big[99999] = '\n';
        big[100000] = '\0';
        append(path, big);
        free(big);
        assert_int_equal(poll_lines(a), 1);
        accesslog_free(a);
}

/* The log's path is the server's to change: replaced by a FIFO (or a symlink to one), opening it
 * for reading would wait for a writer, stopping joulesd's whole loop. Each case runs in a child
 * that must be done within 10 s (it takes milliseconds; only a blocked open takes longer). */
static int not_a_file_child(bool fifo_from_start)
{
        char err[128];
        AccessLog *a;
        if (!fifo_from_start)
                append(path, "one\n");
        if (accesslog_open(path, NULL, &a, err, sizeof(err)) < 0)
                return 10;
        uint64_t n = 0;
        if (!fifo_from_start) {
                append(path, "two\n");
                char fifo[160];
                snprintf(fifo, sizeof(fifo), "%s.fifo", path);
                if (mkfifo(fifo, 0600) < 0 || rename(fifo, path) < 0)
                        return 11;
        }
        int r = accesslog_poll(a, &n);
        /* a FIFO is no log: an error to report (the old file's last line still counted) */
        if (r != -EINVAL || n != (fifo_from_start ? 0u : 1u))
                return 12;
        if (accesslog_poll(a, &n) != -EINVAL || n != 0)
                return 13;
        accesslog_free(a);
        return 0;
}

static void test_not_a_file(void **state)
{
        for (int from_start = 0; from_start < 2; from_start++) {
                unlink(path);
                if (from_start)
                        assert_int_equal(mkfifo(path, 0600), 0);
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0)
                        _exit(not_a_file_child(from_start));
                int status = 0, waited = 0;
                while (waitpid(pid, &status, WNOHANG) == 0 && waited < 1000) {
                        usleep(10000);
                        waited++;
                }
                if (waited == 1000) {
                        kill(pid, SIGKILL);
                        assert_int_equal(waitpid(pid, &status, 0), pid);
                        fail_msg("a FIFO at the log's path (%s): blocked for 10 s",
                                 from_start ? "when opened" : "after a rotation");
                }
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) != 0)
                        fail_msg("a FIFO at the log's path (%s): check %d failed",
                                 from_start ? "when opened" : "after a rotation",
                                 WEXITSTATUS(status));
        }
        unlink(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rotation),
                cmocka_unit_test(test_filter_and_late_file),
                cmocka_unit_test(test_long_lines),
                cmocka_unit_test(test_not_a_file),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

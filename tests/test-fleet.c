/* joules export --prometheus: the counter arithmetic and the API's answers from tables, then the
 * whole export against a small fake Prometheus on loopback (a thread here) that evaluates
 * last_over_time/min_over_time/avg_over_time over raw samples of known counters, and that can also
 * answer badly: an HTTP error, an API error, not JSON, nothing at all. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/fleet.h"
#include "common/util.h"

#define assert_double_equal(a, b, eps) near_((a), (b), (eps), __LINE__)
static void near_(double a, double b, double eps, int line)
{
        if (!(fabs(a - b) <= eps))
                fail_msg("line %d: %.17g, expected %.17g", line, a, b);
}

/* ---- the counter arithmetic ---- */

static void test_counter_table(void **state)
{
        (void)state;
        static const struct {
                bool seen;
                double prev, low, last;
                double want, want_prev; /* want NAN: no reading */
        } rows[] = {
                /* no reading in the step: nothing counted, the last reading kept */
                {false, 0, NAN, NAN, NAN, 0},
                {true, 10, NAN, NAN, NAN, 10},
                /* a counter first seen in the step counts from its lowest reading there */
                {false, 0, 5, 9, 4, 9},
                {false, 0, NAN, 7, 0, 7},
                /* steady */
                {true, 10, 12, 15, 5, 15},
                {true, 10, NAN, 15, 5, 15},
                {true, 10, 10, 10, 0, 10},
                /* a reset before the lowest reading: the value after it is added */
                {true, 100, 3, 8, 8, 8},
                /* a reset, and the new counter already past the old value: only the lowest
                 * reading shows it */
                {true, 10, 2, 30, 30, 30},
                {true, 10, NAN, 30, 20, 30},
                /* a reset between the lowest and the last reading */
                {true, 10, 12, 4, 6, 4},
                /* only a lowest reading (cannot come from the API, but safe) */
                {true, 10, 11, NAN, 1, 11},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                FleetCounter c = {.seen = rows[i].seen, .prev = rows[i].prev};
                double got = fleet_counter_step(&c, rows[i].low, rows[i].last);
                if (isnan(rows[i].want)) {
                        assert_true(isnan(got));
                } else {
                        assert_true(c.seen);
                        assert_double_equal(got, rows[i].want, 0);
                }
                assert_double_equal(c.prev, rows[i].want_prev, 0);
        }
}

/* A sequence of boundaries: the steps add up to the last reading minus the first, whatever
 * readings are missing between them. */
static void test_counter_sequence(void **state)
{
        (void)state;
        /* readings at the end of 8 steps: absent in steps 0-1 (a host appearing), missing in 4 */
        const double last[] = {NAN, NAN, 30, 40, NAN, 70, 80, 95};
        const double low[] = {NAN, NAN, 22, 31, NAN, 45, 71, 81};
        FleetCounter c = {0};
        double sum = 0;
        size_t counted = 0;
        for (size_t k = 0; k < ELEMENTSOF(last); k++) {
                double d = fleet_counter_step(&c, low[k], last[k]);
                if (isfinite(d)) {
                        sum += d;
                        counted++;
                }
                if (k == 5) /* what step 4 could not count is in step 5 */
                        assert_double_equal(d, 30, 0);
        }
        assert_int_equal(counted, 5);
        assert_double_equal(sum, 95 - 22, 0);
}

static void test_counter_resets(void **state)
{
        (void)state;
        static const struct {
                bool seen;
                double prev, low, last;
                bool want;
        } dec[] = {
                {true, 10, 12, 15, false},   {true, 10, 3, 15, true},   {true, 10, 12, 4, true},
                {true, 10, NAN, 4, true},    {false, 0, 5, 9, false},   {false, 0, 9, 5, true},
                {true, 10, NAN, NAN, false}, {true, 10, 10, 10, false},
        };
        for (size_t i = 0; i < ELEMENTSOF(dec); i++) {
                FleetCounter c = {.seen = dec[i].seen, .prev = dec[i].prev};
                if (fleet_counter_decreased(&c, dec[i].low, dec[i].last) != dec[i].want)
                        fail_msg("row %zu", i);
        }
        /* raw samples: every decrease a reset, the value after it added */
        const double v[] = {12, 15, NAN, 2, 6, 1, 4};
        assert_double_equal(fleet_counter_walk(10, v, ELEMENTSOF(v)), 5 + 2 + 4 + 1 + 3, 0);
        assert_double_equal(fleet_counter_walk(NAN, v, ELEMENTSOF(v)), 3 + 2 + 4 + 1 + 3, 0);
        assert_double_equal(fleet_counter_walk(10, v, 0), 0, 0);
}

static void test_parse_value(void **state)
{
        (void)state;
        static const struct {
                const char *s;
                unsigned decimals;
                int r;
                double want;
        } rows[] = {
                {"0", 6, 0, 0},
                {"1.5", 6, 0, 1500000},
                {"1234567.123456", 6, 0, 1234567123456.0},
                {"8999999999.999999", 6, 0, 8999999999999999.0},
                {"12.000000000", 6, 0, 12000000},
                {"0.000000001", 9, 0, 1},
                {"1e+3", 6, 0, 1e9},
                {"1.1234567", 6, 0, 1123457},
                {"42", 0, 0, 42},
                {"2.5", 0, 0, 2.5}, /* as it is */
                {"NaN", 6, -EINVAL, 0},
                {"+Inf", 6, -EINVAL, 0},
                {"-1", 6, -EINVAL, 0},
                {"", 6, -EINVAL, 0},
                {"12abc", 6, -EINVAL, 0},
                {"1e30", 6, -ERANGE, 0}, /* past what a uint64_t of µJ holds */
                {"1e30", 0, -ERANGE, 0},
                {"9223372036854.775808", 6, -ERANGE, 0},
                {"9223372036854.775807", 6, -ERANGE, 0}, /* 2^63 as a double */
                {"9223372036854.77", 6, 0, 9223372036854770000.0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                double v = -1;
                int r = fleet_parse_value(rows[i].s, rows[i].decimals, &v);
                if (r != rows[i].r)
                        fail_msg("'%s': %d, expected %d", rows[i].s, r, rows[i].r);
                if (r == 0 && v != rows[i].want)
                        fail_msg("'%s': %.17g, expected %.17g", rows[i].s, v, rows[i].want);
        }
}

/* ---- the API's answers ---- */

#define T0  INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */
#define MIN INT64_C(60000000)

static void test_parse_raw(void **state)
{
        (void)state;
        const char *body =
                "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                "{\"metric\":{\"instance\":\"a\"},\"values\":[[1767225540.5,\"7\"],"
                "[1767225570,\"2\"],[1767225600,\"3\"]]}]}}";
        FleetMatrix m = {0};
        char err[256];
        assert_int_equal(fleet_parse_answer(200, body, strlen(body), "instance", T0, -MIN, 1, 0, &m,
                                            err, sizeof(err)),
                         0);
        assert_int_equal(m.n, 1);
        assert_int_equal(m.series[0].n_v, 3);
        assert_double_equal(m.series[0].v[0], 7, 0);
        assert_double_equal(m.series[0].v[2], 3, 0);
        fleet_matrix_done(&m);
        /* a sample outside the window */
        const char *late =
                "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                "{\"metric\":{\"instance\":\"a\"},\"values\":[[1767225660,\"7\"]]}]}}";
        assert_int_equal(fleet_parse_answer(200, late, strlen(late), "instance", T0, -MIN, 1, 0, &m,
                                            err, sizeof(err)),
                         -EPROTO);
        /* joules-exporter's unit label is the people form: read back as the bytes the host's
         * history holds (a systemd escape's backslash, an ESC byte), as its own export has them */
        const char *named =
                "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                "{\"metric\":{\"instance\":\"a\",\"unit\":\"rv-x\\\\\\\\x2d\\\\x1b.service\"},"
                "\"values\":[[1767225600,\"3\"]]}]}}";
        assert_int_equal(fleet_parse_answer(200, named, strlen(named), "instance", T0, -MIN, 1, 0,
                                            &m, err, sizeof(err)),
                         0);
        assert_string_equal(m.series[0].unit, "rv-x\\x2d\x1b.service");
        fleet_matrix_done(&m);
}

static void test_parse_answers(void **state)
{
        (void)state;
        static const struct {
                long status;
                const char *body;
                int r;
                const char *err; /* a part of the message */
        } rows[] = {
                {200,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                 "{\"metric\":{\"instance\":\"b\",\"unit\":\"x\",\"mode\":\"idle\"},"
                 "\"values\":[[1767225660,\"2.5\"],[1767225720.000,\"3\"]]},"
                 "{\"metric\":{\"instance\":\"a\"},\"values\":[[1767225600,\"1\"]]},"
                 "{\"metric\":{\"job\":\"j\"},\"values\":[[1767225600,\"1\"]]}]}}",
                 0, NULL},
                {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
                 0, NULL},
                {400,
                 "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse "
                 "error\"}",
                 -EPROTO, "HTTP status 400, bad_data: 1:5: parse error"},
                {422, "{\"status\":\"error\"}", -EPROTO, "error: (no message)"},
                {503, "Service Unavailable", -EPROTO, "HTTP status 503"},
                {200, "<html>proxy login</html>", -EPROTO, "not JSON"},
                {200, "{\"status\":\"success\"} trailing", -EPROTO, "not JSON"},
                {200, "[1,2]", -EPROTO, "no \"status\""},
                {200, "{\"data\":{}}", -EPROTO, "no \"status\""},
                {200, "{\"status\":\"success\"}", -EPROTO, "no data object"},
                {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
                 -EPROTO, "resultType"},
                {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":{}}}",
                 -EPROTO, "not an array"},
                {200,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                 "{\"metric\":{\"instance\":\"a\"},\"values\":[[1767225630,\"1\"]]}]}}",
                 -EPROTO, "not one of the times"},
                {200,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                 "{\"metric\":{\"instance\":\"a\"},\"values\":[[1767225600,\"-4\"]]}]}}",
                 -EPROTO, "not a number >= 0"},
                {200,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                 "{\"metric\":{\"instance\":\"a\"},\"values\":[[1767225600,4]]}]}}",
                 -EPROTO, "not a string"},
                {200,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                 "{\"metric\":{\"instance\":\"a\"}}]}}",
                 -EPROTO, "no values"},
                {200,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                 "{\"metric\":{\"instance\":\"a\",\"site\":\"1\"},\"values\":[]},"
                 "{\"metric\":{\"instance\":\"a\",\"site\":\"2\"},\"values\":[]}]}}",
                 -ENOTUNIQ, "two series have instance=\"a\""},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                FleetMatrix m = {0};
                char err[512] = "";
                int r = fleet_parse_answer(rows[i].status, rows[i].body, strlen(rows[i].body),
                                           "instance", T0, MIN, 3, 6, &m, err, sizeof(err));
                if (r != rows[i].r)
                        fail_msg("row %zu: %d (%s), expected %d", i, r, err, rows[i].r);
                if (rows[i].err && !strstr(err, rows[i].err))
                        fail_msg("row %zu: '%s' lacks '%s'", i, err, rows[i].err);
                if (i == 0) {
                        assert_int_equal(m.n, 2);
                        assert_int_equal(m.no_host, 1);
                        assert_string_equal(m.series[0].host, "a"); /* sorted */
                        assert_null(m.series[0].unit);
                        assert_double_equal(m.series[0].v[0], 1e6, 0);
                        assert_true(isnan(m.series[0].v[1]));
                        assert_string_equal(m.series[1].unit, "x");
                        assert_string_equal(m.series[1].mode, "idle");
                        assert_true(isnan(m.series[1].v[0]));
                        assert_double_equal(m.series[1].v[1], 2.5e6, 0);
                        assert_double_equal(m.series[1].v[2], 3e6, 0);
                }
                fleet_matrix_done(&m);
        }
}

/* ---- a fake Prometheus ---- */

/* Raw samples every 60 s of counters rising at `rate` per second from `born` (seconds after T0),
 * starting again from 0 at `reset`, with no samples in [gap_from, gap_to). */
typedef struct FakeSeries {
        const char *metric;
        const char *labels; /* JSON members */
        double rate, base;
        int64_t born, reset, gap_from, gap_to;
} FakeSeries;

#define NEVER INT64_MAX
static const FakeSeries fake[] = {
        /* host a: 100 W all along, 80 W of it x.service's, 20 W idle; requests 10/s */
        {"joules_host_energy_joules_total", "\"instance\":\"a\"", 100, 0, -3600, NEVER, 0, 0},
        {"joules_host_measured_seconds_total", "\"instance\":\"a\"", 1, 0, -3600, NEVER, 0, 0},
        {"joules_unit_energy_joules_total",
         "\"instance\":\"a\",\"unit\":\"x.service\",\"mode\":\"active\"", 80, 0, -3600, NEVER, 0,
         0},
        {"joules_unit_energy_joules_total",
         "\"instance\":\"a\",\"unit\":\"x.service\",\"mode\":\"idle\"", 0, 0, -3600, NEVER, 0, 0},
        {"joules_unit_energy_joules_total",
         "\"instance\":\"a\",\"unit\":\"idle\",\"mode\":\"idle\"", 20, 0, -3600, NEVER, 0, 0},
        {"joules_unit_cpu_seconds_total", "\"instance\":\"a\",\"unit\":\"x.service\"", 0.5, 0,
         -3600, NEVER, 0, 0},
        {"joules_unit_requests_total",
         "\"instance\":\"a\",\"unit\":\"x.service\",\"metric\":\"requests\"", 10, 0, -3600, NEVER,
         0, 0},
        /* rising by 1 g/kWh a minute, 360 at T0: over the first hour its samples average 390,
         * the hour's mean, where the last is 420 */
        {"joules_grid_intensity_grams_per_kwh", "\"instance\":\"a\"", 1.0 / 60, 300, -3600, NEVER,
         0, 0},
        {"joules_pue", "\"instance\":\"a\"", 0, 1.5, -3600, NEVER, 0, 0},
        {"joules_info", "\"instance\":\"a\",\"estimated\":\"false\",\"hostname\":\"A\"", 0, 1,
         -3600, NEVER, 0, 0},
        /* host b: appears at 00:30 with 50 W, all y.service's; no samples over the hour's end
         * (00:50 to 01:05); a new history at 01:30 (its counters start again) */
        {"joules_host_energy_joules_total", "\"instance\":\"b\"", 50, 0, 1800, 5400, 3000, 3900},
        {"joules_host_measured_seconds_total", "\"instance\":\"b\"", 1, 0, 1800, 5400, 3000, 3900},
        {"joules_unit_energy_joules_total",
         "\"instance\":\"b\",\"unit\":\"y.service\",\"mode\":\"active\"", 50, 0, 1800, 5400, 3000,
         3900},
        {"joules_info", "\"instance\":\"b\",\"estimated\":\"true\",\"hostname\":\"B\"", 0, 1, 1800,
         NEVER, 3000, 3900},
};

enum FakeMode { FAKE_OK, FAKE_503, FAKE_API_ERROR, FAKE_NOT_JSON, FAKE_SILENT, FAKE_NO_DATA };
static volatile enum FakeMode mode;
static int listen_fd;
static int port;
static int queries;

static bool has_sample(const FakeSeries *f, int64_t t)
{
        return t >= f->born && !(t >= f->gap_from && t < f->gap_to);
}

static double sample(const FakeSeries *f, int64_t t)
{
        int64_t from = t >= f->reset ? f->reset : f->born;
        return f->base + f->rate * (double)(t - from);
}

/* func(metric{...}[range]) at t, over the samples in [t - range, t] */
typedef enum FakeFunc { FAKE_LAST, FAKE_MIN, FAKE_AVG } FakeFunc;

static bool evaluate(const FakeSeries *f, FakeFunc fn, int64_t t_ms, int64_t range_ms, double *ret)
{
        size_t n = 0;
        double sum = 0;
        *ret = 0;
        for (int64_t s = -7200; s <= 4 * 3600; s += 60) {
                int64_t s_ms = s * 1000 + T0 / 1000;
                if (s_ms < t_ms - range_ms || s_ms > t_ms || !has_sample(f, s))
                        continue;
                double v = sample(f, s);
                if (n == 0 || fn == FAKE_LAST || (fn == FAKE_MIN && v < *ret))
                        *ret = v;
                sum += v;
                n++;
        }
        if (fn == FAKE_AVG && n > 0)
                *ret = sum / (double)n;
        return n > 0;
}

static void url_decode(char *s)
{
        char *o = s;
        for (; *s; s++) {
                if (*s == '+') {
                        *o++ = ' ';
                } else if (*s == '%' && s[1] && s[2]) {
                        char hex[3] = {s[1], s[2], 0};
                        *o++ = (char)strtol(hex, NULL, 16);
                        s += 2;
                } else {
                        *o++ = *s;
                }
        }
        *o = '\0';
}

static bool form_field(const char *form, const char *name, char *buf, size_t size)
{
        size_t l = strlen(name);
        for (const char *p = form; p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
                if (strncmp(p, name, l) == 0 && p[l] == '=') {
                        size_t n = strcspn(p + l + 1, "&");
                        snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), p + l + 1);
                        url_decode(buf);
                        return true;
                }
        return false;
}

static void answer(int fd, const char *status, const char *body)
{
        char head[256];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: "
                         "%zu\r\nConnection: close\r\n\r\n",
                         status, strlen(body));
        (void)!write(fd, head, (size_t)n);
        (void)!write(fd, body, strlen(body));
}

static void serve_query(int fd, const char *form)
{
        char query[512], start[64] = "", end[64] = "", step[64] = "", time_s[64] = "";
        if (!form_field(form, "query", query, sizeof(query))) {
                answer(fd, "400 Bad Request", "{\"status\":\"error\",\"errorType\":\"bad_data\"}");
                return;
        }
        bool range = form_field(form, "step", step, sizeof(step));
        form_field(form, "start", start, sizeof(start));
        form_field(form, "end", end, sizeof(end));
        form_field(form, "time", time_s, sizeof(time_s));
        /* max by (instance) (INNER): the fake's series are one per instance already */
        if (strncmp(query, "max by (", 8) == 0) {
                const char *inner = strstr(query, ") (");
                if (!inner) {
                        answer(fd, "400 Bad Request",
                               "{\"status\":\"error\",\"errorType\":\"bad_data\"}");
                        return;
                }
                memmove(query, inner + 3, strlen(inner + 3) + 1);
                query[strlen(query) - 1] = '\0';
        }
        FakeFunc fn = strncmp(query, "min_over_time(", 14) == 0   ? FAKE_MIN
                      : strncmp(query, "avg_over_time(", 14) == 0 ? FAKE_AVG
                                                                  : FAKE_LAST;
        /* a range selector alone: its raw samples */
        bool raw = fn == FAKE_LAST && strncmp(query, "last_over_time(", 15) != 0;
        const char *name = raw ? query : strchr(query, '(') + 1;
        size_t name_len = strcspn(name, "{[");
        const char *sel = name + name_len;
        int64_t range_ms = strtoll(strchr(query, '[') + 1, NULL, 10);
        int64_t t0 = llround(strtod(range ? start : time_s, NULL) * 1000);
        int64_t t1 = range ? llround(strtod(end, NULL) * 1000) : t0;
        int64_t st = range ? llround(strtod(step, NULL) * 1000) : 1;
        static char body[1 << 20];
        size_t len = (size_t)snprintf(body, sizeof(body),
                                      "{\"status\":\"success\",\"data\":{\"resultType\":\"%s\","
                                      "\"result\":[",
                                      range || raw ? "matrix" : "vector");
        bool first = true;
        for (size_t i = 0; i < ELEMENTSOF(fake); i++) {
                const FakeSeries *f = &fake[i];
                if (strlen(f->metric) != name_len || strncmp(f->metric, name, name_len) != 0)
                        continue;
                /* the matchers this test uses: metric="requests", instance="b" */
                if (strstr(sel, "instance=\"b\"") && !strstr(f->labels, "\"instance\":\"b\""))
                        continue;
                if (strstr(sel, "estimated=\"true\"") &&
                    !strstr(f->labels, "\"estimated\":\"true\""))
                        continue;
                size_t mark = len;
                len += (size_t)snprintf(body + len, sizeof(body) - len,
                                        "%s{\"metric\":{%s},\"%s\":%s", first ? "" : ",", f->labels,
                                        range || raw ? "values" : "value", range || raw ? "[" : "");
                bool any = false;
                for (int64_t s = -7200; raw && s <= 4 * 3600; s += 60) {
                        int64_t s_ms = s * 1000 + T0 / 1000;
                        if (s_ms < t0 - range_ms || s_ms > t0 || !has_sample(f, s))
                                continue;
                        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                                "%s[%.3f,\"%.17g\"]", any ? "," : "",
                                                (double)s_ms / 1000, sample(f, s));
                        any = true;
                }
                for (int64_t t = t0; !raw && t <= t1; t += st) {
                        double v;
                        if (!evaluate(f, fn, t, range_ms, &v))
                                continue;
                        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                                "%s[%.3f,\"%.17g\"]", any && range ? "," : "",
                                                (double)t / 1000, v);
                        any = true;
                        if (!range)
                                break;
                }
                if (!any) { /* no point: no series */
                        len = mark;
                        continue;
                }
                len += (size_t)snprintf(body + len, sizeof(body) - len, "%s}",
                                        range || raw ? "]" : "");
                first = false;
        }
        snprintf(body + len, sizeof(body) - len, "]}}");
        answer(fd, "200 OK", body);
}

static void *server(void *arg)
{
        (void)arg;
        for (;;) {
                int fd = accept(listen_fd, NULL, NULL);
                if (fd < 0)
                        return NULL;
                static char req[65536];
                size_t len = 0;
                char *body = NULL;
                size_t want = 0;
                for (;;) {
                        ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
                        if (n <= 0)
                                break;
                        len += (size_t)n;
                        req[len] = '\0';
                        if (!body && (body = strstr(req, "\r\n\r\n"))) {
                                body += 4;
                                const char *cl = strcasestr(req, "Content-Length:");
                                want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
                        }
                        if (body && (size_t)(req + len - body) >= want)
                                break;
                }
                __atomic_add_fetch(&queries, 1, __ATOMIC_SEQ_CST);
                switch (mode) {
                case FAKE_OK:
                        serve_query(fd, body ? body : "");
                        break;
                case FAKE_503:
                        answer(fd, "503 Service Unavailable", "overloaded");
                        break;
                case FAKE_API_ERROR:
                        answer(fd, "422 Unprocessable Entity",
                               "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":"
                               "\"query processing would load too many samples\\u001b[31m\"}");
                        break;
                case FAKE_NOT_JSON:
                        answer(fd, "200 OK", "<html><body>Sign in</body></html>");
                        break;
                case FAKE_NO_DATA:
                        answer(fd, "200 OK", "{\"status\":\"success\"}");
                        break;
                case FAKE_SILENT:
                        sleep(2); /* longer than the client's timeout */
                        break;
                }
                close(fd);
        }
}

typedef struct Row {
        char host[256], service[256];
        int64_t start;
        double energy_j, requests, location_g, pue;
        bool estimated;
        char source[64];
} Row;
static Row got[64];
static size_t n_got;

static int collect(const Footprint *fp, void *user)
{
        (void)user;
        for (size_t i = 0; i < fp->n_rows; i++) {
                const FootprintRow *r = &fp->rows[i];
                assert_true(n_got < ELEMENTSOF(got));
                Row *o = &got[n_got++];
                snprintf(o->host, sizeof(o->host), "%s", fp->hostname);
                snprintf(o->service, sizeof(o->service), "%s", r->name);
                o->start = fp->periods[r->period].start_us;
                o->energy_j = r->f.active_j + r->f.idle_j;
                o->requests = r->f.has_requests ? r->f.requests : NAN;
                o->location_g = r->f.location_g;
                o->pue = fp->fs->pue;
                o->estimated = r->f.estimated;
                footprint_source(fp, &r->f, o->source, sizeof(o->source));
        }
        return 0;
}

static int server_setup(void **state)
{
        (void)state;
        listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(a);
        if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            listen(listen_fd, 16) < 0 || getsockname(listen_fd, (struct sockaddr *)&a, &l) < 0)
                return -1;
        port = ntohs(a.sin_port);
        pthread_t t;
        if (pthread_create(&t, NULL, server, NULL) != 0)
                return -1;
        pthread_detach(t);
        return 0;
}

static int run(const char *match, StoreBucket bucket, int64_t from, int64_t to, char *err,
               size_t errlen)
{
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
        FleetOptions o = {.url = url,
                          .host_label = "instance",
                          .match = match,
                          .timeout_s = 0.5,
                          .from_us = from,
                          .to_us = to,
                          .bucket = bucket};
        n_got = 0;
        return fleet_export(&o, collect, NULL, err, errlen);
}

static const Row *find(const char *host, const char *service, int64_t start)
{
        for (size_t i = 0; i < n_got; i++)
                if (strcmp(got[i].host, host) == 0 && strcmp(got[i].service, service) == 0 &&
                    got[i].start == start)
                        return &got[i];
        return NULL;
}

#define HOUR INT64_C(3600000000)

static void test_export(void **state)
{
        (void)state;
        char err[2048];
        mode = FAKE_OK;
        int r = run(NULL, STORE_BUCKET_HOUR, T0, T0 + 2 * HOUR, err, sizeof(err));
        if (r < 0)
                fail_msg("%s", err);

        assert_int_equal(r, 2);
        /* period by period, hosts by host_id, rows by energy */
        static const struct {
                const char *host, *service;
                int64_t start;
                double energy_j, requests;
        } want[] = {
                {"a", "x.service", T0, 80 * 3600.0, 36000},
                {"a", "idle", T0, 20 * 3600.0, NAN},
                /* b appears at 00:30: counted from its first reading; its last in the hour is
                 * 00:49 */
                {"b", "y.service", T0, 50 * (2940 - 1800.0), NAN},
                {"a", "x.service", T0 + HOUR, 80 * 3600.0, 36000},
                {"a", "idle", T0 + HOUR, 20 * 3600.0, NAN},
                /* a reset at 01:30 (the readings at the hour's end are below the last before
                 * it): the hour's raw samples are read, and what the old counter gained from
                 * 00:49 to 01:29 is added to what the new one counted from 0 */
                {"b", "y.service", T0 + HOUR, 50 * (5340 - 2940.0) + 50 * (7200 - 5400.0), NAN},
        };
        assert_int_equal(n_got, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                assert_string_equal(got[i].host, want[i].host);
                assert_string_equal(got[i].service, want[i].service);
                assert_int_equal(got[i].start, want[i].start);
                assert_double_equal(got[i].energy_j, want[i].energy_j, 1e-6);
                if (isnan(want[i].requests))
                        assert_true(isnan(got[i].requests));
                else
                        assert_double_equal(got[i].requests, want[i].requests, 1e-9);
        }
        /* host a: its gauges (intensity 390 over the hour, PUE 1.5); b has none: the defaults */
        const Row *ax = find("a", "x.service", T0);
        assert_double_equal(ax->pue, 1.5, 0);
        assert_double_equal(ax->location_g, 80 * 3600.0 / 3.6e6 * 1.5 * 390, 1e-9);
        assert_string_equal(ax->source, "exporter");
        assert_false(ax->estimated);
        const Row *by = find("b", "y.service", T0);
        assert_double_equal(by->pue, 1.0, 0);
        assert_string_equal(by->source, "ember-2024:WORLD");
        assert_true(by->estimated);

        /* --by day: the same energy in one period */
        r = run(NULL, STORE_BUCKET_DAY, T0, T0 + 2 * HOUR, err, sizeof(err));
        assert_int_equal(r, 2);
        assert_int_equal(n_got, 3);
        assert_double_equal(find("a", "x.service", T0)->energy_j, 80 * 7200.0, 1e-6);
        assert_double_equal(find("b", "y.service", T0)->energy_j,
                            50 * (5340 - 1800.0) + 50 * (7200 - 5400.0), 1e-6);

        /* a range whose ends cut the hours: 00:20 to 01:10, asked as three steps */
        r = run(NULL, STORE_BUCKET_HOUR, T0 + 20 * MIN, T0 + 70 * MIN, err, sizeof(err));
        assert_int_equal(r, 2);
        assert_double_equal(find("a", "x.service", T0 + 20 * MIN)->energy_j, 80 * 2400.0, 1e-6);
        assert_double_equal(find("a", "x.service", T0 + HOUR)->energy_j, 80 * 600.0, 1e-6);
        /* b's readings resume at 01:05: what it gained from 00:49 is counted then */
        assert_double_equal(find("b", "y.service", T0 + HOUR)->energy_j, 50 * (4200 - 2940.0),
                            1e-6);

        /* matchers: one host */
        r = run("instance=\"b\"", STORE_BUCKET_HOUR, T0, T0 + 2 * HOUR, err, sizeof(err));
        assert_int_equal(r, 1);
        for (size_t i = 0; i < n_got; i++)
                assert_string_equal(got[i].host, "b");

        /* nothing in the range: no host, no row */
        r = run(NULL, STORE_BUCKET_HOUR, T0 - 1000 * HOUR, T0 - 999 * HOUR, err, sizeof(err));
        assert_int_equal(r, 0);
        assert_int_equal(n_got, 0);
}

static void test_export_errors(void **state)
{
        (void)state;
        static const struct {
                enum FakeMode mode;
                int r;
                const char *err;
        } rows[] = {
                {FAKE_503, -EPROTO, "HTTP status 503"},
                {FAKE_API_ERROR, -EPROTO,
                 "HTTP status 422, execution: query processing would load too many samples"},
                {FAKE_NOT_JSON, -EPROTO, "the answer is not JSON"},
                {FAKE_NO_DATA, -EPROTO, "no data object"},
                {FAKE_SILENT, -EIO, "timed out"},
        };
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char err[2048] = "";
                mode = rows[i].mode;
                int r = run(NULL, STORE_BUCKET_HOUR, T0, T0 + HOUR, err, sizeof(err));
                if (r != rows[i].r)
                        fail_msg("mode %d: %d (%s), expected %d", rows[i].mode, r, err, rows[i].r);
                if (!strstr(err, rows[i].err) || strncmp(err, url, strlen(url)) != 0)
                        fail_msg("mode %d: '%s' lacks the URL or '%s'", rows[i].mode, err,
                                 rows[i].err);
                assert_int_equal(n_got, 0);
        }
        mode = FAKE_OK;

        /* nobody listening */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(a);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
        char closed[64], err[2048];
        snprintf(closed, sizeof(closed), "http://joules:s3cret@127.0.0.1:%d", ntohs(a.sin_port));
        FleetOptions o = {.url = closed,
                          .host_label = "instance",
                          .timeout_s = 2,
                          .from_us = T0,
                          .to_us = T0 + HOUR,
                          .bucket = STORE_BUCKET_HOUR};
        int r = fleet_export(&o, collect, NULL, err, sizeof(err));
        close(fd);
        assert_int_equal(r, -EIO);
        assert_non_null(strstr(err, "http://joules:***@127.0.0.1:"));
        assert_null(strstr(err, "s3cret"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counter_table),  cmocka_unit_test(test_counter_sequence),
                cmocka_unit_test(test_counter_resets), cmocka_unit_test(test_parse_value),
                cmocka_unit_test(test_parse_answers),  cmocka_unit_test(test_parse_raw),
                cmocka_unit_test(test_export),         cmocka_unit_test(test_export_errors),
        };
        return cmocka_run_group_tests(tests, server_setup, NULL);
}

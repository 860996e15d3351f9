/* Table tests for common/text.c: untrusted bytes made safe for people, JSON, CSV, SVG and
 * Prometheus labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/text.h"
#include "common/util.h"

static void test_utf8_char(void **state)
{
        static const struct {
                const char *in;
                size_t len;
                uint32_t cp;
        } rows[] = {
                {"a", 1, 'a'},
                {"\xc3\xa9", 2, 0xe9},             /* é */
                {"\xe2\x82\xac", 3, 0x20ac},       /* € */
                {"\xf0\x9f\x94\x8b", 4, 0x1f50b},  /* 🔋 */
                {"\xf4\x8f\xbf\xbf", 4, 0x10ffff}, /* the last scalar value */
                {"\x80", 0, 0},                    /* stray continuation */
                {"\xc3", 0, 0},                    /* truncated */
                {"\xc3(", 0, 0},                   /* bad continuation */
                {"\xc0\xaf", 0, 0},                /* overlong '/' */
                {"\xe0\x80\xaf", 0, 0},            /* overlong, 3 bytes */
                {"\xed\xa0\x80", 0, 0},            /* surrogate U+D800 */
                {"\xf4\x90\x80\x80", 0, 0},        /* above U+10FFFF */
                {"\xff", 0, 0},                    /* never in UTF-8 */
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint32_t cp = 0;
                size_t l = text_utf8_char(rows[i].in, strlen(rows[i].in), &cp);
                assert_int_equal(l, rows[i].len);
                if (l)
                        assert_int_equal(cp, rows[i].cp);
        }
        assert_true(text_utf8_valid("nginx.service é €"));
        assert_false(text_utf8_valid("ok\xff"));
}

static void test_terminal(void **state)
{
        static const struct {
                const char *in, *out;
        } rows[] = {
                {"nginx.service", "nginx.service"},
                {"", ""},
                {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"},
                {"\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"},
                {"a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"},
                {"del\x7f", "del\\x7f"},
                {"back\\slash", "back\\\\slash"},
                {"bad\xff\xfe", "bad\\xff\\xfe"},
                {"half\xe2\x82", "half\\xe2\\x82"},
                {"\xc2\x9b"
                 "31m",
                 "\\u{009b}31m"}, /* C1 CSI */
                {"\xe2\x80\xae"
                 "cod.exe",
                 "\\u{202e}cod.exe"}, /* right-to-left override */
                {"zero\xe2\x80\x8bwidth", "zero\\u{200b}width"},
                {"\xed\xa0\x80", "\\xed\\xa0\\x80"}, /* surrogate: three bytes */
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char buf[128];
                assert_string_equal(text_terminal(rows[i].in, buf, sizeof(buf)), rows[i].out);
                assert_true(text_utf8_valid(buf));
        }
        char buf[128];
        assert_string_equal(text_terminal(NULL, buf, sizeof(buf)), "");
        /* cut at a character boundary, never inside an escape or a sequence */
        assert_string_equal(text_terminal("ab\x1b", buf, 5), "ab");
        assert_string_equal(text_terminal("ab\xe2\x82\xac", buf, 5), "ab");
        assert_string_equal(text_terminal("abcd", buf, 1), "");
        assert_string_equal(TEXT_SAFE("x\x1b"), "x\\x1b");
}

/* Every byte value in every position: the people form never holds a control byte and is
 * always valid UTF-8. */
static void test_terminal_all_bytes(void **state)
{
        char in[4] = "a?b";
        for (int c = 1; c < 256; c++) {
                in[1] = (char)c;
                char buf[64];
                text_terminal(in, buf, sizeof(buf));
                assert_true(text_utf8_valid(buf));
                for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
                        assert_true(*p >= 0x20 && *p != 0x7f);
        }
}

static char *with_memstream(void (*fn)(FILE *, const char *), const char *s)
{
        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);
        assert_non_null(f);
        fn(f, s);
        fclose(f);
        return out;
}

static void test_json(void **state)
{
        static const struct {
                const char *in, *out;
        } rows[] = {
                {"nginx.service", "\"nginx.service\""},
                {"say \"hi\"\\", "\"say \\\"hi\\\"\\\\\""},
                {"\x1b[31m", "\"\\u001b[31m\""},
                {"a\nb\tc", "\"a\\nb\\tc\""},
                {"del\x7f", "\"del\\u007f\""},
                {"\xc2\x9b", "\"\\u009b\""},
                {"ls\xe2\x80\xa8", "\"ls\\u2028\""},
                {"\xe2\x80\xae"
                 "cod",
                 "\"\\u202ecod\""},
                {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
                {"bad\xff", "\"bad\xef\xbf\xbd\""},
                {"\xe2\x82", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
                {NULL, "null"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                _cleanup_free_ char *out = with_memstream(text_json_fputs, rows[i].in);
                assert_string_equal(out, rows[i].out);
                assert_true(text_utf8_valid(out));
        }
}

static void test_csv(void **state)
{
        static const struct {
                const char *in, *out;
        } rows[] = {
                {"nginx.service", "nginx.service"},
                {"", ""},
                {"a,b", "\"a,b\""},
                {"say \"hi\"", "\"say \"\"hi\"\"\""},
                {"two\nlines", "two\\x0alines"},
                {"cr\r", "cr\\x0d"},
                {"\"", "\"\"\"\""},
                {"=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""},
                {"+1", "'+1"},
                {"-x.service", "'-x.service"},
                {"@sum", "'@sum"},
                {"bad\xff", "bad\\xff"},
                {"\x1b]0;title\x07", "\\x1b]0;title\\x07"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char buf[64];
                text_csv_field(buf, sizeof(buf), rows[i].in);
                assert_string_equal(buf, rows[i].out);
        }
        /* too small: quotes stay balanced */
        char small[6];
        text_csv_field(small, sizeof(small), "a,bcdefgh");
        assert_string_equal(small, "\"a,b\"");
}

static void test_xml(void **state)
{
        _cleanup_free_ char *x = with_memstream(text_xml_fputs, "<a href=\"x\">&\x1b</a>");
        assert_string_equal(x, "&lt;a href=&quot;x&quot;&gt;&amp;\\x1b&lt;/a&gt;");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utf8_char),
                cmocka_unit_test(test_terminal),
                cmocka_unit_test(test_terminal_all_bytes),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_csv),
                cmocka_unit_test(test_xml),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

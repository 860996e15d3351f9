/* Table tests for common/text.c: untrusted bytes made safe for people, JSON, CSV, SVG and
 * Prometheus labels. */
#include <setjmp.h>
#include <stdbool.h>
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
                /* the other invisible ones: soft hyphen, word joiner, a tag, a variation
                 * selector, the Hangul filler, the combining grapheme joiner, a line separator */
                {"ss\xc2\xad"
                 "hd",
                 "ss\\u{00ad}hd"},
                {"sshd\xe2\x81\xa0", "sshd\\u{2060}"},
                {"x\xf3\xa0\x80\x81", "x\\u{e0001}"},
                {"\xe2\x9d\xa4\xef\xb8\x8f", "\xe2\x9d\xa4\\u{fe0f}"},
                {"\xe3\x85\xa4", "\\u{3164}"},
                {"a\xcd\x8f", "a\\u{034f}"},
                {"l\xe2\x80\xa8", "l\\u{2028}"},
                {"\xef\xbf\xbe\xf4\x8f\xbf\xbf\xef\xb7\x90", "\\u{fffe}\\u{10ffff}\\u{fdd0}"},
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

/* Cutting the people form: never inside a character or an escape. */
static void test_fit(void **state)
{
        static const struct {
                const char *in;
                size_t max, fit;
        } rows[] = {
                {"abcdef", 10, 6},       {"abcdef", 3, 3},
                {"a\xe2\x82\xac", 3, 1}, /* "€" does not fit in 2 */
                {"a\xe2\x82\xac", 4, 4}, {"ab\\x1bcd", 4, 2},
                {"ab\\x1bcd", 6, 6},     {"ab\\\\cd", 3, 2},
                {"ab\\u{202e}c", 8, 2},  {"ab\\u{202e}c", 10, 10},
                {"\\x1b", 3, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                assert_int_equal(text_fit(rows[i].in, rows[i].max), rows[i].fit);
        /* the event name of a foreign history, cut to a column: "\xe2" alone never shows */
        assert_string_equal(TEXT_SAFE_CUT("abcdefghijklm\xe2\x82\xac", 14), "abcdefghijklm");
        assert_string_equal(TEXT_SAFE_CUT("=\x1b]0;T\x07", 10), "=\\x1b]0;T");
        char buf[64];
        /* the tail of an abbreviation starts after an escape, not inside it */
        assert_string_equal(text_abbrev("aaaaaaaaaa\\x1bbbbbb", 16, "...", buf, sizeof(buf)),
                            "aaaaaa...bbbbb");
}

static void test_printable(void **state)
{
        static const struct {
                const char *in;
                bool ok;
        } rows[] = {
                {"/var/lib/joules/joules.db", true},
                {"caf\xc3\xa9 back\\slash", true},
                {"", true},
                {"a\tb", false},
                {"\x1b[5m", false},
                {"del\x7f", false},
                {"\xc2\x9b", false},
                {"bad\xff", false},
                {"sshd\xe2\x81\xa0", false},
                {"\xe2\x80\xae", false},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                assert_int_equal(text_printable(rows[i].in, NULL), rows[i].ok);
        assert_true(text_printable("a\tb", "\t"));
        assert_false(text_printable("a\tb\x1b", "\t"));
        assert_false(text_printable("a\xc2\x9b", "\t"));
}

/* text_from_terminal undoes text_terminal for every name, and leaves what is no escape. */
static void test_from_terminal(void **state)
{
        static const char *const names[] = {
                "nginx.service",
                "rv-x\\x1b\\x5b31m.service", /* systemd's escapes, literal backslashes */
                "evil\x1b[31m\xc2\x9b\xe2\x80\xae\xff,\"=x.service",
                "a\\b\\\\c\\",
                "sshd\xe2\x81\xa0x\xf3\xa0\x80\x81\xc2\xad",
                "caf\xc3\xa9 \xe2\x82\xac",
                "\x01\x7f\x80\xfe",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *back = text_from_terminal(TEXT_SAFE(names[i]));
                assert_non_null(back);
                assert_string_equal(back, names[i]);
        }
        static const struct {
                const char *in, *out;
        } rows[] = {
                {"\\q", "\\q"},
                {"\\x00", "\\x00"},
                {"\\xzz", "\\xzz"},
                {"\\u{d800}", "\\u{d800}"},
                {"\\u{110000}", "\\u{110000}"},
                {"\\u{}", "\\u{}"},
                {"tail\\", "tail\\"},
                {"\\x4", "\\x4"},
                {"\\u{41", "\\u{41"},
                {"\\u{41}", "A"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                _cleanup_free_ char *out = text_from_terminal(rows[i].in);
                assert_string_equal(out, rows[i].out);
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
                {"sshd\xe2\x81\xa0", "\"sshd\\u2060\""},
                {"x\xf3\xa0\x80\x81", "\"x\\udb40\\udc01\""}, /* U+E0001: a surrogate pair */
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
                cmocka_unit_test(test_fit),
                cmocka_unit_test(test_printable),
                cmocka_unit_test(test_from_terminal),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_csv),
                cmocka_unit_test(test_xml),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

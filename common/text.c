#include "common/text.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

size_t text_utf8_char(const char *s, size_t n, uint32_t *ret_cp)
{
        const unsigned char *p = (const unsigned char *)s;
        if (n == 0)
                return 0;
        if (p[0] < 0x80) {
                if (ret_cp)
                        *ret_cp = p[0];
                return 1;
        }
        size_t len;
        uint32_t cp, min;
        if ((p[0] & 0xe0) == 0xc0) {
                len = 2, cp = p[0] & 0x1f, min = 0x80;
        } else if ((p[0] & 0xf0) == 0xe0) {
                len = 3, cp = p[0] & 0x0f, min = 0x800;
        } else if ((p[0] & 0xf8) == 0xf0) {
                len = 4, cp = p[0] & 0x07, min = 0x10000;
        } else {
                return 0; /* a continuation byte, or 0xf8..0xff */
        }
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0; /* overlong, out of range, surrogate */
        if (ret_cp)
                *ret_cp = cp;
        return len;
}

int text_utf8_valid(const char *s)
{
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
                size_t l = text_utf8_char(s + i, n - i, NULL);
                if (l == 0)
                        return 0;
                i += l;
        }
        return 1;
}

/* Characters that show nothing, or change how a terminal lays out what follows: Unicode's
 * format characters (category Cf: bidirectional overrides and isolates, "Trojan source", zero-width
 * marks, the BOM, the soft hyphen, tags), its other default-ignorable code points (fillers,
 * variation selectors, the combining grapheme joiner), the line and paragraph separators and the
 * noncharacters (U+FDD0..U+FDEF, U+xFFFE and U+xFFFF).
 * "sshd" and "sshd" with a word joiner would otherwise look the same. */
static bool text_invisible_format(uint32_t cp)
{
        static const struct {
                uint32_t lo, hi;
        } ranges[] = {
                {0x00ad, 0x00ad},   {0x034f, 0x034f},   {0x0600, 0x0605},   {0x061c, 0x061c},
                {0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x0890, 0x0891},   {0x08e2, 0x08e2},
                {0x115f, 0x1160},   {0x17b4, 0x17b5},   {0x180b, 0x180f},   {0x200b, 0x200f},
                {0x2028, 0x202e},   {0x2060, 0x206f},   {0x3164, 0x3164},   {0xfe00, 0xfe0f},
                {0xfeff, 0xfeff},   {0xffa0, 0xffa0},   {0xfff0, 0xfffb},   {0x110bd, 0x110bd},
                {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a},
                {0xe0000, 0xe0fff},
        };
        if (cp < 0xad)
                return false;
        if ((cp & 0xfffe) == 0xfffe || (cp >= 0xfdd0 && cp <= 0xfdef))
                return true; /* noncharacters: never text */
        for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
                if (cp >= ranges[i].lo && cp <= ranges[i].hi)
                        return true;
        return false;
}

/* cp (a scalar value) in UTF-8 at p; returns its length. */
static size_t text_utf8_put(char *p, uint32_t cp)
{
        if (cp < 0x80) {
                p[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                p[0] = (char)(0xc0 | (cp >> 6));
                p[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                p[0] = (char)(0xe0 | (cp >> 12));
                p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                p[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        p[0] = (char)(0xf0 | (cp >> 18));
        p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

/* What text_terminal() escapes, but for the backslash. */
static bool text_escaped(uint32_t cp)
{
        return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || text_invisible_format(cp);
}

bool text_printable(const char *s, const char *allowed)
{
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t l = text_utf8_char(s + i, n - i, &cp);
                if (l == 0 ||
                    (text_escaped(cp) && !(cp < 0x80 && allowed && strchr(allowed, (int)cp))))
                        return false;
                i += l;
        }
        return true;
}

char *text_terminal(const char *s, char *buf, size_t size)
{
        if (size == 0)
                return buf;
        size_t o = 0;
        if (!s)
                s = "";
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
                char esc[16];
                const char *piece = esc;
                size_t plen;
                uint32_t cp = 0;
                size_t l = text_utf8_char(s + i, n - i, &cp);
                if (l == 0) {
                        plen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", (unsigned char)s[i]);
                        l = 1;
                } else if (cp == '\\') {
                        piece = "\\\\", plen = 2;
                } else if (text_escaped(cp)) {
                        plen = (size_t)snprintf(esc, sizeof(esc),
                                                cp < 0x80 ? "\\x%02x" : "\\u{%04x}", (unsigned)cp);
                } else {
                        piece = s + i, plen = l;
                }
                if (o + plen >= size)
                        break;
                memcpy(buf + o, piece, plen);
                o += plen;
                i += l;
        }
        buf[o] = '\0';
        return buf;
}

/* The length of what starts at s[i] (i < n = strlen(s)) and must not be cut: an escape of the
 * people form (\\, \xHH, \u{H...}), a UTF-8 character, or a byte that is not one. */
static size_t text_piece(const char *s, size_t i, size_t n)
{
        if (s[i] == '\\') {
                if (s[i + 1] == '\\')
                        return 2;
                if (s[i + 1] == 'x' && i + 4 <= n)
                        return 4;
                if (s[i + 1] == 'u' && s[i + 2] == '{')
                        for (size_t k = i + 3; k < n && k < i + 12; k++)
                                if (s[k] == '}')
                                        return k + 1 - i;
                return 1;
        }
        size_t l = text_utf8_char(s + i, n - i, NULL);
        return l ? l : 1;
}

/* The first boundary between pieces at or after pos (forward) or at or before it. */
static size_t text_boundary(const char *s, size_t n, size_t pos, bool forward)
{
        size_t i = 0;
        while (i < n) {
                size_t l = text_piece(s, i, n);
                if (i + l > pos)
                        return forward && i < pos ? i + l : i;
                i += l;
        }
        return n;
}

static int hex_digit(char c)
{
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
}

char *text_from_terminal(const char *s)
{
        size_t n = strlen(s), o = 0;
        char *out = malloc(n + 1); /* an escape is never shorter than what it stands for */
        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t l = text_piece(s, i, n);
                uint32_t cp = 0;
                bool ok = s[i] == '\\' && l > 1;
                if (ok && s[i + 1] == 'x') {
                        int hi = hex_digit(s[i + 2]), lo = hex_digit(s[i + 3]);
                        ok = hi >= 0 && lo >= 0 && (hi | lo) != 0; /* never a NUL */
                        if (ok)
                                out[o++] = (char)(hi * 16 + lo);
                } else if (ok && s[i + 1] == 'u') {
                        /* "\u{" digits "}" */
                        ok = l >= 5 && l <= 10;
                        for (size_t k = i + 3; ok && k < i + l - 1; k++) {
                                int d = hex_digit(s[k]);
                                ok = d >= 0;
                                cp = cp * 16 + (uint32_t)(ok ? d : 0);
                        }
                        ok = ok && cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
                        if (ok)
                                o += text_utf8_put(out + o, cp);
                } else if (ok) {
                        out[o++] = '\\'; /* "\\" */
                }
                if (!ok) {
                        memcpy(out + o, s + i, l); /* not an escape: the bytes as they are */
                        o += l;
                }
                i += l;
        }
        out[o] = '\0';
        return out;
}

size_t text_fit(const char *s, size_t max)
{
        size_t n = strnlen(s, max + 1);
        if (n <= max)
                return n;
        return text_boundary(s, strlen(s), max, false);
}

char *text_terminal_cut(const char *s, size_t max, char *buf, size_t size)
{
        text_terminal(s, buf, size);
        if (size > 0)
                buf[text_fit(buf, max)] = '\0';
        return buf;
}

char *text_abbrev(const char *s, size_t width, const char *sep, char *buf, size_t size)
{
        size_t n = strlen(s), ls = strlen(sep);
        if (n <= width || width <= ls) {
                snprintf(buf, size, "%.*s", (int)text_fit(s, width), s);
                return buf;
        }
        size_t head = text_fit(s, (width - ls) / 2);
        size_t tail = text_boundary(s, n, n - (width - ls - (width - ls) / 2), true);
        snprintf(buf, size, "%.*s%s%s", (int)head, s, sep, s + tail);
        return buf;
}

void text_json_fputs(FILE *f, const char *s)
{
        if (!s) {
                fputs("null", f);
                return;
        }
        fputc('"', f);
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
                uint32_t cp = 0;
                size_t l = text_utf8_char(s + i, n - i, &cp);
                if (l == 0) {
                        fputs("\xef\xbf\xbd", f); /* U+FFFD for the one byte */
                        i++;
                        continue;
                }
                switch (cp) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (text_escaped(cp) && cp >= 0x10000)
                                /* as a UTF-16 surrogate pair, as JSON writes those */
                                fprintf(f, "\\u%04x\\u%04x",
                                        (unsigned)(0xd800 + ((cp - 0x10000) >> 10)),
                                        (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
                        else if (text_escaped(cp))
                                fprintf(f, "\\u%04x", (unsigned)cp);
                        else
                                fwrite(s + i, 1, l, f);
                }
                i += l;
        }
        fputc('"', f);
}

void text_csv_field(char *buf, size_t size, const char *s)
{
        char safe[TEXT_SAFE_MAX];
        text_terminal(s, safe, sizeof(safe));
        if (size == 0)
                return;
        bool formula = strchr("=+-@", safe[0]) && safe[0] != '\0';
        bool quote = strpbrk(safe, ",\"") != NULL;
        size_t o = 0;
        /* room for the closing quote and the NUL */
        size_t reserve = quote ? 2 : 1;
        if (quote) {
                if (size < 3) {
                        buf[0] = '\0';
                        return;
                }
                buf[o++] = '"';
        }
        if (formula && o + 1 + reserve <= size)
                buf[o++] = '\'';
        size_t n = strlen(safe);
        for (size_t i = 0; i < n;) {
                size_t l = text_utf8_char(safe + i, n - i, NULL);
                size_t need = l + (safe[i] == '"');
                if (o + need + reserve > size)
                        break;
                if (safe[i] == '"')
                        buf[o++] = '"';
                memcpy(buf + o, safe + i, l);
                o += l;
                i += l;
        }
        if (quote)
                buf[o++] = '"';
        buf[o] = '\0';
}

void text_xml_fputs(FILE *f, const char *s)
{
        char safe[TEXT_SAFE_MAX];
        for (const char *c = text_terminal(s, safe, sizeof(safe)); *c; c++) {
                switch (*c) {
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '&':
                        fputs("&amp;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                default:
                        fputc(*c, f);
                }
        }
}

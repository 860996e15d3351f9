#include "common/text.h"

#include <stdbool.h>
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

/* Characters that change how a terminal lays out what follows without showing anything:
 * bidirectional overrides and isolates ("Trojan source"), zero-width marks, the BOM. */
static bool text_invisible_format(uint32_t cp)
{
        return cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
               (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
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
                } else if (cp < 0x20 || cp == 0x7f) {
                        plen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)cp);
                } else if ((cp >= 0x80 && cp < 0xa0) || text_invisible_format(cp)) {
                        plen = (size_t)snprintf(esc, sizeof(esc), "\\u{%04x}", (unsigned)cp);
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

size_t text_fit(const char *s, size_t max)
{
        size_t n = strnlen(s, max + 1);
        if (n <= max)
                return n;
        n = max;
        /* back over continuation bytes to the start of the character that does not fit */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

char *text_abbrev(const char *s, size_t width, const char *sep, char *buf, size_t size)
{
        size_t n = strlen(s), ls = strlen(sep);
        if (n <= width || width <= ls) {
                snprintf(buf, size, "%.*s", (int)text_fit(s, width), s);
                return buf;
        }
        size_t head = text_fit(s, (width - ls) / 2);
        size_t tail = n - (width - ls - (width - ls) / 2);
        while (tail < n && ((unsigned char)s[tail] & 0xc0) == 0x80)
                tail++; /* forward to the start of a character */
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
                        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 ||
                            cp == 0x2029 || text_invisible_format(cp))
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

#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The one place that makes untrusted bytes safe to show. Every string joules did not write
 * itself is untrusted: process names and command lines, cgroup and unit names (any local user
 * can make them, with any byte but '/' and NUL), scraped label values, file and config contents,
 * strings read from an old or foreign history. One function per kind of output:
 *
 *   people (tables, top, charts, logs):  text_terminal()   control bytes and invalid UTF-8 made
 *                                                          visible as \xHH, so nothing runs in a
 *                                                          terminal and nothing is hidden
 *   JSON:                                text_json_fputs() valid UTF-8 JSON whatever the bytes
 *   CSV (RFC 4180):                      text_csv_field()  the people form, quoted as needed
 *   SVG/XML text:                        text_xml_fputs()  the people form, XML-escaped
 *   Prometheus label values:             the people form, escaped by the exporter
 *                                        (exporter/expose.c expo_label_value)
 */

/* The Unicode scalar value of the UTF-8 sequence at s (at most n bytes). Returns its length
 * (1 to 4), or 0 when the bytes there are not valid UTF-8: a stray continuation byte, a
 * truncated sequence, an overlong form, a surrogate or a value above U+10FFFF. */
size_t text_utf8_char(const char *s, size_t n, uint32_t *ret_cp);

/* True when s is valid UTF-8 throughout. */
int text_utf8_valid(const char *s);

/* The people form of s, into buf (always NUL-terminated; cut at a character boundary, never
 * inside an escape, when buf is too small). Printable characters stay as they are. These become
 * visible escapes:
 *   a backslash                                   \\
 *   C0 controls (incl. tab, newline, ESC), DEL    \xHH
 *   a byte that is not part of valid UTF-8        \xHH (the byte)
 *   C1 controls (U+0080..U+009F)                  \u{HHHH}
 *   bidirectional and zero-width format marks     \u{HHHH}  (U+061C, U+200B..U+200F,
 *                                                  U+202A..U+202E, U+2066..U+2069, U+FEFF)
 * so the output holds no control character and is valid UTF-8. NULL shows as "". Returns buf. */
char *text_terminal(const char *s, char *buf, size_t size);

/* The longest prefix of s, at most max bytes, that ends at a character boundary (s in the people
 * form, or any UTF-8): for cutting a name to a column without splitting a character. */
size_t text_fit(const char *s, size_t max);

/* s (UTF-8, or the people form) in at most width bytes: as it is when it fits, else its start and
 * its end joined by sep (where long unit names differ), both cut at character boundaries.
 * Into buf; returns buf. */
char *text_abbrev(const char *s, size_t width, const char *sep, char *buf, size_t size);

/* A bound on the people form of names shown in tables (units, processes, domains). */
#define TEXT_SAFE_MAX 1024
/* text_terminal() into a buffer that lives until the end of the enclosing block, for use right
 * in a printf argument list: printf("%-26s", TEXT_SAFE(name)). */
#define TEXT_SAFE(s) text_terminal((s), (char[TEXT_SAFE_MAX]){0}, TEXT_SAFE_MAX)

/* s as a JSON string literal, quotes included. Valid UTF-8 is kept; control characters, DEL,
 * C1 controls, U+2028/U+2029 and the format marks above are written as \uXXXX (the same
 * characters, so raw output is inert in a terminal too); each byte that is not part of valid UTF-8
 * is replaced by U+FFFD, the replacement character (JSON cannot carry raw bytes; the people form in
 * the tables keeps them as \xHH). NULL writes null. */
void text_json_fputs(FILE *f, const char *s);

/* One CSV field (RFC 4180) holding the people form of s: quoted when it holds a comma or a
 * double quote, quotes doubled (the people form holds no CR or LF). A field that a spreadsheet
 * would run as a formula (first character = + - @) gets a leading apostrophe (the OWASP rule for
 * CSV injection). Cut at a character boundary when buf is too small, quotes kept balanced. */
void text_csv_field(char *buf, size_t size, const char *s);

/* The people form of s, with & < > " escaped for XML text and attribute values. */
void text_xml_fputs(FILE *f, const char *s);

#pragma once

#include <stdbool.h>
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
 *   format and other invisible characters         \u{HHHH}  (Unicode's category Cf and
 *                                                  default-ignorable code points: bidi marks,
 *                                                  zero-width marks, the soft hyphen, tags,
 *                                                  fillers, variation selectors; U+2028/2029;
 *                                                  noncharacters such as U+FFFE)
 * so the output holds no control character and is valid UTF-8. NULL shows as "". Returns buf. */
char *text_terminal(const char *s, char *buf, size_t size);

/* The bytes whose people form s is: text_terminal()'s inverse, for names that come back in that
 * form (joules-exporter's label values, read from Prometheus). A backslash that starts no
 * escape, and \x00, stay as they are. Returns a malloc()ed string, or NULL without memory. */
char *text_from_terminal(const char *s);

/* True when s is valid UTF-8 and holds nothing text_terminal() escapes but backslashes and the
 * ASCII controls in allowed (NULL: none): no control, C1 or invisible character. Config values
 * must be (with tabs: a regex may need one). */
bool text_printable(const char *s, const char *allowed);

/* The longest prefix of s, at most max bytes, that splits neither a UTF-8 character nor an escape
 * of the people form (s in the people form, or any UTF-8): for cutting a name to a column. A
 * printf precision ("%.14s") would cut through either. */
size_t text_fit(const char *s, size_t max);

/* s (UTF-8, or the people form) in at most width bytes: as it is when it fits, else its start and
 * its end joined by sep (where long unit names differ), both cut as text_fit() cuts.
 * Into buf; returns buf. */
char *text_abbrev(const char *s, size_t width, const char *sep, char *buf, size_t size);

/* A bound on the people form of names shown in tables (units, processes, domains). */
#define TEXT_SAFE_MAX 1024
/* text_terminal() into a buffer that lives until the end of the enclosing block, for use right
 * in a printf argument list: printf("%-26s", TEXT_SAFE(name)). */
#define TEXT_SAFE(s) text_terminal((s), (char[TEXT_SAFE_MAX]){0}, TEXT_SAFE_MAX)

/* The people form of s cut by text_fit() to at most max bytes, into buf; returns buf. */
char *text_terminal_cut(const char *s, size_t max, char *buf, size_t size);
/* The same into a buffer that lives until the end of the enclosing block, for a column:
 * printf("%14s", TEXT_SAFE_CUT(name, 14)). */
#define TEXT_SAFE_CUT(s, max) text_terminal_cut((s), (max), (char[TEXT_SAFE_MAX]){0}, TEXT_SAFE_MAX)

/* s as a JSON string literal, quotes included. Valid UTF-8 is kept; control characters, DEL,
 * C1 controls and the invisible characters above are written as \uXXXX, a surrogate pair above
 * U+FFFF (the same characters, so raw output is inert in a terminal too); each byte that is not
 * part of valid UTF-8 is replaced by U+FFFD, the replacement character (JSON cannot carry raw
 * bytes; the people form in the tables keeps them as \xHH). NULL writes null. */
void text_json_fputs(FILE *f, const char *s);

/* One CSV field (RFC 4180) holding the people form of s: quoted when it holds a comma or a
 * double quote, quotes doubled (the people form holds no CR or LF). A field that a spreadsheet
 * would run as a formula (first character = + - @) gets a leading apostrophe (the OWASP rule for
 * CSV injection). Cut at a character boundary when buf is too small, quotes kept balanced. */
void text_csv_field(char *buf, size_t size, const char *s);

/* The people form of s, with & < > " escaped for XML text and attribute values. */
void text_xml_fputs(FILE *f, const char *s);

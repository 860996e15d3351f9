/* The access-log matcher (daemon/accesslog.c accesslog_feed): the lines a web server appends,
 * whose content clients choose (paths, user agents, binary junk). The first byte picks a filter
 * and where the text is split between two reads; the rest is the log. Invariants: the count does
 * not depend on how the text is split into reads, and equals the lines (newline-terminated, the
 * filter seeing a line's first ACCESSLOG_LINE_MAX bytes up to a NUL) the filter matches. */

#include "fuzz/fuzz.h"

#include <regex.h>

#include "daemon/accesslog.h"

static const char *const filters[] = {
        NULL,
        "\" 5[0-9][0-9] ",
        "^[^ ]+ - - \\[[^]]*\\] \"(GET|POST) /api/",
        "x$",
};

static AccessLog *logs[ELEMENTSOF(filters)][2];
static regex_t res[ELEMENTSOF(filters)];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char err[256];
        for (size_t i = 0; i < ELEMENTSOF(filters); i++) {
                for (int k = 0; k < 2; k++)
                        if (accesslog_open("/nonexistent/joules-fuzz.log", filters[i], &logs[i][k],
                                           err, sizeof(err)) < 0)
                                abort();
                if (filters[i] && regcomp(&res[i], filters[i], REG_EXTENDED | REG_NOSUB) != 0)
                        abort();
        }
        return 0;
}

/* The oracle: lines the filter matches, counted the simple way. */
static uint64_t expected(size_t f, const char *text, size_t len)
{
        uint64_t n = 0;
        char *line = malloc(ACCESSLOG_LINE_MAX + 1);
        FUZZ_CHECK(line);
        for (const char *p = text, *end = text + len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl)
                        break;
                size_t l = (size_t)(nl - p);
                l = l < ACCESSLOG_LINE_MAX ? l : ACCESSLOG_LINE_MAX;
                memcpy(line, p, l);
                line[l] = '\0';
                n += !filters[f] || regexec(&res[f], line, 0, NULL, 0) == 0;
                p = nl + 1;
        }
        free(line);
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2 || size > 65536)
                return 0;
        size_t f = data[0] % ELEMENTSOF(filters);
        const char *text = (const char *)data + 2;
        size_t len = size - 2;
        size_t cut = len ? (data[1] * len) / 255 : 0;

        /* whole lines only: both logs start at a line boundary and end at one */
        const char *last = len ? memrchr(text, '\n', len) : NULL;
        if (!last)
                return 0;
        len = (size_t)(last - text) + 1;
        cut = cut < len ? cut : len;

        uint64_t whole = accesslog_feed(logs[f][0], text, len);
        uint64_t split = accesslog_feed(logs[f][1], text, cut);
        split += accesslog_feed(logs[f][1], text + cut, len - cut);
        FUZZ_CHECK(whole == split);
        FUZZ_CHECK(whole == expected(f, text, len));
        return 0;
}

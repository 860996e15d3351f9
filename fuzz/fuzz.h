#pragma once

/* What every libFuzzer target shares: the entry points libFuzzer calls, a C-string copy of the
 * input (the parsers take NUL-terminated text, as they get it from read_text()) and a check that
 * turns a broken invariant into a crash libFuzzer reports and minimises. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        if (!s)
                abort();
        if (size)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

#define FUZZ_CHECK(cond)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
                                #cond);                                                            \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

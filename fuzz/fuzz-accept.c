/* joules-exporter: the Accept header, the one request header it reads
 * (exporter/expose.c expo_negotiate). Invariant: any bytes give one of the two formats, and a
 * header that names neither gives the text format. */

#include "fuzz/fuzz.h"

#include "exporter/expose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 8192)
                return 0;
        char *s = fuzz_cstr(data, size);
        ExpoFormat f = expo_negotiate(s);
        FUZZ_CHECK(f == EXPO_TEXT || f == EXPO_OPENMETRICS);
        if (!strcasestr(s, "openmetrics"))
                FUZZ_CHECK(f == EXPO_TEXT);
        free(s);
        return 0;
}

/* The people form of untrusted bytes (common/text.c): text_terminal, text_from_terminal (which
 * reads joules-exporter's label values back from Prometheus), text_fit, text_printable and
 * text_json_fputs. Invariants: the people form is valid UTF-8 that text_printable accepts but
 * for its backslashes; text_from_terminal gives back the very bytes; a cut by text_fit reads back
 * as a prefix of them; any label (not only a people form) reads back to no more bytes than it
 * has; the JSON form is valid UTF-8 without a control byte. */

#include "fuzz/fuzz.h"

#include "common/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 512)
                return 0;
        char *s = fuzz_cstr(data, size);
        size_t n = strlen(s); /* up to the first NUL, as a C string reaches joules */

        char people[TEXT_SAFE_MAX * 4];
        text_terminal(s, people, sizeof(people)); /* 512 bytes take at most 4 * 512 + 1 */
        FUZZ_CHECK(text_utf8_valid(people));
        for (const unsigned char *p = (const unsigned char *)people; *p; p++)
                FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);

        char *back = text_from_terminal(people);
        FUZZ_CHECK(back && strcmp(back, s) == 0);
        free(back);

        size_t len = strlen(people);
        for (size_t max = 0; max <= len; max += 1 + max / 8) {
                size_t k = text_fit(people, max);
                FUZZ_CHECK(k <= max);
                char saved = people[k];
                people[k] = '\0';
                char *part = text_from_terminal(people);
                FUZZ_CHECK(part && strncmp(part, s, strlen(part)) == 0);
                FUZZ_CHECK(text_utf8_valid(people));
                free(part);
                people[k] = saved;
        }

        /* the input itself as a label some other exporter served */
        char *label = text_from_terminal(s);
        FUZZ_CHECK(label && strlen(label) <= n);
        free(label);
        if (text_printable(s, NULL))
                FUZZ_CHECK(strchr(s, '\x1b') == NULL && text_utf8_valid(s));

        char *json = NULL;
        size_t json_len = 0;
        FILE *f = open_memstream(&json, &json_len);
        FUZZ_CHECK(f != NULL);
        text_json_fputs(f, s);
        fclose(f);
        FUZZ_CHECK(text_utf8_valid(json));
        for (const unsigned char *p = (const unsigned char *)json; *p; p++)
                FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
        free(json);
        free(s);
        return 0;
}

/* joulesd.conf (daemon/config*.c through libinih): the whole load, as joulesd does it, from the
 * input as the file's text. Invariants: a rejected file gives an error naming it; a loaded one,
 * written out by config_dump (joulesd --dump-config), loads again to the same settings (its dump
 * is the same text, and the numbers compared one by one are equal). */

#include "fuzz/fuzz.h"

#include <math.h>

#include "daemon/config.h"

static char *dump(const JoulesConfig *c, size_t *len)
{
        char *text = NULL;
        FILE *f = open_memstream(&text, len);
        FUZZ_CHECK(f);
        config_dump(c, f);
        fclose(f);
        return text;
}

static bool same_double(double a, double b)
{
        return a == b || (isnan(a) && isnan(b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 16384)
                return 0;
        /* fmemopen of 0 bytes is an error in older glibc: give it one byte and an empty string */
        char *text = fuzz_cstr(data, size);
        FILE *f = fmemopen(size ? (void *)data : text, size ? size : 1, "r");
        FUZZ_CHECK(f);
        JoulesConfig *c = malloc(sizeof(*c)), *c2 = malloc(sizeof(*c2));
        FUZZ_CHECK(c && c2);
        config_defaults(c);
        char err[1024] = "";
        int r = config_load_stream(c, f, "fuzz.conf", err, sizeof(err));
        fclose(f);
        if (r < 0) {
                FUZZ_CHECK(strncmp(err, "fuzz.conf", 9) == 0);
        } else {
                size_t l1, l2;
                char *d1 = dump(c, &l1);
                config_defaults(c2);
                FILE *g = fmemopen(d1, l1, "r");
                FUZZ_CHECK(g);
                r = config_load_stream(c2, g, "dump", err, sizeof(err));
                fclose(g);
                if (r < 0) {
                        fprintf(stderr, "the dump does not load: %s\n%s", err, d1);
                        abort();
                }
                char *d2 = dump(c2, &l2);
                FUZZ_CHECK(l1 == l2 && memcmp(d1, d2, l1) == 0);
                FUZZ_CHECK(c2->interval_us == c->interval_us);
                FUZZ_CHECK(c2->raw_retention_us == c->raw_retention_us &&
                           c2->minute_retention_us == c->minute_retention_us &&
                           c2->hour_retention_us == c->hour_retention_us);
                FUZZ_CHECK(same_double(c2->max_domain_power_w, c->max_domain_power_w) &&
                           same_double(c2->idle_w, c->idle_w) && c2->idle_learn == c->idle_learn);
                FUZZ_CHECK(
                        same_double(c2->energy.model_idle_w_per_cpu,
                                    c->energy.model_idle_w_per_cpu) &&
                        same_double(c2->energy.model_max_w_per_cpu, c->energy.model_max_w_per_cpu));
                FUZZ_CHECK(same_double(c2->carbon.intensity, c->carbon.intensity) &&
                           same_double(c2->carbon.pue, c->carbon.pue) &&
                           same_double(c2->carbon.embodied_g, c->carbon.embodied_g) &&
                           same_double(c2->carbon.lifetime_hours, c->carbon.lifetime_hours) &&
                           same_double(c2->carbon.market_intensity, c->carbon.market_intensity));
                FUZZ_CHECK(c2->n_request_sources == c->n_request_sources);
                for (size_t i = 0; i < c->n_request_sources; i++) {
                        const JoulesRequestSource *a = &c->request_sources[i],
                                                  *b = &c2->request_sources[i];
                        FUZZ_CHECK(strcmp(a->unit, b->unit) == 0 &&
                                   strcmp(a->selector, b->selector) == 0 &&
                                   strcmp(a->access_log_filter, b->access_log_filter) == 0);
                        FUZZ_CHECK(!a->url[0] || (a->scrape_interval_us == b->scrape_interval_us &&
                                                  a->scrape_timeout_us == b->scrape_timeout_us));
                }
                free(d2);
                free(d1);
        }
        free(c2);
        free(c);
        free(text);
        return 0;
}

#include "cli/json.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "common/text.h"
#include "common/util.h"

void json_init(JsonWriter *j, FILE *f)
{
        *j = (JsonWriter){.f = f};
}

static void json_member(JsonWriter *j, const char *key);

static void json_member(JsonWriter *j, const char *key)
{
        if (j->need_comma[j->depth])
                fputc(',', j->f);
        j->need_comma[j->depth] = true;
        if (key) {
                text_json_fputs(j->f, key);
                fputc(':', j->f);
        }
}

static void json_open(JsonWriter *j, const char *key, char c)
{
        json_member(j, key);
        fputc(c, j->f);
        assert(j->depth + 1 < (int)ELEMENTSOF(j->need_comma));
        j->depth++;
        j->need_comma[j->depth] = false;
}

static void json_close(JsonWriter *j, char c)
{
        assert(j->depth > 0);
        j->depth--;
        fputc(c, j->f);
}

void json_object_begin(JsonWriter *j, const char *key)
{
        json_open(j, key, '{');
}
void json_object_end(JsonWriter *j)
{
        json_close(j, '}');
}
void json_array_begin(JsonWriter *j, const char *key)
{
        json_open(j, key, '[');
}
void json_array_end(JsonWriter *j)
{
        json_close(j, ']');
}

void json_string(JsonWriter *j, const char *key, const char *value)
{
        json_member(j, key);
        text_json_fputs(j->f, value);
}

void json_number(JsonWriter *j, const char *key, double value)
{
        json_member(j, key);
        if (isfinite(value)) {
                /* The shortest form that reads back as the same double. */
                char buf[40];
                snprintf(buf, sizeof(buf), "%.15g", value);
                if (strtod(buf, NULL) != value)
                        snprintf(buf, sizeof(buf), "%.17g", value);
                fputs(buf, j->f);
        } else
                fputs("null", j->f);
}

void json_int(JsonWriter *j, const char *key, int64_t value)
{
        json_member(j, key);
        fprintf(j->f, "%lld", (long long)value);
}

void json_bool(JsonWriter *j, const char *key, bool value)
{
        json_member(j, key);
        fputs(value ? "true" : "false", j->f);
}

void json_null(JsonWriter *j, const char *key)
{
        json_member(j, key);
        fputs("null", j->f);
}

void json_time(JsonWriter *j, const char *key, int64_t us, bool has)
{
        char buf[32];
        json_string(j, key, has ? format_rfc3339(us, buf, sizeof(buf)) : NULL);
}

void json_end(JsonWriter *j)
{
        fputc('\n', j->f);
        fflush(j->f);
}

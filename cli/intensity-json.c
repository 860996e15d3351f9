/* The UK National Grid carbon-intensity API's JSON, parsed with json-c (kept apart from
 * cli/json.h, whose json_bool json-c also defines). */

#include "cli/intensity.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"

/* line:column of a byte offset, for a JSON syntax error */
static void text_position(const char *text, size_t offset, unsigned *line, unsigned *col)
{
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < offset && text[i]; i++) {
                if (text[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else {
                        (*col)++;
                }
        }
}

static int json_time_field(json_object *o, const char *key, size_t idx, int64_t *ret, char *err,
                           size_t errlen)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
                snprintf(err, errlen, "data[%zu].%s: missing or not a string", idx, key);
                return -EINVAL;
        }
        const char *s = json_object_get_string(v);
        if (strlen(s) < 10 || s[4] != '-' || parse_time_point(s, 0, ret) < 0) {
                snprintf(err, errlen, "data[%zu].%s: '%.*s' is not an ISO 8601 time", idx, key,
                         (int)text_fit(s, 40), s);
                return -EINVAL;
        }
        return 0;
}

static bool json_is_number(json_object *v)
{
        return v &&
               (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double));
}

int cli_intensity_parse_json(const char *text, CarbonInterval **ret, size_t *ret_n, char *err,
                             size_t errlen)
{
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        size_t len = strlen(text);
        json_object *root = json_tokener_parse_ex(tok, text, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!root || jerr != json_tokener_success) {
                unsigned line, col;
                text_position(text, end, &line, &col);
                snprintf(err, errlen, "line %u, column %u: JSON %s", line, col,
                         jerr == json_tokener_continue ? "ends too early"
                                                       : json_tokener_error_desc(jerr));
                json_object_put(root);
                return -EINVAL;
        }
        /* only white space may follow the document */
        while (end < len && strchr(" \t\r\n", text[end]))
                end++;
        if (end < len) {
                unsigned line, col;
                text_position(text, end, &line, &col);
                snprintf(err, errlen, "line %u, column %u: text after the JSON document", line,
                         col);
                json_object_put(root);
                return -EINVAL;
        }
        CarbonInterval *v = NULL;
        json_object *data;
        int r = -EINVAL;
        if (!json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "data", &data) ||
            !json_object_is_type(data, json_type_array)) {
                snprintf(err, errlen, "the top level is not an object with a \"data\" array");
                goto out;
        }
        size_t n = json_object_array_length(data);
        if (n == 0) {
                snprintf(err, errlen, "\"data\" is empty: no intervals");
                goto out;
        }
        v = calloc(n, sizeof(*v));
        if (!v) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(data, i), *in, *val = NULL;
                if (!json_object_is_type(e, json_type_object)) {
                        snprintf(err, errlen, "data[%zu]: not an object", i);
                        goto out;
                }
                v[i].line = (unsigned)i + 1;
                if (json_time_field(e, "from", i, &v[i].start_us, err, errlen) < 0 ||
                    json_time_field(e, "to", i, &v[i].end_us, err, errlen) < 0)
                        goto out;
                if (!json_object_object_get_ex(e, "intensity", &in) ||
                    !json_object_is_type(in, json_type_object)) {
                        snprintf(err, errlen, "data[%zu].intensity: missing or not an object", i);
                        goto out;
                }
                json_object *actual = NULL, *forecast = NULL;
                json_object_object_get_ex(in, "actual", &actual);
                json_object_object_get_ex(in, "forecast", &forecast);
                if (json_is_number(actual))
                        val = actual;
                else if (json_is_number(forecast))
                        val = forecast;
                if (!val) {
                        snprintf(err, errlen,
                                 "data[%zu].intensity: neither actual nor forecast is a number", i);
                        goto out;
                }
                v[i].g_per_kwh = json_object_get_double(val);
        }
        r = carbon_series_check(v, n, true, err, errlen);
        if (r < 0)
                goto out;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        r = 0;
out:
        free(v);
        json_object_put(root);
        return r;
}

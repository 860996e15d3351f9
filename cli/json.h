#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A small streaming JSON writer: commas and string escaping handled here, so commands only say
 * what they print. Keys are given for members of objects and NULL for array elements. */

typedef struct JsonWriter {
        FILE *f;
        int depth;
        bool need_comma[64];
} JsonWriter;

void json_init(JsonWriter *j, FILE *f);
void json_object_begin(JsonWriter *j, const char *key);
void json_object_end(JsonWriter *j);
void json_array_begin(JsonWriter *j, const char *key);
void json_array_end(JsonWriter *j);
void json_string(JsonWriter *j, const char *key, const char *value); /* NULL value: null */
void json_number(JsonWriter *j, const char *key, double value);      /* non-finite: null */
void json_int(JsonWriter *j, const char *key, int64_t value);
void json_bool(JsonWriter *j, const char *key, bool value);
void json_null(JsonWriter *j, const char *key);
/* An RFC 3339 UTC time, or null when has is false. */
void json_time(JsonWriter *j, const char *key, int64_t us, bool has);
void json_end(JsonWriter *j); /* final newline */

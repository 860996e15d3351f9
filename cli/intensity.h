#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/carbon.h"

/* joules intensity import: a grid-intensity file, CSV "start,end,g_per_kwh" or the JSON of the
 * UK National Grid carbon-intensity API ({"data":[{"from","to","intensity":{"forecast",
 * "actual"}}]}, actual used where present, else forecast), told apart by a leading '{'.
 * Nothing is returned unless all of it is good; err names the line or element that is not. */
int cli_intensity_parse(const char *text, CarbonInterval **ret, size_t *ret_n, bool *ret_json,
                        char *err, size_t errlen) __attribute__((warn_unused_result));
/* The JSON alone (json-c). */
int cli_intensity_parse_json(const char *text, CarbonInterval **ret, size_t *ret_n, char *err,
                             size_t errlen) __attribute__((warn_unused_result));

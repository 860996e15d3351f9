#pragma once

#include <syslog.h>

#include "common/util.h"

/* Logging: to journald with structured fields when stderr is connected to the journal (the
 * JOURNAL_STREAM check systemd documents), to stderr otherwise. Library code (collectors/,
 * storage/) logs at debug level only; the caller decides what the user sees. */

typedef struct LogField {
        const char *key; /* journald field name, upper case: "JOULES_DOMAIN" */
        const char *value;
} LogField;

void log_setup(int max_level, const char *ident);
int log_get_max_level(void);
/* fields: NULL, or an array terminated by {NULL, NULL}. */
void log_fields(int level, const LogField *fields, const char *fmt, ...) PRINTF(3, 4);

#define log_debug(...)   log_fields(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)    log_fields(LOG_INFO, NULL, __VA_ARGS__)
#define log_notice(...)  log_fields(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_warning(...) log_fields(LOG_WARNING, NULL, __VA_ARGS__)
#define log_error(...)   log_fields(LOG_ERR, NULL, __VA_ARGS__)

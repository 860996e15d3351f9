#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"

/* What every `joules` subcommand shares: where the history is, and the exit codes that scripts
 * can rely on. */

#define JOULES_DEFAULT_DB "/var/lib/joules/joules.db"

enum {
        CLI_EXIT_OK = 0,
        CLI_EXIT_FAILURE = 1, /* the history could not be read */
        CLI_EXIT_USAGE = 2,   /* bad arguments */
        CLI_EXIT_NO_DATA = 3, /* the history holds nothing for the question asked */
};

typedef struct CliContext {
        const char *db_path;
        int64_t now_us;
} CliContext;

typedef int (*CliCommandFn)(const CliContext *ctx, int argc, char **argv);

/* Opens the history read-only; prints the reason and returns NULL on failure. */
Store *cli_open_store(const CliContext *ctx);
/* "joules: reading PATH: WHAT" on stderr, both in the people form (--db and JOULES_DB are the
 * user's bytes; a store error can quote the file's). */
void cli_store_error(const char *db_path, const char *what);

/* A command's time range, --since ('s') and --until ('u') in its getopt loop: 1 when c was one
 * of them, 0 when not, -EINVAL after printing why. */
int cli_range_option(const CliContext *ctx, int c, const char *arg, int64_t *from, int64_t *to);
/* -EINVAL (and says so, naming cmd) when arguments are left after the options (getopt's optind). */
int cli_no_more_args(const char *cmd, int argc, char **argv);
/* -EINVAL (and says so, naming cmd) when the range is empty. */
int cli_range_check(const char *cmd, int64_t from, int64_t to);

/* Parses --since/--until style arguments; prints the error naming the flag. */
int cli_parse_time(const CliContext *ctx, const char *flag, const char *value, int64_t *ret_us);

/* A unit as the tables show it: the people form of its name (common/text.h: control bytes and
 * invalid UTF-8 made visible), in parentheses for a pseudo-unit. Returns buf. */
char *cli_unit_label(const char *name, bool pseudo, char *buf, size_t size);

int cmd_status(const CliContext *ctx, int argc, char **argv);
int cmd_services(const CliContext *ctx, int argc, char **argv);
int cmd_top(const CliContext *ctx, int argc, char **argv);
int cmd_processes(const CliContext *ctx, int argc, char **argv);
int cmd_run(const CliContext *ctx, int argc, char **argv);
int cmd_sci(const CliContext *ctx, int argc, char **argv);
int cmd_report(const CliContext *ctx, int argc, char **argv);
int cmd_compare(const CliContext *ctx, int argc, char **argv);
int cmd_export(const CliContext *ctx, int argc, char **argv);
int cmd_intensity(const CliContext *ctx, int argc, char **argv);
int cmd_ab(const CliContext *ctx, int argc, char **argv);
int cmd_calibrate(const CliContext *ctx, int argc, char **argv);

#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"

char *cli_unit_label(const char *name, bool pseudo, char *buf, size_t size)
{
        char safe[TEXT_SAFE_MAX];
        text_terminal(name, safe, sizeof(safe));
        snprintf(buf, size, pseudo ? "(%.*s)" : "%.*s", (int)text_fit(safe, size - 1 - 2 * pseudo),
                 safe);
        return buf;
}

void cli_store_error(const char *db_path, const char *what)
{
        fprintf(stderr, "joules: reading %s: %s\n", TEXT_SAFE(db_path), TEXT_SAFE(what));
}

Store *cli_open_store(const CliContext *ctx)
{
        Store *s = NULL;
        char err[1024];
        int r = store_open(ctx->db_path, STORE_READ_ONLY, &s, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "joules: cannot read the history: %s\n", TEXT_SAFE(err));
                if (r == -ENOENT)
                        fprintf(stderr,
                                "joules: is joulesd running? Give the file with --db PATH or "
                                "JOULES_DB.\n");
                return NULL;
        }
        return s;
}

int cli_parse_time(const CliContext *ctx, const char *flag, const char *value, int64_t *ret_us)
{
        if (parse_time_point(value, ctx->now_us, ret_us) < 0) {
                fprintf(stderr,
                        "joules: %s: '%s' is neither a duration (15m, 24h, 7d) nor an ISO 8601 "
                        "time (2026-01-01, 2026-01-01T12:00:00Z)\n",
                        flag, TEXT_SAFE(value));
                return -EINVAL;
        }
        return 0;
}

int cli_range_option(const CliContext *ctx, int c, const char *arg, int64_t *from, int64_t *to)
{
        if (c == 's')
                return cli_parse_time(ctx, "--since", arg, from) < 0 ? -EINVAL : 1;
        if (c == 'u')
                return cli_parse_time(ctx, "--until", arg, to) < 0 ? -EINVAL : 1;
        return 0;
}

int cli_no_more_args(const char *cmd, int argc, char **argv)
{
        if (optind >= argc)
                return 0;
        fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, TEXT_SAFE(argv[optind]));
        return -EINVAL;
}

int cli_range_check(const char *cmd, int64_t from, int64_t to)
{
        if (from < to)
                return 0;
        fprintf(stderr, "%s: --since must be before --until\n", cmd);
        return -EINVAL;
}

#include <stdio.h>

#include "cli/cli.h"

int cmd_export(const CliContext *ctx, int argc, char **argv)
{
        fprintf(stderr, "joules export: not yet\n");
        return CLI_EXIT_FAILURE;
}

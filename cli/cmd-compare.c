#include <stdio.h>

#include "cli/cli.h"

int cmd_compare(const CliContext *ctx, int argc, char **argv)
{
        fprintf(stderr, "joules compare: not yet\n");
        return CLI_EXIT_FAILURE;
}

#include <stdio.h>

#include "cli/cli.h"

int cmd_report(const CliContext *ctx, int argc, char **argv)
{
        fprintf(stderr, "joules report: not yet\n");
        return CLI_EXIT_FAILURE;
}

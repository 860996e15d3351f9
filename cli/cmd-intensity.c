#include <stdio.h>

#include "cli/cli.h"

int cmd_intensity(const CliContext *ctx, int argc, char **argv)
{
        fprintf(stderr, "joules intensity: not yet\n");
        return CLI_EXIT_FAILURE;
}

#include "common/args.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"

int args_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
        /* ':' first (after a leading '+'): a missing value answers ':' rather than '?' */
        char spec[64];
        bool plus = shortopts[0] == '+';
        if (snprintf(spec, sizeof(spec), "%s:%s", plus ? "+" : "", shortopts + plus) >=
            (int)sizeof(spec))
                return -1;
        opterr = 0;
        optopt = 0;
        int c = getopt_long(argc, argv, spec, longopts, NULL);
        if (c != '?' && c != ':')
                return c;
        /* An unknown long option (optopt 0) and a long one missing its value are the argument
         * getopt just stepped over; a short one is optopt (within "-abc" optind stays put). */
        const char *last = optind > 0 && optind <= argc ? argv[optind - 1] : "";
        char shown[3] = {'-', (char)optopt, '\0'};
        const char *arg = optopt == 0 || (c == ':' && strncmp(last, "--", 2) == 0) ? last : shown;
        if (c == ':')
                fprintf(stderr, "%s: option '%s' needs a value\n", TEXT_SAFE(argv[0]),
                        TEXT_SAFE(arg));
        else
                fprintf(stderr, "%s: unknown option '%s'\n", TEXT_SAFE(argv[0]), TEXT_SAFE(arg));
        return '?';
}

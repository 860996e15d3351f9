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
        int before = optind;
        opterr = 0;
        optopt = 0;
        int c = getopt_long(argc, argv, spec, longopts, NULL);
        if (c != '?' && c != ':')
                return c;
        /* A long option getopt stepped over (within "-abc" optind stays put): unknown (optopt 0),
         * missing its value, or given one it takes none of (optopt its val). A short one is
         * optopt. */
        const char *last = optind > 0 && optind <= argc ? argv[optind - 1] : "";
        bool long_opt = optind > before && strncmp(last, "--", 2) == 0;
        char name[256], shown[3] = {'-', (char)optopt, '\0'};
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(last, "="), last);
        const char *slash = strrchr(argv[0], '/'), *prog = TEXT_SAFE(slash ? slash + 1 : argv[0]);
        if (c == ':')
                fprintf(stderr, "%s: option '%s' needs a value\n", prog,
                        TEXT_SAFE(long_opt ? name : shown));
        else if (long_opt && optopt != 0)
                fprintf(stderr, "%s: option '%s' takes no value\n", prog, TEXT_SAFE(name));
        else
                fprintf(stderr, "%s: unknown option '%s'\n", prog,
                        TEXT_SAFE(long_opt || optopt == 0 ? last : shown));
        return '?';
}

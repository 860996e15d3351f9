#pragma once

#include <getopt.h>

/* getopt_long() for joules, joulesd and joules-exporter, with getopt's own messages replaced by
 * ones that show the argument in the people form (common/text.h): an argument is untrusted, and
 * glibc would echo it raw ("unrecognized option '--<ESC>]0;...'"). On an unknown option, one
 * missing its value or one given a value it takes none of, it prints "PROG: unknown option '-x'",
 * "PROG: option '--x' needs a value" or "PROG: option '--x' takes no value" to stderr (PROG:
 * argv[0]'s last component) and returns '?'; shortopts may start with '+' as for getopt_long. */
int args_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

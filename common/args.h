#pragma once

#include <getopt.h>

/* getopt_long() for joules, joulesd and joules-exporter, with getopt's own messages replaced by
 * ones that show the argument in the people form (common/text.h): an argument is untrusted, and
 * glibc would echo it raw ("unrecognized option '--<ESC>]0;...'"). On an unknown option or one
 * missing its value it prints "<argv[0]>: unknown option '-x'" or "<argv[0]>: option '--x' needs
 * a value" to stderr and returns '?'; shortopts may start with '+' as for getopt_long. */
int args_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

#include "common/mountinfo.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Copies a mountinfo field, undoing the kernel's octal escapes (\040 for a space). */
static int unescape_field(const char *s, size_t n, char *buf, size_t size)
{
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        i += 3;
                }
                if (o + 1 >= size) {
                        buf[0] = '\0'; /* not a cut path, and never an unterminated one */
                        return -ENAMETOOLONG;
                }
                buf[o++] = c;
        }
        buf[o] = '\0';
        return 0;
}

int mountinfo_cgroups(const char *text, char *ret_v2, size_t v2size, char *ret_cpuacct,
                      size_t cpuacct_size)
{
        bool found_v2 = false, found_acct = false;

        assert(text);

        if (ret_v2 && v2size > 0)
                ret_v2[0] = '\0';
        if (ret_cpuacct && cpuacct_size > 0)
                ret_cpuacct[0] = '\0';

        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');
                /* id parent maj:min root mountpoint options [optional...] - fstype source super */
                const char *f[16];
                size_t fl[16], nf = 0;
                for (const char *p = line; p < eol && nf < ELEMENTSOF(f);) {
                        while (p < eol && *p == ' ')
                                p++;
                        if (p >= eol)
                                break;
                        const char *q = p;
                        while (q < eol && *q != ' ')
                                q++;
                        f[nf] = p;
                        fl[nf++] = (size_t)(q - p);
                        p = q;
                }
                size_t dash = 0;
                for (size_t i = 6; i < nf; i++)
                        if (fl[i] == 1 && f[i][0] == '-') {
                                dash = i;
                                break;
                        }
                if (dash > 0 && dash + 1 < nf) {
                        const char *fstype = f[dash + 1];
                        size_t ftl = fl[dash + 1];
                        bool root_slash = fl[3] == 1 && f[3][0] == '/';
                        if (ret_v2 && !found_v2 && root_slash && ftl == 7 &&
                            memcmp(fstype, "cgroup2", 7) == 0) {
                                if (unescape_field(f[4], fl[4], ret_v2, v2size) >= 0)
                                        found_v2 = true;
                        } else if (ret_cpuacct && !found_acct && root_slash && ftl == 6 &&
                                   memcmp(fstype, "cgroup", 6) == 0 && dash + 3 < nf &&
                                   comma_list_has(f[dash + 3], fl[dash + 3], "cpuacct")) {
                                if (unescape_field(f[4], fl[4], ret_cpuacct, cpuacct_size) >= 0)
                                        found_acct = true;
                        }
                }
                line = *eol ? eol + 1 : eol;
        }

        if ((ret_v2 && found_v2) || (ret_cpuacct && found_acct))
                return 0;
        return -ENOENT;
}

int mountinfo_read_cgroups(const char *procfs, char *ret_v2, size_t v2size, char *ret_cpuacct,
                           size_t cpuacct_size)
{
        char path[4096];
        int r = path_fmt(path, sizeof(path), "%s/self/mountinfo", procfs);
        if (r < 0)
                return r;
        size_t size = 64 * 1024;
        for (;;) {
                _cleanup_free_ char *buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                ssize_t n = read_text(path, buf, size);
                if (n < 0)
                        return (int)n;
                if ((size_t)n == size - 1 && size < 16 * 1024 * 1024) {
                        size *= 4;
                        continue;
                }
                return mountinfo_cgroups(buf, ret_v2, v2size, ret_cpuacct, cpuacct_size);
        }
}

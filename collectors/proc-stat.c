#include "collectors/proc-stat.h"

#include <errno.h>
#include <string.h>

/* A hand parser: sscanf costs ten times as much (ENVIRONMENT.md), and this runs every tick. */

static bool proc_stat_is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Parses up to max numbers separated by blanks until the end of the line. Returns how many. */
static int proc_stat_parse_fields(const char **pp, uint64_t *v, unsigned max)
{
        const char *p = *pp;
        unsigned n = 0;
        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p == '\n' || *p == '\0')
                        break;
                if (!proc_stat_is_digit(*p))
                        return -EINVAL;
                uint64_t x = 0;
                for (; proc_stat_is_digit(*p); p++) {
                        unsigned d = (unsigned)(*p - '0');
                        if (x > (UINT64_MAX - d) / 10)
                                return -ERANGE;
                        x = x * 10 + d;
                }
                if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\0')
                        return -EINVAL;
                if (n < max)
                        v[n] = x;
                n++;
        }
        *pp = p;
        return (int)(n < max ? n : max);
}

int proc_stat_parse(const char *text, ProcStat *ret)
{
        assert(text && ret);
        ProcStat st = {0};
        unsigned n_cpus = 0;
        bool have_total = false;
        const char *p = text;
        while (*p) {
                if (startswith(p, "cpu") && (p[3] == ' ' || p[3] == '\t')) {
                        if (have_total)
                                return -EINVAL;
                        p += 3;
                        uint64_t v[10] = {0};
                        int n = proc_stat_parse_fields(&p, v, ELEMENTSOF(v));
                        if (n < 0)
                                return n;
                        if (n < 4)
                                return -EINVAL;
                        st = (ProcStat){
                                .user = v[0],
                                .nice = v[1],
                                .system = v[2],
                                .idle = v[3],
                                .iowait = v[4],
                                .irq = v[5],
                                .softirq = v[6],
                                .steal = v[7],
                                .guest = v[8],
                                .guest_nice = v[9],
                                .n_fields = (unsigned)n,
                        };
                        have_total = true;
                } else if (startswith(p, "cpu") && proc_stat_is_digit(p[3])) {
                        /* Only counted, but checked: a torn or garbled line is an error. */
                        p += 3;
                        while (proc_stat_is_digit(*p))
                                p++;
                        uint64_t v[1];
                        int n = proc_stat_parse_fields(&p, v, 1);
                        if (n < 0)
                                return n;
                        if (n < 1)
                                return -EINVAL;
                        n_cpus++;
                }
                const char *nl = strchr(p, '\n');
                if (!nl)
                        break;
                p = nl + 1;
        }
        if (!have_total)
                return -EINVAL;
        st.n_cpus = n_cpus;
        *ret = st;
        return 0;
}

uint64_t proc_stat_busy(const ProcStat *s)
{
        assert(s);
        return s->user + s->nice + s->system + s->irq + s->softirq;
}

uint64_t proc_stat_total(const ProcStat *s)
{
        assert(s);
        return proc_stat_busy(s) + s->idle + s->iowait + s->steal;
}

#include "collectors/cgroup-names.h"
#include "collectors/cgroup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *cgroup_unit_kind_to_string(CgroupUnitKind k)
{
        static const char *const names[_CGROUP_UNIT_KIND_MAX] = {
                [CGROUP_UNIT_SERVICE] = "service",
                [CGROUP_UNIT_SCOPE] = "scope",
                [CGROUP_UNIT_SLICE] = "slice",
                [CGROUP_UNIT_OTHER] = "other",
        };
        if ((unsigned)k >= _CGROUP_UNIT_KIND_MAX)
                return NULL;
        return names[k];
}

/* ---- cpu.stat ---- */

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Decimal digits up to the end of the line. */
int cgroup_parse_line_u64(const char *s, const char **ret_end, uint64_t *ret)
{
        const char *end;
        uint64_t v;
        int r = parse_u64_prefix(s, &end, &v);
        if (r < 0)
                return r;
        if (*end != '\n' && *end != '\0')
                return -EINVAL;
        *ret_end = end;
        *ret = v;
        return 0;
}

/* Which of cpu.stat's keys cpu_stat_parse found. */
enum { HAVE_USER = 1, HAVE_SYSTEM = 2 };

static int cpu_stat_parse(const char *text, uint64_t *ret_usage_usec, uint64_t *ret_user_usec,
                          uint64_t *ret_system_usec, unsigned *ret_have)
{
        uint64_t usage = 0, user = 0, sys = 0;
        bool have_usage = false;
        unsigned have = 0;

        assert(text);
        assert(ret_usage_usec);

        for (const char *p = text; *p;) {
                const char *sp = strchr(p, ' ');
                const char *nl = strchrnul(p, '\n');
                if (!sp || sp > nl) {
                        if (p == nl) { /* empty line */
                                p = *nl ? nl + 1 : nl;
                                continue;
                        }
                        return -EINVAL;
                }
                size_t kl = (size_t)(sp - p);
                uint64_t *dst = NULL;
                if (kl == 10 && memcmp(p, "usage_usec", 10) == 0)
                        dst = &usage;
                else if (kl == 9 && memcmp(p, "user_usec", 9) == 0)
                        dst = &user;
                else if (kl == 11 && memcmp(p, "system_usec", 11) == 0)
                        dst = &sys;
                if (dst) {
                        const char *end;
                        uint64_t v;
                        if (cgroup_parse_line_u64(sp + 1, &end, &v) < 0)
                                return -EINVAL;
                        /* A repeated usage_usec (never from the kernel) keeps the first, as the
                         * early end below does. */
                        if (dst != &usage || !have_usage)
                                *dst = v;
                        have |= dst == &user ? HAVE_USER : dst == &sys ? HAVE_SYSTEM : 0;
                        if (dst == &usage) {
                                have_usage = true;
                                if (!ret_user_usec && !ret_system_usec)
                                        break;
                        }
                }
                /* Other keys (nr_periods, throttled_usec, core_sched.force_idle_usec, ...) are
                 * skipped unparsed. */
                p = *nl ? nl + 1 : nl;
        }
        if (!have_usage)
                return -ENODATA;

        *ret_usage_usec = usage;
        if (ret_user_usec)
                *ret_user_usec = user;
        if (ret_system_usec)
                *ret_system_usec = sys;
        if (ret_have)
                *ret_have = have;
        return 0;
}

int cgroup_cpu_stat_parse(const char *text, uint64_t *ret_usage_usec, uint64_t *ret_user_usec,
                          uint64_t *ret_system_usec)
{
        return cpu_stat_parse(text, ret_usage_usec, ret_user_usec, ret_system_usec, NULL);
}

/* user_usec + system_usec, or usage_usec when either is missing and fallback is set. */
static int cpu_stat_busy(const char *text, bool fallback, uint64_t *ret_usec)
{
        uint64_t usage, user, sys;
        unsigned have;
        int r = cpu_stat_parse(text, &usage, &user, &sys, &have);
        if (r < 0)
                return r;
        if (have != (HAVE_USER | HAVE_SYSTEM)) {
                if (!fallback)
                        return -ENODATA;
                *ret_usec = usage;
                return 0;
        }
        if (user > UINT64_MAX - sys)
                return -ERANGE;
        *ret_usec = user + sys;
        return 0;
}

int cgroup_root_cpu_stat_parse(const char *text, uint64_t *ret_usec)
{
        return cpu_stat_busy(text, true, ret_usec);
}

int cgroup_cpu_stat_busy_parse(const char *text, uint64_t *ret_usec)
{
        return cpu_stat_busy(text, false, ret_usec);
}

/* ---- unit names, as systemd's unit_name_is_valid() and cg_path_get_unit() ---- */

static bool unit_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == ':' ||
               c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
}

static int unit_type_kind(const char *t, size_t n, CgroupUnitKind *ret)
{
        static const struct {
                const char *name;
                CgroupUnitKind kind;
        } types[] = {
                {"service", CGROUP_UNIT_SERVICE}, {"scope", CGROUP_UNIT_SCOPE},
                {"slice", CGROUP_UNIT_SLICE},     {"socket", CGROUP_UNIT_OTHER},
                {"mount", CGROUP_UNIT_OTHER},     {"swap", CGROUP_UNIT_OTHER},
                {"target", CGROUP_UNIT_OTHER},    {"device", CGROUP_UNIT_OTHER},
                {"automount", CGROUP_UNIT_OTHER}, {"timer", CGROUP_UNIT_OTHER},
                {"path", CGROUP_UNIT_OTHER},
        };
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (strlen(types[i].name) == n && memcmp(types[i].name, t, n) == 0) {
                        *ret = types[i].kind;
                        return 0;
                }
        return -ENXIO;
}

/* unit_name_is_valid(UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE) on [s, s+n). *ret_instance tells which.
 */
static bool unit_name_valid(const char *s, size_t n, CgroupUnitKind *ret_kind, bool *ret_instance)
{
        const char *e = NULL, *at = NULL;

        if (n == 0 || n >= CGROUP_UNIT_NAME_MAX)
                return false;
        for (size_t i = n; i > 0; i--)
                if (s[i - 1] == '.') {
                        e = s + i - 1;
                        break;
                }
        if (!e || e == s)
                return false;
        if (unit_type_kind(e + 1, (size_t)(s + n - e - 1), ret_kind) < 0)
                return false;
        for (const char *c = s; c < e; c++) {
                if (*c == '@' && !at)
                        at = c;
                if (!unit_char_ok(*c))
                        return false;
        }
        if (at == s)
                return false;
        if (!at) {
                *ret_instance = false;
                return true;
        }
        if (e > at + 1) {
                *ret_instance = true;
                return true;
        }
        return false; /* a template ("foo@.service") names no cgroup */
}

int cgroup_name_classify(const char *name, size_t len, char *ret_unit, size_t size,
                         CgroupUnitKind *ret_kind)
{
        CgroupUnitKind kind;
        bool instance;

        assert(name);

        /* cg_unescape(): cg_escape() put a '_' before names that could clash with the kernel's own
         * files ("cpu.foo", "tasks", "_x", ".x"). */
        if (len > 0 && name[0] == '_') {
                name++;
                len--;
        }
        if (!unit_name_valid(name, len, &kind, &instance))
                return -ENXIO;
        /* valid_slice_name(): slices are plain names only; "a@b.slice" is neither slice nor unit.
         */
        if (kind == CGROUP_UNIT_SLICE && instance)
                return -ENXIO;
        if (len >= size)
                return -ENAMETOOLONG;
        if (ret_unit) {
                memcpy(ret_unit, name, len);
                ret_unit[len] = '\0';
        }
        if (ret_kind)
                *ret_kind = kind;
        return 0;
}

static bool component_is_slice(const char *p, size_t n)
{
        CgroupUnitKind k;
        return cgroup_name_classify(p, n, NULL, CGROUP_UNIT_NAME_MAX, &k) >= 0 &&
               k == CGROUP_UNIT_SLICE;
}

/* skip_slices(): the first path component that is not a slice. */
static const char *skip_slices(const char *p)
{
        for (;;) {
                p += strspn(p, "/");
                size_t n = strcspn(p, "/");
                if (n == 0 || !component_is_slice(p, n))
                        return p;
                p += n;
        }
}

/* skip_user_manager(): "user@UID.service", unescaped as systemd does not escape it. Returns the
 * uid, or -1. */
int64_t cgroup_user_manager_uid(const char *p, size_t n)
{
        if (n < strlen("user@x.service") || memcmp(p, "user@", 5) != 0 ||
            memcmp(p + n - 8, ".service", 8) != 0)
                return -1;
        uint64_t uid = 0;
        for (const char *c = p + 5; c < p + n - 8; c++) {
                if (!is_digit(*c))
                        return -1;
                uid = uid * 10 + (uint64_t)(*c - '0');
                if (uid > UINT32_MAX)
                        return -1;
        }
        /* parse_uid() refuses (uid_t)-1 and the 16-bit (uid_t)-1. */
        if (uid == UINT32_MAX || uid == UINT16_MAX)
                return -1;
        return (int64_t)uid;
}

/* snprintf(dst, size, "%s", src) without the printf machinery: a walk fills one id per unit. */
static void copy_truncated(char *dst, size_t size, const char *src)
{
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
}

void cgroup_unit_id_fill(CgroupUnitId *id, const char *name, CgroupUnitKind kind, int64_t uid)
{
        *id = (CgroupUnitId){.kind = kind, .uid = uid};
        copy_truncated(id->name, sizeof(id->name), name);
        if (uid >= 0)
                snprintf(id->display, sizeof(id->display), "user@%" PRId64 "/%s", uid, name);
        else
                copy_truncated(id->display, sizeof(id->display), name);
}

int cgroup_path_to_unit(const char *path, CgroupUnitId *ret, size_t *ret_prefix_len)
{
        char name[CGROUP_UNIT_NAME_MAX], uname[CGROUP_UNIT_NAME_MAX];
        CgroupUnitKind kind, ukind;

        assert(path);
        assert(ret);

        if (path[0] != '/')
                return -EINVAL;

        const char *e = skip_slices(path);
        size_t n = strcspn(e, "/");
        if (n < 3 || cgroup_name_classify(e, n, name, sizeof(name), &kind) < 0)
                return -ENXIO;
        if (kind == CGROUP_UNIT_SLICE)
                return -ENXIO;

        int64_t uid = cgroup_user_manager_uid(e, n);
        if (uid >= 0) {
                const char *u = skip_slices(e + n);
                size_t un = strcspn(u, "/");
                if (un >= 3 && cgroup_name_classify(u, un, uname, sizeof(uname), &ukind) >= 0 &&
                    ukind != CGROUP_UNIT_SLICE) {
                        cgroup_unit_id_fill(ret, uname, ukind, uid);
                        if (ret_prefix_len)
                                *ret_prefix_len = (size_t)(u + un - path);
                        return 0;
                }
        }
        cgroup_unit_id_fill(ret, name, kind, -1);
        if (ret_prefix_len)
                *ret_prefix_len = (size_t)(e + n - path);
        return 0;
}

void cgroup_split_outside(uint64_t outside_ns, uint64_t root_user_ns, uint64_t residual_ns,
                          uint64_t *ret_kernel_ns, uint64_t *ret_unattributed_ns)
{
        uint64_t user = root_user_ns < outside_ns ? root_user_ns : outside_ns;
        if (ret_kernel_ns)
                *ret_kernel_ns = outside_ns - user;
        if (ret_unattributed_ns)
                *ret_unattributed_ns = user + residual_ns;
}

int64_t cgroup_debt_add(int64_t debt_ns, uint64_t self_ns, uint64_t seen_ns)
{
        /* Interval figures are far below 2^61 ns (73 years); clamp anyway, so that neither a
         * debt nor the sum below can wrap. */
        const int64_t lim = INT64_C(1) << 61;
        int64_t d = (int64_t)(self_ns < (uint64_t)lim ? self_ns : (uint64_t)lim) -
                    (int64_t)(seen_ns < (uint64_t)lim ? seen_ns : (uint64_t)lim);
        debt_ns = (debt_ns < -lim ? -lim : debt_ns > lim ? lim : debt_ns) + d;
        return debt_ns < -lim ? -lim : debt_ns > lim ? lim : debt_ns;
}

bool cgroup_explained(int64_t *debt_ns, uint64_t self_ns, uint64_t seen_ns, size_t coarse)
{
        assert(debt_ns);
        const uint64_t lim = UINT64_C(1) << 61;
        uint64_t tol = 2 * NSEC_PER_MSEC + (self_ns < lim ? self_ns : lim) / 20;
        tol += (coarse < 1000000 ? coarse : 1000000) * 20 * NSEC_PER_MSEC;
        int64_t debt = cgroup_debt_add(*debt_ns, self_ns, seen_ns);
        if (debt < -(int64_t)tol)
                debt = -(int64_t)tol;
        *debt_ns = debt;
        return debt <= (int64_t)tol;
}

bool cgroup_refresh_due(unsigned age, unsigned every, int64_t debt_ns)
{
        if (age >= CGROUP_QUIET_REFRESH - 1)
                return true;
        bool quiet = debt_ns >= -CGROUP_QUIET_DEBT_NS && debt_ns <= CGROUP_QUIET_DEBT_NS;
        return age + 1 >= every && !quiet;
}

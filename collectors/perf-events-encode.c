/* Event names into perf_event_attr: the event list parsed into names, each encoded by libpfm4,
 * which is loaded with dlopen only while a set is made and released after (the rule is in
 * collectors/perf-events.h). */

#include "collectors/perf-events.h"
#include "collectors/perf-events-internal.h"

/* The kernel's header first: libpfm4's copy of the perf ABI steps aside when it sees it. */
#include <linux/perf_event.h>
#include <perfmon/pfmlib_perf_event.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "common/text.h"
#include "common/log.h"

/* libpfm4 is opened on the first event to encode, not linked: its event tables, relocated when
 * it loads, are 2 MiB resident, which a daemon with --events none would carry for nothing. */
static struct {
        void *handle;
        bool done;
        int r;
        int (*initialize)(void);
        void (*terminate)(void);
        const char *(*strerror)(int code);
        int (*encode)(const char *name, int dfl_plm, pfm_os_t os, void *arg);
} pfm_api;

/* Closes libpfm4 again once the events are encoded (perf_events_new): the counters need only
 * their perf_event_attr, and the library's 2 MiB of tables would otherwise stay resident. */
static void pe_pfm_release(void)
{
        if (pfm_api.handle) {
                if (pfm_api.r == PFM_SUCCESS)
                        pfm_api.terminate();
                dlclose(pfm_api.handle);
        }
        pfm_api = (typeof(pfm_api)){0};
}

static int pe_pfm_init(char *reason, size_t reason_size)
{
        /* pfm_initialize() once while loaded; the daemon is single-threaded. */
        int r = pfm_api.r;
        if (pfm_api.done)
                goto out;
        pfm_api.done = true;
        void *h = dlopen("libpfm.so.4", RTLD_NOW | RTLD_LOCAL);
        void *sym[4] = {NULL, NULL, NULL, NULL};
        pfm_api.handle = h;
        if (h) {
                sym[0] = dlsym(h, "pfm_initialize");
                sym[1] = dlsym(h, "pfm_terminate");
                sym[2] = dlsym(h, "pfm_strerror");
                sym[3] = dlsym(h, "pfm_get_os_event_encoding");
        }
        if (!sym[0] || !sym[1] || !sym[2] || !sym[3]) {
                r = pfm_api.r = -ENOENT;
                goto out;
        }
        /* POSIX: a void * from dlsym converts to a function pointer */
        memcpy(&pfm_api.initialize, &sym[0], sizeof(void *));
        memcpy(&pfm_api.terminate, &sym[1], sizeof(void *));
        memcpy(&pfm_api.strerror, &sym[2], sizeof(void *));
        memcpy(&pfm_api.encode, &sym[3], sizeof(void *));
        r = pfm_api.r = pfm_api.initialize();
out:
        if (r == -ENOENT)
                pe_reason(reason, reason_size, "libpfm4 (libpfm.so.4) cannot be loaded");
        else if (r != PFM_SUCCESS)
                pe_reason(reason, reason_size, "libpfm4: pfm_initialize: %s", pfm_api.strerror(r));
        return r;
}

int perf_events_encode(const char *name, struct perf_event_attr *ret, char *reason,
                       size_t reason_size)
{
        assert(name);
        assert(ret);

        int r = pe_pfm_init(reason, reason_size);
        if (r != PFM_SUCCESS)
                return -EOPNOTSUPP;

        struct perf_event_attr attr = {.size = sizeof(attr)};
        pfm_perf_encode_arg_t arg = {.attr = &attr, .size = sizeof(arg)};
        r = pfm_api.encode(name, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
        if (r != PFM_SUCCESS) {
                pe_reason(reason, reason_size, "%s: libpfm4 cannot encode it: %s", name,
                          pfm_api.strerror(r));
                return r == PFM_ERR_NOMEM ? -ENOMEM : -EINVAL;
        }
        /* Counting only, whatever modifiers the name carried. */
        attr.sample_period = 0;
        attr.sample_type = 0;
        attr.freq = 0;
        *ret = attr;
        return 0;
}

/* ---- the event set ---- */

static int pe_new(const char *list, const JoulesRoots *roots, PerfEvents **ret, char *reason,
                  size_t reason_size)
{
        assert(ret);
        if (reason && reason_size > 0)
                reason[0] = '\0';
        if (!list || !*list)
                list = PERF_EVENTS_DEFAULT_LIST;

        _cleanup_free_ PerfEvents *pe = calloc(1, sizeof(*pe));
        if (!pe)
                return -ENOMEM;
        pe->roots = roots ? *roots : JOULES_ROOTS_DEFAULT;

        for (const char *p = list;;) {
                size_t len = strcspn(p, ",");
                const char *s = p, *end = p + len;
                while (s < end && isspace((unsigned char)*s))
                        s++;
                while (end > s && isspace((unsigned char)end[-1]))
                        end--;
                size_t nlen = (size_t)(end - s);
                if (nlen == 0) {
                        pe_reason(reason, reason_size, "event list \"%s\": empty event name", list);
                        return -EINVAL;
                }
                if (nlen >= PERF_EVENTS_NAME_MAX) {
                        pe_reason(reason, reason_size, "%.*s...: event name too long",
                                  (int)text_fit(s, 40), s);
                        return -ENAMETOOLONG;
                }
                if (pe->n == PERF_EVENTS_MAX) {
                        pe_reason(reason, reason_size, "event list \"%s\": more than %d events",
                                  list, PERF_EVENTS_MAX);
                        return -E2BIG;
                }
                memcpy(pe->names[pe->n], s, nlen);
                pe->names[pe->n][nlen] = '\0';
                int r = perf_events_encode(pe->names[pe->n], &pe->attrs[pe->n], reason,
                                           reason_size);
                if (r < 0)
                        return r;
                log_debug("perf-events: %s: type %u config %#llx", pe->names[pe->n],
                          pe->attrs[pe->n].type, (unsigned long long)pe->attrs[pe->n].config);
                pe->n++;
                if (!p[len])
                        break;
                p += len + 1;
        }

        *ret = TAKE_PTR(pe);
        return 0;
}

int perf_events_new(const char *list, const JoulesRoots *roots, PerfEvents **ret, char *reason,
                    size_t reason_size)
{
        int r = pe_new(list, roots, ret, reason, reason_size);
        pe_pfm_release(); /* whatever happened: the encodings are made */
        return r;
}

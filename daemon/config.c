#include "daemon/config.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "collectors/perf-events.h"
#include "common/power-curve.h"
#include "common/text.h"
#include "common/util.h"
#include "daemon/ingest.h"
#include "storage/store.h"

typedef enum ConfigType {
        CFG_PATH,
        CFG_DURATION,
        CFG_DOUBLE,
        CFG_UINT,
        CFG_SOURCE,
        CFG_HOST_DOMAIN,
        CFG_LOG_LEVEL,
        CFG_IDLE_POWER,
        CFG_EVENTS,
        CFG_SOCKET,
        CFG_TEXT,
        CFG_RETENTION,
        CFG_MODEL_LINE,
        CFG_CURVE,
        CFG_DRAM,
} ConfigType;

typedef struct ConfigKey {
        const char *section;
        const char *key;
        ConfigType type;
        size_t offset;
        double min, max; /* for numbers */
        const char *help;
} ConfigKey;

#define OFF(f) offsetof(JoulesConfig, f)

static const ConfigKey config_keys[] = {
        {"daemon", "database", CFG_PATH, OFF(db_path), 0, 0, "SQLite history file"},
        {"daemon", "interval", CFG_DURATION, OFF(interval_us), 50e3, 3600e6,
         "sampling interval, 50ms to 1h"},
        {"daemon", "log_level", CFG_LOG_LEVEL, OFF(log_level), 0, 0,
         "error, warning, notice, info or debug"},
        {"energy", "source", CFG_SOURCE, OFF(energy_source), 0, 0, "auto, perf, powercap or model"},
        {"energy", "sysfs_root", CFG_PATH, OFF(sysfs_root), 0, 0, "where /sys is read"},
        {"energy", "host_domain", CFG_HOST_DOMAIN, OFF(energy.host_psys), 0, 0,
         "packages (packages + dram) or psys"},
        {"energy", "max_domain_power_w", CFG_DOUBLE, OFF(max_domain_power_w), 1, 1e6,
         "an interval implying more than this per domain is dropped"},
        {"model", "curve", CFG_CURVE, OFF(energy.model_curve), 0, 0,
         "host watts by utilisation, U:W, U:W, ... (2 to 21 points, U in percent of all CPUs, "
         "increasing); empty: the CPU-aware default"},
        {"model", "idle_w_per_cpu", CFG_MODEL_LINE, OFF(energy.model_idle_w_per_cpu), 0, 1000,
         "estimated watts per idle vCPU (with max_w_per_cpu, a two-point curve)"},
        {"model", "max_w_per_cpu", CFG_MODEL_LINE, OFF(energy.model_max_w_per_cpu), 0, 1000,
         "estimated watts per busy vCPU"},
        {"model", "dram", CFG_DRAM, OFF(energy.model_dram), 0, 0,
         "estimated dram domain (MemTotal x 0.392 W/GB): auto (with the CPU-aware default only; a "
         "curve or per-vCPU line holds the host's memory already), estimate or none"},
        {"model", "cpus", CFG_UINT, OFF(energy.model_cpus), 0, 65536,
         "vCPUs to estimate for; 0 counts them"},
        {"attribution", "idle_power", CFG_IDLE_POWER, 0, 0, 1e6, "watts, or 'learn'"},
        {"attribution", "events", CFG_EVENTS, OFF(events), 0, 0,
         "perf events (libpfm4 names) weighting the split, the first is the weight; none: CPU "
         "time"},
        {"attribution", "top_processes", CFG_UINT, OFF(top_processes), 0, 1000,
         "processes stored per active service and tick"},
        {"attribution", "process_events_idle", CFG_UINT, OFF(process_events_idle), 0, 100000,
         "ticks a stored process keeps its perf counters after it was last among the stored "
         "ones; 0: no per-process counters"},
        {"attribution", "procfs_root", CFG_PATH, OFF(procfs_root), 0, 0, "where /proc is read"},
        {"attribution", "cgroup_root", CFG_PATH, OFF(cgroup_root), 0, 0,
         "cgroup v2 mount; empty: found from mountinfo"},
        {"ingest", "socket", CFG_SOCKET, OFF(ingest_socket), 0, 0,
         "unix datagram socket for StatsD request counts; empty: none"},
        {"ingest", "trusted_units", CFG_TEXT, OFF(ingest_trusted_units), 0,
         sizeof(((JoulesConfig *)0)->ingest_trusted_units),
         "units (space separated) whose processes may count for other units (unit: tag)"},
        {"ingest", "trusted_uids", CFG_TEXT, OFF(ingest_trusted_uids), 0,
         sizeof(((JoulesConfig *)0)->ingest_trusted_uids),
         "uids (space separated) that may count for other units; root always may"},
        {"storage", "commit_interval", CFG_DURATION, OFF(commit_interval_us), 0, 60e6,
         "how often the history is committed, 0 to 60s (0: every tick); ticks wait in the "
         "journal <database>-ticks"},
        {"storage", "raw_retention", CFG_RETENTION, OFF(raw_retention_us), 3600e6, 0,
         "how long every tick is kept (1h or more, or forever)"},
        {"storage", "minute_retention", CFG_RETENTION, OFF(minute_retention_us), 3600e6, 0,
         "how long per-minute rollups are kept (at least raw_retention, or forever)"},
        {"storage", "hour_retention", CFG_RETENTION, OFF(hour_retention_us), 3600e6, 0,
         "how long per-hour rollups are kept (at least minute_retention, or forever)"},
};

void config_defaults(JoulesConfig *c)
{
        *c = (JoulesConfig){
                .interval_us = USEC_PER_SEC,
                .log_level = LOG_INFO,
                .max_domain_power_w = 2000,
                .idle_learn = true,
                .top_processes = 5,
                .process_events_idle = 10,
                .raw_retention_us = STORE_RAW_RETENTION_DEFAULT,
                .minute_retention_us = STORE_MINUTE_RETENTION_DEFAULT,
                .hour_retention_us = STORE_HOUR_RETENTION_DEFAULT,
                .commit_interval_us = 5 * USEC_PER_SEC,
        };
        snprintf(c->db_path, sizeof(c->db_path), "%s", JOULES_DEFAULT_DB);
        snprintf(c->energy_source, sizeof(c->energy_source), "auto");
        snprintf(c->sysfs_root, sizeof(c->sysfs_root), "/sys");
        snprintf(c->procfs_root, sizeof(c->procfs_root), "/proc");
        snprintf(c->events, sizeof(c->events), "cycles,instructions");
        snprintf(c->ingest_socket, sizeof(c->ingest_socket), "/run/joules/ingest.sock");
        energy_options_default(&c->energy);
        config_carbon_defaults(&c->carbon);
}

static const char *const config_dram_names[] = {
        [ENERGY_MODEL_DRAM_NONE] = "none",
        [ENERGY_MODEL_DRAM_AUTO] = "auto",
        [ENERGY_MODEL_DRAM_ESTIMATE] = "estimate",
};

static const char *const log_levels[] = {
        [LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static int config_number(const ConfigKey *k, const char *value, double *ret, char *err,
                         size_t errlen)
{
        double v;
        if (parse_double(value, &v) < 0) {
                snprintf(err, errlen, "%s.%s: '%s' is not a number (%s)", k->section, k->key, value,
                         k->help);
                return -EINVAL;
        }
        if (v < k->min || v > k->max) {
                snprintf(err, errlen, "%s.%s: %s is out of range [%g, %g] (%s)", k->section, k->key,
                         value, k->min, k->max, k->help);
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

/* The per-CPU line, one key given and the other its default, or both: 0 <= idle <= max, or
 * joulesd would stop later, past --check-config. */
static int config_check_model(const JoulesConfig *c, char *err, size_t errlen)
{
        const EnergyOptions *e = &c->energy;
        if (!e->model_line_set || (e->model_idle_w_per_cpu <= e->model_max_w_per_cpu))
                return 0;
        snprintf(err, errlen,
                 "model.idle_w_per_cpu %g W is above model.max_w_per_cpu %g W%s%s (idle <= max)",
                 e->model_idle_w_per_cpu, e->model_max_w_per_cpu,
                 e->model_idle_set ? "" : " (idle_w_per_cpu not given: its default)",
                 e->model_max_set ? "" : " (max_w_per_cpu not given: its default)");
        return -EINVAL;
}

/* ingest.trusted_units and trusted_uids: lists (spaces or commas) of unit names and of UIDs. */
static int config_check_trusted(const ConfigKey *k, const char *value, char *err, size_t errlen)
{
        bool units = k->offset == OFF(ingest_trusted_units);
        if (!units && k->offset != OFF(ingest_trusted_uids))
                return 0;
        char tmp[4096], *save = NULL;
        snprintf(tmp, sizeof(tmp), "%s", value);
        for (char *t = strtok_r(tmp, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save)) {
                uint64_t uid;
                if (units ? ingest_unit_name_valid(t)
                          : parse_u64(t, &uid) == 0 && uid < (uint64_t)(uid_t)-1)
                        continue;
                snprintf(err, errlen, "%s.%s: '%s' is not a %s", k->section, k->key, t,
                         units ? "unit name (web.service, user@1000/app.service)" : "UID");
                return -EINVAL;
        }
        return 0;
}

int config_set(JoulesConfig *c, const char *section, const char *key, const char *value, char *err,
               size_t errlen)
{
        /* No value names anything with such bytes (paths, units, URLs, events, numbers), and
         * --dump-config and the logs show values as they are; a tab may separate list items or
         * match one in an access log line. */
        const char *bad = !text_printable(section, NULL) ? "section name"
                          : !text_printable(key, NULL)   ? "key"
                          : !text_printable(value, "\t") ? "value"
                                                         : NULL;
        if (bad) {
                snprintf(err, errlen,
                         "%s.%s: the %s holds a control, invisible or non-UTF-8 character", section,
                         key, bad);
                return -EINVAL;
        }
        int rr = config_set_request(c, section, key, value, err, errlen);
        if (rr != 0)
                return rr < 0 ? rr : 0;
        rr = config_set_carbon(c, section, key, value, err, errlen);
        if (rr != 0)
                return rr < 0 ? rr : 0;
        const ConfigKey *k = NULL;
        bool section_known = false;
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++) {
                if (strcmp(config_keys[i].section, section) != 0)
                        continue;
                section_known = true;
                if (strcmp(config_keys[i].key, key) == 0) {
                        k = &config_keys[i];
                        break;
                }
        }
        if (!section_known) {
                snprintf(err, errlen,
                         "unknown section [%s] (known: daemon, energy, model, attribution, ingest, "
                         "storage, requests \"UNIT\")",
                         section);
                return -EINVAL;
        }
        if (!k) {
                snprintf(err, errlen, "unknown key '%s' in section [%s]", key, section);
                return -EINVAL;
        }
        char *field = (char *)c + k->offset;
        double d;
        uint64_t u;
        switch (k->type) {
        case CFG_PATH:
                if (value[0] == '\0' && strcmp(k->key, "cgroup_root") != 0) {
                        snprintf(err, errlen, "%s.%s: empty path", section, key);
                        return -EINVAL;
                }
                if (strlen(value) >= PATH_MAX) {
                        snprintf(err, errlen, "%s.%s: path too long", section, key);
                        return -ENAMETOOLONG;
                }
                snprintf(field, PATH_MAX, "%s", value);
                return 0;
        case CFG_DURATION:
                if (parse_duration_us(value, &u) < 0) {
                        snprintf(err, errlen,
                                 "%s.%s: '%s' is not a duration (examples: 200ms, 1s, 0.5)",
                                 section, key, value);
                        return -EINVAL;
                }
                if ((double)u < k->min || (double)u > k->max) {
                        snprintf(err, errlen, "%s.%s: %s is out of range (%s)", section, key, value,
                                 k->help);
                        return -ERANGE;
                }
                *(uint64_t *)field = u;
                return 0;
        case CFG_DOUBLE:
                if (config_number(k, value, &d, err, errlen) < 0)
                        return -EINVAL;
                *(double *)field = d;
                return 0;
        case CFG_MODEL_LINE:
                if (config_number(k, value, &d, err, errlen) < 0)
                        return -EINVAL;
                if (c->energy.model_curve_set) {
                        snprintf(err, errlen,
                                 "%s.%s: a curve is already given; the per-CPU line and a curve "
                                 "exclude each other",
                                 section, key);
                        return -EINVAL;
                }
                *(double *)field = d;
                c->energy.model_line_set = true;
                if (k->offset == OFF(energy.model_idle_w_per_cpu))
                        c->energy.model_idle_set = true;
                else
                        c->energy.model_max_set = true;
                /* both given: this line says which; one given is checked at the end */
                if (c->energy.model_idle_set && c->energy.model_max_set)
                        return config_check_model(c, err, errlen);
                return 0;
        case CFG_DRAM:
                for (size_t i = 0; i < ELEMENTSOF(config_dram_names); i++)
                        if (strcmp(value, config_dram_names[i]) == 0) {
                                *(int *)field = (int)i;
                                return 0;
                        }
                snprintf(err, errlen, "%s.%s: '%s' is not auto, estimate or none", section, key,
                         value);
                return -EINVAL;
        case CFG_CURVE: {
                PowerCurve pc;
                char why[256];
                if (value[0] == '\0') {
                        c->energy.model_curve_set = false;
                        return 0;
                }
                if (power_curve_parse(value, &pc, why, sizeof(why)) < 0) {
                        snprintf(err, errlen, "%s.%s: '%s': %s", section, key, value, why);
                        return -EINVAL;
                }
                if (c->energy.model_line_set) {
                        snprintf(err, errlen,
                                 "%s.%s: idle_w_per_cpu/max_w_per_cpu are already given; the "
                                 "per-CPU line and a curve exclude each other",
                                 section, key);
                        return -EINVAL;
                }
                *(PowerCurve *)field = pc;
                c->energy.model_curve_set = true;
                return 0;
        }
        case CFG_UINT:
                if (parse_u64(value, &u) < 0 || (double)u < k->min || (double)u > k->max) {
                        snprintf(err, errlen, "%s.%s: '%s' is not a whole number in [%g, %g]",
                                 section, key, value, k->min, k->max);
                        return -EINVAL;
                }
                *(unsigned *)field = (unsigned)u;
                return 0;
        case CFG_SOURCE:
                if (strcmp(value, "auto") && strcmp(value, "perf") && strcmp(value, "powercap") &&
                    strcmp(value, "model")) {
                        snprintf(err, errlen,
                                 "%s.%s: '%s' is not an energy source (auto, perf, powercap, "
                                 "model)",
                                 section, key, value);
                        return -EINVAL;
                }
                snprintf(field, sizeof(c->energy_source), "%s", value);
                return 0;
        case CFG_HOST_DOMAIN:
                if (strcmp(value, "packages") == 0)
                        *(bool *)field = false;
                else if (strcmp(value, "psys") == 0)
                        *(bool *)field = true;
                else {
                        snprintf(err, errlen, "%s.%s: '%s' is neither 'packages' nor 'psys'",
                                 section, key, value);
                        return -EINVAL;
                }
                return 0;
        case CFG_LOG_LEVEL:
                for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                        if (log_levels[i] && strcmp(log_levels[i], value) == 0) {
                                *(int *)field = (int)i;
                                return 0;
                        }
                snprintf(err, errlen, "%s.%s: '%s' is not a log level (%s)", section, key, value,
                         k->help);
                return -EINVAL;
        case CFG_IDLE_POWER:
                if (strcmp(value, "learn") == 0) {
                        c->idle_learn = true;
                        return 0;
                }
                if (config_number(k, value, &d, err, errlen) < 0)
                        return -EINVAL;
                c->idle_learn = false;
                c->idle_w = d;
                return 0;
        case CFG_EVENTS:
                if (strlen(value) >= sizeof(c->events)) {
                        snprintf(err, errlen, "%s.%s: event list too long", section, key);
                        return -EINVAL;
                }
                if (strspn(value, " ,") == strlen(value) && value[0]) {
                        snprintf(err, errlen, "%s.%s: no event names in '%s'", section, key, value);
                        return -EINVAL;
                }
                snprintf(field, sizeof(c->events), "%s", value);
                return 0;
        case CFG_SOCKET:
                if (strlen(value) >= sizeof(c->ingest_socket) || (value[0] && value[0] != '/')) {
                        snprintf(err, errlen,
                                 "%s.%s: '%s' is not an absolute path of at most %zu "
                                 "bytes",
                                 section, key, value, sizeof(c->ingest_socket) - 1);
                        return -EINVAL;
                }
                snprintf(field, sizeof(c->ingest_socket), "%s", value);
                return 0;
        case CFG_RETENTION:
                if (strcmp(value, "forever") == 0) {
                        *(uint64_t *)field = 0;
                        return 0;
                }
                if (parse_duration_us(value, &u) < 0 || (double)u < k->min) {
                        snprintf(err, errlen,
                                 "%s.%s: '%s' is neither a duration of 1h or more (examples: 7d, "
                                 "90d, 26w) nor 'forever'",
                                 section, key, value);
                        return -EINVAL;
                }
                *(uint64_t *)field = u;
                return 0;
        case CFG_TEXT:
                if (strlen(value) >= (size_t)k->max) {
                        snprintf(err, errlen, "%s.%s: too long", section, key);
                        return -EINVAL;
                }
                if (config_check_trusted(k, value, err, errlen) < 0)
                        return -EINVAL;
                snprintf(field, (size_t)k->max, "%s", value);
                return 0;
        }
        assert(!"unhandled config type");
        return -EINVAL;
}

/* libinih holds a line, its newline and a NUL in INI_MAX_LINE bytes */
#define CONFIG_LINE_MAX  (INI_MAX_LINE - 2)
#define CONFIG_MAX_BYTES (1 << 20)

typedef struct ConfigParse {
        JoulesConfig *c;
        char err[512];
} ConfigParse;

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
        ConfigParse *p = user;
        if (!name) /* a section header alone */
                return 1;
        char err[400];
        if (config_set(p->c, section, name, value ? value : "", err, sizeof(err)) < 0) {
                if (!p->err[0])
                        snprintf(p->err, sizeof(p->err), "%s", err);
                return 0; /* makes ini_parse() return this line's number */
        }
        return 1;
}

/* The whole text of f, NUL-terminated, once every line is one libinih parses whole: it reads a
 * line into INI_MAX_LINE (200) bytes and parses the rest of a longer one as a line of its own, so
 * the tail of a long comment could set a key ("; xxx...interval = 5s"). A NUL byte would end
 * the text early. err names the line. */
static int config_read_lines(FILE *f, const char *name, char **ret, char *err, size_t errlen)
{
        char *text = NULL;
        size_t size = 0, cap = 0, got;
        char chunk[4096];
        while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
                if (size + got + 1 > CONFIG_MAX_BYTES) {
                        free(text);
                        snprintf(err, errlen, "%s: larger than %d bytes", name, CONFIG_MAX_BYTES);
                        return -EFBIG;
                }
                if (size + got + 1 > cap) {
                        cap = (size + got + 1) * 2;
                        char *t = realloc(text, cap);
                        if (!t) {
                                free(text);
                                return -ENOMEM;
                        }
                        text = t;
                }
                memcpy(text + size, chunk, got);
                size += got;
        }
        if (ferror(f)) {
                free(text);
                snprintf(err, errlen, "%s: cannot read the file", name);
                return -EIO;
        }
        unsigned line = 1;
        for (size_t i = 0, col = 0; i < size; i++) {
                if (text[i] == '\0' || (text[i] != '\n' && ++col > CONFIG_LINE_MAX)) {
                        snprintf(err, errlen,
                                 text[i] ? "%s:%u: longer than %d bytes" : "%s:%u: a NUL byte",
                                 name, line, CONFIG_LINE_MAX);
                        free(text);
                        return -EINVAL;
                }
                if (text[i] == '\n') {
                        line++;
                        col = 0;
                }
        }
        if (!text && !(text = malloc(1)))
                return -ENOMEM;
        text[size] = '\0';
        *ret = text;
        return 0;
}

int config_load_stream(JoulesConfig *c, FILE *f, const char *name, char *err, size_t errlen)
{
        char *text;
        int r = config_read_lines(f, name, &text, err, errlen);
        if (r < 0)
                return r == -ENOMEM || r == -EIO ? r : -EINVAL;
        JoulesConfig tmp = *c;
        ConfigParse p = {.c = &tmp};
        int line = ini_parse_string(text, config_ini_handler, &p);
        free(text);
        if (line != 0) {
                if (line < 0)
                        snprintf(err, errlen, "%s: cannot read the file", name);
                else if (p.err[0])
                        snprintf(err, errlen, "%s:%d: %s", name, line, p.err);
                else
                        snprintf(err, errlen,
                                 "%s:%d: syntax error (expected [section] or key = value)", name,
                                 line);
                return -EINVAL;
        }
        if (config_check_requests(&tmp, p.err, sizeof(p.err)) < 0 ||
            config_check_storage(&tmp, p.err, sizeof(p.err)) < 0 ||
            config_check_model(&tmp, p.err, sizeof(p.err)) < 0) {
                snprintf(err, errlen, "%s: %s", name, p.err);
                return -EINVAL;
        }
        *c = tmp;
        return 0;
}

int config_load(JoulesConfig *c, const char *path, char *err, size_t errlen)
{
        FILE *f = fopen(path, "re");
        if (!f) {
                int r = -errno;
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                return r;
        }
        int r = config_load_stream(c, f, path, err, errlen);
        fclose(f);
        return r;
}

const char *config_format_double(double v, char *buf, size_t size)
{
        /* the shortest of %.15g..%.17g that reads back as v: 0.74 stays 0.74 */
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        return buf;
}

void config_dump(const JoulesConfig *c, FILE *f)
{
        const char *section = "";
        char buf[32];
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++) {
                const ConfigKey *k = &config_keys[i];
                const char *field = (const char *)c + k->offset;
                if (strcmp(section, k->section) != 0) {
                        fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
                        section = k->section;
                }
                /* A key of the per-CPU line not set: commented out, so that loading the dump
                 * keeps the CPU-aware default instead of configuring the line. */
                bool unset =
                        k->type == CFG_MODEL_LINE &&
                        !(k->offset == OFF(energy.model_idle_w_per_cpu) ? c->energy.model_idle_set
                                                                        : c->energy.model_max_set);
                fprintf(f, "# %s\n%s%s = ", k->help, unset ? "#" : "", k->key);
                switch (k->type) {
                case CFG_PATH:
                case CFG_SOURCE:
                case CFG_EVENTS:
                case CFG_SOCKET:
                case CFG_TEXT:
                        fprintf(f, "%s\n", field);
                        break;
                case CFG_DURATION:
                        fprintf(f, "%s\n",
                                format_duration_us(*(const uint64_t *)field, buf, sizeof(buf)));
                        break;
                case CFG_DOUBLE:
                case CFG_MODEL_LINE:
                        fprintf(f, "%s\n",
                                config_format_double(*(const double *)field, buf, sizeof(buf)));
                        break;
                case CFG_DRAM:
                        fprintf(f, "%s\n", config_dram_names[*(const int *)field]);
                        break;
                case CFG_CURVE: {
                        char text[512] = "";
                        if (c->energy.model_curve_set)
                                /* no spaces: 21 points must fit inih's line */
                                (void)power_curve_format(&c->energy.model_curve, ",", text,
                                                         sizeof(text));
                        fprintf(f, "%s\n", text);
                        break;
                }
                case CFG_UINT:
                        fprintf(f, "%u\n", *(const unsigned *)field);
                        break;
                case CFG_HOST_DOMAIN:
                        fprintf(f, "%s\n", *(const bool *)field ? "psys" : "packages");
                        break;
                case CFG_LOG_LEVEL:
                        fprintf(f, "%s\n", log_levels[*(const int *)field]);
                        break;
                case CFG_RETENTION: {
                        uint64_t us = *(const uint64_t *)field;
                        fprintf(f, "%s\n",
                                us ? format_duration_us(us, buf, sizeof(buf)) : "forever");
                        break;
                }
                case CFG_IDLE_POWER:
                        if (c->idle_learn)
                                fprintf(f, "learn\n");
                        else
                                fprintf(f, "%s\n",
                                        config_format_double(c->idle_w, buf, sizeof(buf)));
                        break;
                }
        }
        config_dump_carbon(c, f);
        config_dump_requests(c, f);
}

/* 0 is forever: the longest. */
static bool retention_shorter(uint64_t a, uint64_t b)
{
        return a != 0 && (b == 0 || a < b);
}

int config_check_storage(const JoulesConfig *c, char *err, size_t errlen)
{
        if (retention_shorter(c->minute_retention_us, c->raw_retention_us)) {
                snprintf(err, errlen,
                         "storage.minute_retention is shorter than storage.raw_retention (minutes "
                         "are kept at least as long as the ticks they sum)");
                return -EINVAL;
        }
        if (retention_shorter(c->hour_retention_us, c->minute_retention_us)) {
                snprintf(err, errlen,
                         "storage.hour_retention is shorter than storage.minute_retention (hours "
                         "are kept at least as long as the minutes they sum)");
                return -EINVAL;
        }
        return 0;
}

#include "daemon/settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int settings_build(const SettingsSource *src, JoulesConfig *ret, char *err, size_t errlen)
{
        JoulesConfig c;
        config_defaults(&c);
        if (src->path) {
                int r = config_load(&c, src->path, err, errlen);
                if (r == -ENOENT && src->optional)
                        r = 0;
                if (r < 0)
                        return r == -ENOENT ? r : -EINVAL;
        }
        for (size_t i = 0; i < src->n_flags; i++) {
                const SettingsFlag *f = &src->flags[i];
                char why[512];
                if (config_set(&c, f->section, f->key, f->value, why, sizeof(why)) < 0) {
                        snprintf(err, errlen, "--%s: %s", f->name, why);
                        return -EINVAL;
                }
        }
        *ret = c;
        return 0;
}

/* Live keys and how each one is copied. Only plain values belong here: anything that was used to
 * open a file, a counter or a tree at start-up does not. */
static void live_log_level(JoulesConfig *to, const JoulesConfig *from)
{
        to->log_level = from->log_level;
}

static void live_interval(JoulesConfig *to, const JoulesConfig *from)
{
        to->interval_us = from->interval_us; /* the daemon re-arms its timer */
}

static void live_max_power(JoulesConfig *to, const JoulesConfig *from)
{
        to->max_domain_power_w = from->max_domain_power_w;
}

static void live_idle_power(JoulesConfig *to, const JoulesConfig *from)
{
        to->idle_learn = from->idle_learn;
        to->idle_w = from->idle_w;
}

static void live_top_processes(JoulesConfig *to, const JoulesConfig *from)
{
        to->top_processes = from->top_processes;
}

static void live_carbon(JoulesConfig *to, const JoulesConfig *from)
{
        to->carbon = from->carbon; /* the daemon writes them into the history again */
}

static const struct {
        const char *section, *key;
        void (*apply)(JoulesConfig *to, const JoulesConfig *from);
} settings_live_keys[] = {
        {"daemon", "log_level", live_log_level},
        {"daemon", "interval", live_interval},
        {"energy", "max_domain_power_w", live_max_power},
        {"attribution", "idle_power", live_idle_power},
        {"attribution", "top_processes", live_top_processes},
        {"carbon", "country", live_carbon},
        {"carbon", "intensity_g_per_kwh", live_carbon},
        {"carbon", "pue", live_carbon},
        {"carbon", "embodied_g", live_carbon},
        {"carbon", "lifetime_hours", live_carbon},
        {"carbon", "market_intensity_g_per_kwh", live_carbon},
};

bool settings_key_is_live(const char *section, const char *key)
{
        for (size_t i = 0; i < ELEMENTSOF(settings_live_keys); i++)
                if (strcmp(settings_live_keys[i].section, section) == 0 &&
                    strcmp(settings_live_keys[i].key, key) == 0)
                        return true;
        return false;
}

void settings_apply_live(JoulesConfig *running, const JoulesConfig *next)
{
        for (size_t i = 0; i < ELEMENTSOF(settings_live_keys); i++)
                settings_live_keys[i].apply(running, next);
}

/* config_dump() writes every key as "key = value" under its "[section]": comparing two dumps
 * compares every key the table has, including keys and sections added to it later (sections such
 * as [requests "x.service"] may appear in one dump only), without a second list of fields here. */
static char *settings_dump(const JoulesConfig *c)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        config_dump(c, f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

typedef struct SettingsEntry {
        const char *section, *key, *value; /* into the dump */
} SettingsEntry;

/* Splits a dump in place into its entries; comments and blank lines are skipped. */
static int settings_entries(char *dump, SettingsEntry **ret, size_t *ret_n)
{
        SettingsEntry *e = NULL;
        size_t n = 0;
        const char *section = "";
        char *save = NULL;
        for (char *line = strtok_r(dump, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (line[0] == '[') {
                        line[strcspn(line, "]")] = '\0';
                        section = line + 1;
                        continue;
                }
                char *eq = strstr(line, " = ");
                if (line[0] == '#' || !eq)
                        continue;
                SettingsEntry *ne = realloc(e, (n + 1) * sizeof(*e));
                if (!ne) {
                        free(e);
                        return -ENOMEM;
                }
                e = ne;
                *eq = '\0';
                e[n++] = (SettingsEntry){section, line, eq + 3};
        }
        *ret = e;
        *ret_n = n;
        return 0;
}

static const SettingsEntry *settings_find(const SettingsEntry *e, size_t n, const SettingsEntry *k)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(e[i].section, k->section) == 0 && strcmp(e[i].key, k->key) == 0)
                        return &e[i];
        return NULL;
}

static int settings_diff_add(SettingsDiff *d, const char *section, const char *key,
                             const char *old_value, const char *new_value)
{
        SettingsChange *n = realloc(d->changes, (d->n + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        d->changes = n;
        SettingsChange *ch = &d->changes[d->n];
        *ch = (SettingsChange){
                .section = strdup(section),
                .key = strdup(key),
                .old_value = strdup(old_value),
                .new_value = strdup(new_value),
                .live = settings_key_is_live(section, key),
        };
        d->n++;
        if (!ch->section || !ch->key || !ch->old_value || !ch->new_value)
                return -ENOMEM;
        return 0;
}

int settings_diff(const JoulesConfig *a, const JoulesConfig *b, SettingsDiff *ret)
{
        SettingsDiff d = {0};
        _cleanup_free_ char *da = settings_dump(a);
        _cleanup_free_ char *db = settings_dump(b);
        _cleanup_free_ SettingsEntry *ea = NULL;
        _cleanup_free_ SettingsEntry *eb = NULL;
        size_t na = 0, nb = 0;
        if (!da || !db)
                return -ENOMEM;
        int r = settings_entries(da, &ea, &na);
        if (r >= 0)
                r = settings_entries(db, &eb, &nb);
        /* Keys of a that changed or went away, then keys only b has ("" is not set). */
        for (size_t i = 0; r >= 0 && i < na; i++) {
                const SettingsEntry *o = settings_find(eb, nb, &ea[i]);
                if (!o || strcmp(o->value, ea[i].value) != 0)
                        r = settings_diff_add(&d, ea[i].section, ea[i].key, ea[i].value,
                                              o ? o->value : "");
        }
        for (size_t i = 0; r >= 0 && i < nb; i++)
                if (!settings_find(ea, na, &eb[i]))
                        r = settings_diff_add(&d, eb[i].section, eb[i].key, "", eb[i].value);
        if (r < 0) {
                settings_diff_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

void settings_diff_done(SettingsDiff *d)
{
        for (size_t i = 0; i < d->n; i++) {
                free(d->changes[i].section);
                free(d->changes[i].key);
                free(d->changes[i].old_value);
                free(d->changes[i].new_value);
        }
        free(d->changes);
        *d = (SettingsDiff){0};
}

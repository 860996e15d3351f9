/* Per-tick host readings for calibration: the host's energy and its units' CPU time tick by tick.
 * A tick's units are one BLOB in its tick_units row (store-pack.c; packed as it is committed since
 * schema 13) or plain unit_energy rows (an older joulesd's recent ticks); either way their CPU
 * time sums to the host's (collectors/cgroup.h: the units, `kernel` and `unattributed` share
 * every CPU nanosecond the host's root cgroup counted). */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

int store_read_host_ticks(Store *s, int64_t from_us, int64_t to_us, StoreHostTick **ret,
                          size_t *ret_n)
{
        sqlite3_stmt *q = NULL;
        StoreHostTick *v = NULL;
        StoreUnitValue *units = NULL;
        size_t n = 0, cap = 0, ucap = 0;
        int r, rc;

        r = store_query(s, &q,
                        "SELECT t.ts_us, t.dt_us, t.host_uj, t.estimated,"
                        "  (SELECT SUM(e.cpu_ns) FROM unit_energy e WHERE e.tick_id = t.id),"
                        "  (SELECT p.data FROM tick_units p WHERE p.tick_id = t.id)"
                        " FROM ticks t"
                        " WHERE t.ts_us > ?1 AND t.ts_us <= ?2 AND t.host_uj IS NOT NULL"
                        " ORDER BY t.ts_us");
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, from_us);
        sqlite3_bind_int64(q, 2, to_us);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t nc = cap ? 2 * cap : 1024;
                        StoreHostTick *nv = realloc(v, nc * sizeof(*nv));
                        if (!nv) {
                                r = -ENOMEM;
                                goto out;
                        }
                        v = nv;
                        cap = nc;
                }
                StoreHostTick t = {
                        .ts_us = sqlite3_column_int64(q, 0),
                        .dt_us = (uint64_t)sqlite3_column_int64(q, 1),
                        .host_uj = (uint64_t)sqlite3_column_int64(q, 2),
                        .estimated = sqlite3_column_int(q, 3) != 0,
                };
                if (sqlite3_column_type(q, 4) != SQLITE_NULL) {
                        t.cpu_ns = (uint64_t)sqlite3_column_int64(q, 4);
                        t.has_cpu = true;
                }
                if (sqlite3_column_type(q, 5) == SQLITE_BLOB) {
                        size_t nu = 0;
                        r = store_unpack_units(sqlite3_column_blob(q, 5),
                                               (size_t)sqlite3_column_bytes(q, 5), &units, &ucap,
                                               &nu);
                        if (r < 0) {
                                snprintf(s->error, sizeof(s->error),
                                         "a packed tick ending at %lld is corrupt",
                                         (long long)t.ts_us);
                                goto out;
                        }
                        for (size_t k = 0; k < nu; k++)
                                t.cpu_ns += units[k].cpu_ns;
                        t.has_cpu = t.has_cpu || nu > 0;
                }
                v[n++] = t;
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading ticks");
                goto out;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        r = 0;
out:
        sqlite3_finalize(q);
        free(units);
        free(v);
        return r;
}

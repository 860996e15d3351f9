/* Packed ticks as they are committed, and the sums read back from them.
 *
 * Since schema 13 store_commit writes a tick's units, requests and domain energies (since 14 its
 * processes too) as its one tick_units row (the BLOB formats of store-pack.c and
 * store-pack-side.c) instead of about two dozen plain rows: a plain row costs SQLite a B-tree
 * insert in a page that is cold after a second asleep, and the units' rows were read back a
 * minute later, packed and deleted. A tick the formats cannot hold (no unit, a repeated id, sums
 * past 64 bits, a count that is not a finite number, a process repeated or without a name) keeps
 * plain rows: its units, requests and domains are packed later as before (store-rollup.c's
 * pack_and_roll), its processes stay rows. So do the processes of a joulesd that counts their
 * perf events (store_set_pack_procs).
 *
 * The rollups (minute, and ticks written late), the running totals' flush and their readers'
 * tail add up these BLOBs in C (PackedSums) rather than decoding them into temp tables: a minute
 * of 100 units is 6,000 values, which SQLite would insert and sort again. A BLOB that does not
 * decode is named in a warning and left out of those sums. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/* ---- writing ---- */

static int cmp_unit(const void *a, const void *b)
{
        const StoreUnitValue *x = a, *y = b;
        return (x->unit_id > y->unit_id) - (x->unit_id < y->unit_id);
}

static int cmp_request(const void *a, const void *b)
{
        const StoreRequestValue *x = a, *y = b;
        if (x->unit_id != y->unit_id)
                return (x->unit_id > y->unit_id) - (x->unit_id < y->unit_id);
        return (x->metric_id > y->metric_id) - (x->metric_id < y->metric_id);
}

static int cmp_proc(const void *a, const void *b)
{
        const StoreProcValue *x = a, *y = b;
        if (x->unit_id != y->unit_id)
                return (x->unit_id > y->unit_id) - (x->unit_id < y->unit_id);
        return (x->pid > y->pid) - (x->pid < y->pid);
}

static int cmp_domain(const void *a, const void *b)
{
        const StorePackedDomain *x = a, *y = b;
        return (x->domain_id > y->domain_id) - (x->domain_id < y->domain_id);
}

/* A scratch buffer of the store's, grown as needed (store_close frees them). */
static void *scratch(Store *s, StoreScratch k, size_t bytes)
{
        if (array_grow(&s->scratch[k].p, &s->scratch[k].cap, bytes, 1) < 0)
                return NULL;
        return s->scratch[k].p;
}

void store_set_pack_procs(Store *s, bool pack)
{
        s->pack_procs = pack;
}

int store_tick_pack(Store *s, int64_t tick, const StoreTick *t, bool *ret_procs)
{
        *ret_procs = false;
        size_t nu = t->n_units, nr = t->n_requests, nd = t->n_domains,
               np = s->pack_procs ? t->n_procs : 0;
        if (nu == 0)
                return 0;
        StoreUnitValue *u = scratch(s, STORE_SCRATCH_UNITS, nu * sizeof(*u));
        StoreRequestValue *q = scratch(s, STORE_SCRATCH_REQUESTS, (nr ? nr : 1) * sizeof(*q));
        StorePackedDomain *d = scratch(s, STORE_SCRATCH_DOMAINS, (nd ? nd : 1) * sizeof(*d));
        StoreProcValue *pv = scratch(s, STORE_SCRATCH_PROCS, (np ? np : 1) * sizeof(*pv));
        if (!u || !q || !d || !pv)
                return store_failf(s, -ENOMEM, "out of memory packing a tick");
        memcpy(u, t->units, nu * sizeof(*u));
        qsort(u, nu, sizeof(*u), cmp_unit);
        /* what packed_sums_add takes back: ids it indexes arrays by, each once, and values
         * within int64, as the plain rows' INTEGER columns hold them */
        for (size_t k = 0; k < nu; k++)
                if (u[k].unit_id > PACKED_ID_MAX || (k > 0 && u[k].unit_id == u[k - 1].unit_id) ||
                    u[k].active_uj > INT64_MAX || u[k].idle_uj > INT64_MAX ||
                    u[k].cpu_ns > INT64_MAX)
                        return 0;
        if (!store_pack_units_fit(u, nu))
                return 0;
        if (nr)
                memcpy(q, t->requests, nr * sizeof(*q));
        qsort(q, nr, sizeof(*q), cmp_request);
        for (size_t k = 0; k < nr; k++)
                if (!isfinite(q[k].count) || q[k].count < 0 || q[k].unit_id < 0 ||
                    q[k].metric_id < 0 || /* as store_unpack_requests takes them */
                    (k > 0 && cmp_request(&q[k - 1], &q[k]) == 0))
                        return 0;
        for (size_t k = 0; k < nd; k++) {
                const StoreDomainValue *v = &t->domains[k];
                if (v->domain_id < 0 || v->domain_id > PACKED_ID_MAX)
                        return 0;
                const char *reason = v->valid ? NULL : v->drop_reason ? v->drop_reason : "baseline";
                d[k] = (StorePackedDomain){
                        .domain_id = v->domain_id,
                        .has_energy = v->valid,
                        .energy_uj = (int64_t)v->energy_uj,
                        .reason = reason,
                        .reason_len = reason ? strlen(reason) : 0,
                };
        }
        qsort(d, nd, sizeof(*d), cmp_domain);
        if (np)
                memcpy(pv, t->procs, np * sizeof(*pv));
        qsort(pv, np, sizeof(*pv), cmp_proc);

        size_t ub = store_pack_bound(nu), rb = nr ? store_pack_requests_bound(nr) : 0,
               db = nd ? store_pack_domains_bound(d, nd) : 0,
               pb = np ? store_pack_procs_bound(pv, np) : 0;
        uint8_t *buf = scratch(s, STORE_SCRATCH_BLOB, ub + rb + db + pb);
        if (!buf)
                return store_failf(s, -ENOMEM, "out of memory packing a tick");
        size_t ul = store_pack_units(u, nu, buf);
        size_t rl = nr ? store_pack_requests(q, nr, buf + ub) : 0;
        size_t dl = nd ? store_pack_domains(d, nd, buf + ub + rb) : 0;
        size_t pl = np ? store_pack_procs(pv, np, buf + ub + rb + db) : 0;
        if ((nd && dl == 0) || (np && pl == 0))
                return 0; /* what the formats cannot hold: plain rows */

        sqlite3_stmt *ins = NULL;
        int r = store_cached_for(s,
                                 "INSERT INTO tick_units (tick_id, data, requests, domains, "
                                 "procs) VALUES (?1, ?2, ?3, ?4, ?5)",
                                 "writing tick_units", &ins);
        if (r < 0)
                return r;
        sqlite3_bind_int64(ins, 1, tick);
        sqlite3_bind_blob(ins, 2, buf, (int)ul, SQLITE_STATIC);
        if (nr)
                sqlite3_bind_blob(ins, 3, buf + ub, (int)rl, SQLITE_STATIC);
        if (nd)
                sqlite3_bind_blob(ins, 4, buf + ub + rb, (int)dl, SQLITE_STATIC);
        if (pl)
                sqlite3_bind_blob(ins, 5, buf + ub + rb + db, (int)pl, SQLITE_STATIC);
        int rc = sqlite3_step(ins);
        store_release(ins);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, "writing tick_units");
        *ret_procs = s->pack_procs;
        return 1;
}

/* ---- adding up ---- */

void packed_sums_clear(PackedSums *p)
{
        for (size_t k = 0; k < p->n_units; k++)
                p->units[k] = (PackedUnitSum){0};
        for (size_t k = 0; k < p->n_domains; k++)
                p->domains[k] = (PackedDomainSum){0};
        p->n_requests = 0;
        p->any = false;
}

void packed_sums_free(PackedSums *p)
{
        free(p->units);
        free(p->domains);
        free(p->requests);
        free(p->unit_buf);
        free(p->request_buf);
        free(p->domain_buf);
        *p = (PackedSums){0};
}

/* The sums of id in an array indexed by id, grown (zeroed) as needed: -ERANGE for an id below 0
 * or past PACKED_ID_MAX, -ENOMEM. */
static int sums_at(void **v, size_t *n, size_t elem, int64_t id, void **ret)
{
        if (id < 0 || id > PACKED_ID_MAX)
                return -ERANGE;
        if ((size_t)id >= *n) {
                size_t nn = (size_t)id + 64;
                char *nv = realloc(*v, nn * elem);
                if (!nv)
                        return -ENOMEM;
                memset(nv + *n * elem, 0, (nn - *n) * elem);
                *v = nv;
                *n = nn;
        }
        *ret = (char *)*v + (size_t)id * elem;
        return 0;
}

static bool add_u64(int64_t *sum, uint64_t v)
{
        return v <= INT64_MAX && !__builtin_add_overflow(*sum, (int64_t)v, sum);
}

int packed_sums_add_unit(PackedSums *p, const StoreUnitValue *v, bool estimated)
{
        PackedUnitSum *u;
        int r = sums_at((void **)&p->units, &p->n_units, sizeof(*u), v->unit_id, (void **)&u);
        if (r < 0)
                return r;
        PackedUnitSum n = *u; /* all three or none */
        if (!add_u64(&n.active_uj, v->active_uj) || !add_u64(&n.idle_uj, v->idle_uj) ||
            !add_u64(&n.cpu_ns, v->cpu_ns))
                return -EOVERFLOW;
        *u = n;
        u->estimated |= estimated;
        u->seen = true;
        p->any = true;
        return 0;
}

static int packed_sums_fail(Store *s, int64_t tick, const char *what, int r)
{
        if (r == -ENOMEM)
                return store_failf(s, r, "out of memory adding up packed ticks");
        if (r == -EOVERFLOW) /* as SQLite's SUM fails on plain rows */
                return store_failf(s, r, "tick %lld: adding up its packed %s: integer overflow",
                                   (long long)tick, what);
        return store_failf(s, -EBADMSG, "tick %lld: %s packed %s", (long long)tick,
                           r == -ERANGE ? "out-of-range values in its" : "malformed", what);
}

int packed_sums_add(Store *s, PackedSums *p, int64_t tick, const PackedTickBlobs *b)
{
        /* Everything decoded and every id checked before anything is added: a tick that does
         * not decode is left out whole. */
        size_t nu, nr = 0, nd = 0;
        if (store_unpack_units(b->units, b->units_len, &p->unit_buf, &p->cap_unit_buf, &nu) < 0)
                return packed_sums_fail(s, tick, "units", -EBADMSG);
        if (b->requests && store_unpack_requests(b->requests, b->requests_len, &p->request_buf,
                                                 &p->cap_request_buf, &nr) < 0)
                return packed_sums_fail(s, tick, "requests", -EBADMSG);
        if (b->domains && store_unpack_domains(b->domains, b->domains_len, &p->domain_buf,
                                               &p->cap_domain_buf, &nd) < 0)
                return packed_sums_fail(s, tick, "domains", -EBADMSG);
        PackedUnitSum *u = NULL;
        PackedDomainSum *d = NULL;
        for (size_t k = 0; k < nu; k++) {
                int r = sums_at((void **)&p->units, &p->n_units, sizeof(*u), p->unit_buf[k].unit_id,
                                (void **)&u);
                if (r < 0)
                        return packed_sums_fail(s, tick, "units", r);
        }
        for (size_t k = 0; k < nd; k++) {
                int r = sums_at((void **)&p->domains, &p->n_domains, sizeof(*d),
                                p->domain_buf[k].domain_id, (void **)&d);
                if (r < 0)
                        return packed_sums_fail(s, tick, "domains", r);
        }
        if (array_grow((void **)&p->requests, &p->cap_requests, p->n_requests + nr,
                       sizeof(*p->requests)) < 0)
                return packed_sums_fail(s, tick, "requests", -ENOMEM);

        for (size_t k = 0; k < nu; k++) {
                int r = packed_sums_add_unit(p, &p->unit_buf[k], b->estimated);
                if (r < 0)
                        return packed_sums_fail(s, tick, "units", r);
        }
        if (nr > 0) /* both buffers may still be NULL when there is none */
                memcpy(p->requests + p->n_requests, p->request_buf, nr * sizeof(*p->requests));
        p->n_requests += nr;
        for (size_t k = 0; k < nd; k++) {
                const StorePackedDomain *v = &p->domain_buf[k];
                d = &p->domains[v->domain_id];
                /* as SQL has it: energy_uj IS NULL AND drop_reason IS NOT 'baseline' */
                bool dropped = !v->has_energy && !(v->reason && v->reason_len == 8 &&
                                                   memcmp(v->reason, "baseline", 8) == 0);
                if (v->has_energy &&
                    (__builtin_add_overflow(d->energy_uj, v->energy_uj, &d->energy_uj) ||
                     !add_u64(&d->valid_us, b->dt_us)))
                        return packed_sums_fail(s, tick, "domains", -EOVERFLOW);
                d->dropped += dropped;
                d->seen = true;
        }
        p->any = true;
        return 0;
}

/* The requests in (unit, metric) order, each pair's counts added into its first entry; returns
 * how many pairs. */
size_t packed_sums_requests(PackedSums *p)
{
        if (p->n_requests == 0)
                return 0; /* requests may be NULL */
        qsort(p->requests, p->n_requests, sizeof(*p->requests), cmp_request);
        size_t n = 0;
        for (size_t k = 0; k < p->n_requests; k++) {
                if (n > 0 && cmp_request(&p->requests[n - 1], &p->requests[k]) == 0)
                        p->requests[n - 1].count += p->requests[k].count;
                else
                        p->requests[n++] = p->requests[k];
        }
        p->n_requests = n;
        return n;
}

int packed_sums_write(Store *s, PackedSums *p, int64_t bucket, const char *const sql[3])
{
        sqlite3_stmt *q = NULL;
        int rc, r = 0;
        size_t n[3] = {p->n_units, p->n_domains, packed_sums_requests(p)};
        static const char *const what[] = {"adding up packed units", "adding up packed domains",
                                           "adding up packed requests"};
        for (int kind = 0; kind < 3 && r >= 0 && p->any; kind++) {
                if (n[kind] > 0)
                        r = store_cached(s, sql[kind], &q);
                for (size_t k = 0; r >= 0 && k < n[kind]; k++) {
                        /* a parameter the statement does not have is refused (SQLITE_RANGE) and
                         * ignored: each statement takes the ones it needs */
                        sqlite3_bind_int64(q, 1, bucket);
                        if (kind == 0) {
                                const PackedUnitSum *u = &p->units[k];
                                if (!u->seen)
                                        continue;
                                sqlite3_bind_int64(q, 2, (int64_t)k);
                                sqlite3_bind_int64(q, 3, u->active_uj);
                                sqlite3_bind_int64(q, 4, u->idle_uj);
                                sqlite3_bind_int64(q, 5, u->cpu_ns);
                                sqlite3_bind_int(q, 6, u->estimated);
                        } else if (kind == 1) {
                                const PackedDomainSum *d = &p->domains[k];
                                if (!d->seen)
                                        continue;
                                sqlite3_bind_int64(q, 2, (int64_t)k);
                                sqlite3_bind_int64(q, 3, d->energy_uj);
                                sqlite3_bind_int64(q, 4, d->valid_us);
                                sqlite3_bind_int64(q, 5, d->dropped);
                        } else {
                                sqlite3_bind_int64(q, 2, p->requests[k].unit_id);
                                sqlite3_bind_int64(q, 3, p->requests[k].metric_id);
                                sqlite3_bind_double(q, 4, p->requests[k].count);
                        }
                        rc = sqlite3_step(q);
                        sqlite3_reset(q);
                        if (rc != SQLITE_DONE)
                                r = store_fail(s, rc, what[kind]);
                }
                store_release(q);
                q = NULL;
        }
        packed_sums_clear(p);
        return r;
}

int packed_sums_each_tick(Store *s, const char *where, int64_t a, int64_t b,
                          int (*fn)(Store *, void *, int64_t tick, int64_t ts_us,
                                    const PackedTickBlobs *),
                          void *userdata)
{
        char sql[512];
        int n = snprintf(sql, sizeof(sql),
                         "SELECT t.id, t.ts_us, t.dt_us, t.estimated, p.data, p.requests, "
                         "p.domains FROM ticks t JOIN tick_units p ON p.tick_id = t.id WHERE %s "
                         "ORDER BY t.ts_us, t.id",
                         where);
        if (n < 0 || (size_t)n >= sizeof(sql))
                return -ENAMETOOLONG;
        sqlite3_stmt *q = NULL;
        int rc, r = store_cached(s, sql, &q);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, a);
        sqlite3_bind_int64(q, 2, b);
        while (r >= 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                PackedTickBlobs blobs = {
                        .dt_us = (uint64_t)sqlite3_column_int64(q, 2),
                        .estimated = sqlite3_column_int(q, 3) != 0,
                        .units = sqlite3_column_blob(q, 4),
                        .units_len = (size_t)sqlite3_column_bytes(q, 4),
                        .requests = sqlite3_column_blob(q, 5),
                        .requests_len = (size_t)sqlite3_column_bytes(q, 5),
                        .domains = sqlite3_column_blob(q, 6),
                        .domains_len = (size_t)sqlite3_column_bytes(q, 6),
                };
                r = fn(s, userdata, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1), &blobs);
                /* A BLOB that does not decode (a damaged file; joulesd writes none) is left out,
                 * said, rather than stopping every rollup, flush and commit after it: the tick's
                 * row stays, and a query that reads it fails naming it (store-unpack.c). */
                if (r == -EBADMSG) {
                        log_warning("storage: %s; its values are left out of the sums", s->error);
                        r = 0;
                }
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_fail(s, rc, "reading packed ticks");
        store_release(q);
        return r;
}

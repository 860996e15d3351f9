/* A record of the tick journal (storage/store-journal.c), as joulesd reads it back at start and
 * joules-exporter while joulesd appends: bytes from a file a crash, a full disk or another build
 * left. store_pending_link must refuse what does not fit (-EBADMSG), never point outside the
 * block, and a block it accepts must be one store_pending_copy could have written: copying the
 * tick it describes gives a block of the same size and the same values. */

#include "fuzz/fuzz.h"

#include <errno.h>

#include "storage/store-internal.h"

/* Every pointer of a linked block lies inside it, and every string ends inside it. */
static void check_inside(const PendingTick *p, size_t size)
{
        const char *lo = (const char *)p, *hi = lo + size;
        const StoreTick *t = &p->t;
#define INSIDE(ptr, len) FUZZ_CHECK((const char *)(ptr) >= lo && (const char *)(ptr) + (len) <= hi)
        INSIDE(t->domains, t->n_domains * sizeof(*t->domains));
        INSIDE(t->units, t->n_units * sizeof(*t->units));
        INSIDE(t->procs, t->n_procs * sizeof(*t->procs));
        INSIDE(t->counters, t->n_counters * sizeof(*t->counters));
        INSIDE(t->proc_counters, t->n_proc_counters * sizeof(*t->proc_counters));
        INSIDE(t->requests, t->n_requests * sizeof(*t->requests));
        for (size_t i = 0; i < t->n_domains; i++)
                if (t->domains[i].drop_reason)
                        INSIDE(t->domains[i].drop_reason, strlen(t->domains[i].drop_reason) + 1);
        for (size_t i = 0; i < t->n_procs; i++)
                INSIDE(t->procs[i].comm, strlen(t->procs[i].comm) + 1);
        if (t->ingest)
                FUZZ_CHECK(t->ingest == &p->ingest);
#undef INSIDE
}

#define SAME(a, b, n) FUZZ_CHECK((n) == 0 || memcmp((a), (b), (n) * sizeof(*(a))) == 0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t n = size / 8 * 8;
        PendingTick *p = malloc(n ? n : 8);
        if (!p)
                abort();
        if (n)
                memcpy(p, data, n);
        int r = store_pending_link(p, n);
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r == 0) {
                check_inside(p, n);
                Store st = {.run_id = p->run_id, .run_started_us = p->run_started_us};
                PendingTick *q = store_pending_copy(&st, &p->t);
                if (!q)
                        abort();
                FUZZ_CHECK(q->bytes == n && q->run_id == p->run_id);
                const StoreTick *a = &p->t, *b = &q->t;
                FUZZ_CHECK(a->ts_us == b->ts_us && a->n_units == b->n_units &&
                           a->n_procs == b->n_procs && a->n_domains == b->n_domains);
                SAME(a->units, b->units, a->n_units);
                SAME(a->counters, b->counters, a->n_counters);
                SAME(a->proc_counters, b->proc_counters, a->n_proc_counters);
                SAME(a->requests, b->requests, a->n_requests);
                for (size_t i = 0; i < a->n_procs; i++)
                        FUZZ_CHECK(strcmp(a->procs[i].comm, b->procs[i].comm) == 0 &&
                                   a->procs[i].pid == b->procs[i].pid &&
                                   a->procs[i].cpu_ns == b->procs[i].cpu_ns);
                for (size_t i = 0; i < a->n_domains; i++)
                        FUZZ_CHECK(!a->domains[i].drop_reason == !b->domains[i].drop_reason &&
                                   (!a->domains[i].drop_reason ||
                                    strcmp(a->domains[i].drop_reason, b->domains[i].drop_reason) ==
                                            0));
                free(q);
        }
        free(p);
        return 0;
}

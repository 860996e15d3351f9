#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "exporter/expose.h"

/* One scrape: reads the history (a read-only handle kept open between scrapes, reopened when it
 * fails or the file was replaced), the carbon settings it holds and the exporter's own figures,
 * and renders the page. The HTTP side (exporter/main.c) calls it from one thread. */

typedef struct Exporter Exporter;

int exporter_new(const char *db_path, unsigned top_processes, Exporter **ret)
        __attribute__((warn_unused_result));
Exporter *exporter_free(Exporter *e);

/* Renders /metrics into *page (the caller frees it with expo_buf_free); ret_status is 200, or
 * 503 when the history could not be read (the page then says joules_history_up 0).
 * -ENOMEM when the page could not be built. */
int exporter_scrape(Exporter *e, ExpoFormat f, ExpoBuf *page, unsigned *ret_status)
        __attribute__((warn_unused_result));

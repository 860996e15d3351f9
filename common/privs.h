#pragma once

/* Giving up privileges, for the processes that parse what joules did not write: the exporter
 * (HTTP requests) and joulesd's scrape worker (the services' /metrics pages). */

/* Every capability gone: the bounding set (while CAP_SETPCAP may still be held), the ambient
 * set, then effective, permitted and inheritable; no_new_privs so nothing regains any. 0 when
 * the effective and permitted sets are empty afterwards (checked with capget), else -errno. */
int privs_drop_capabilities(void);

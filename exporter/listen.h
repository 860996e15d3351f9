#pragma once

#include <stddef.h>
#include <sys/socket.h>

/* The default listen address: loopback only. 29120 because the Prometheus exporter range
 * 9100-9999 is fully allocated (the Prometheus wiki's "Default port allocations"), and 29120 is
 * neither in that list nor used by node_exporter (9100), the Pushgateway and Alumet (9091),
 * statsd/collectd exporters (9102, 9103), Kepler (28282) or Scaphandre (8080). */
#define EXPORTER_DEFAULT_PORT   29120
#define EXPORTER_DEFAULT_LISTEN "127.0.0.1:29120"

/* "ADDR:PORT" with a literal IPv4 address, or "[ADDR]:PORT" with a literal IPv6 one; port 1 to
 * 65535. -EINVAL with err saying what is wrong. */
int listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, char *err,
                 size_t errlen) __attribute__((warn_unused_result));

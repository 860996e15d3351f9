#include "exporter/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

int listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, char *err,
                 size_t errlen)
{
        char host[INET6_ADDRSTRLEN + 1];
        const char *port;
        bool v6 = s[0] == '[';
        if (v6) {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':') {
                        snprintf(err, errlen, "'%s' is not [IPV6]:PORT, such as [::1]:%d", s,
                                 EXPORTER_DEFAULT_PORT);
                        return -EINVAL;
                }
                size_t n = (size_t)(close - s - 1);
                if (n == 0 || n >= sizeof(host)) {
                        snprintf(err, errlen, "'%s': no IPv6 address between the brackets", s);
                        return -EINVAL;
                }
                memcpy(host, s + 1, n);
                host[n] = '\0';
                port = close + 2;
        } else {
                const char *colon = strrchr(s, ':');
                if (!colon) {
                        snprintf(err, errlen, "'%s' is not ADDR:PORT, such as %s", s,
                                 EXPORTER_DEFAULT_LISTEN);
                        return -EINVAL;
                }
                size_t n = (size_t)(colon - s);
                if (n == 0) {
                        snprintf(err, errlen,
                                 "'%s' has no address: give 127.0.0.1, 0.0.0.0 (every IPv4 "
                                 "address) or [::] explicitly",
                                 s);
                        return -EINVAL;
                }
                if (memchr(s, ':', n)) {
                        snprintf(err, errlen, "'%s': put an IPv6 address in brackets: [ADDR]:PORT",
                                 s);
                        return -EINVAL;
                }
                if (n >= sizeof(host)) {
                        snprintf(err, errlen, "'%s' is not an IPv4 address and port", s);
                        return -EINVAL;
                }
                memcpy(host, s, n);
                host[n] = '\0';
                port = colon + 1;
        }
        uint64_t p;
        if (!*port || port[0] == '+' || port[0] == ' ' || parse_u64(port, &p) < 0 || p == 0 ||
            p > 65535 || strspn(port, "0123456789") != strlen(port)) {
                snprintf(err, errlen, "'%s': the port must be a number from 1 to 65535", s);
                return -EINVAL;
        }
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        if (v6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t)p);
                if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
                        snprintf(err, errlen, "'%s' is not a literal IPv6 address", host);
                        return -EINVAL;
                }
                *ret_len = sizeof(*a);
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t)p);
                if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
                        snprintf(err, errlen,
                                 "'%s' is not a literal IPv4 address (host names are not "
                                 "resolved)",
                                 host);
                        return -EINVAL;
                }
                *ret_len = sizeof(*a);
        }
        *ret = ss;
        return 0;
}

/* joules-exporter: serves the history's running totals to Prometheus. See joules-exporter(8).
 *
 * Privilege separation: joulesd holds the capabilities and parses no network input; this
 * process parses HTTP and holds none. It drops every capability at start (also when started
 * as root), sets no_new_privs, and opens the history read-only. */

#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/args.h"
#include "common/log.h"
#include "common/privs.h"
#include "common/text.h"
#include "common/util.h"
#include "exporter/exporter.h"
#include "exporter/expose.h"
#include "exporter/listen.h"

#define DEFAULT_DB         "/var/lib/joules/joules.db"
#define MAX_TOP_PROCESSES  100
#define CONNECTION_LIMIT   64
#define PER_IP_LIMIT       16
#define CONNECTION_TIMEOUT 10 /* s */

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: joules-exporter [OPTIONS]\n"
                "Serves the joules history's running totals (energy per host, domain and unit,\n"
                "CPU time, requests, carbon settings) as Prometheus metrics on /metrics, in the\n"
                "text format 0.0.4 or OpenMetrics 1.0 (by the Accept header). It opens the\n"
                "history read-only and runs without capabilities.\n\n"
                "  --db PATH              history file (default " DEFAULT_DB ")\n"
                "  --listen ADDR:PORT     address to serve on: 127.0.0.1:PORT, 0.0.0.0:PORT,\n"
                "                         [::1]:PORT, [::]:PORT (default " EXPORTER_DEFAULT_LISTEN
                ")\n"
                "  --top-processes N      also serve the N processes with the highest power\n"
                "                         over the last minute (default 0: none; at most %d)\n"
                "  --log-level LEVEL      error, warning, notice, info, debug (default info)\n"
                "  --version, --help\n\n"
                "Exit codes: 0 stopped cleanly, 1 failed, 2 bad arguments.\n",
                MAX_TOP_PROCESSES);
}

static int parse_level(const char *s)
{
        static const struct {
                const char *name;
                int level;
        } levels[] = {{"error", LOG_ERR},
                      {"warning", LOG_WARNING},
                      {"notice", LOG_NOTICE},
                      {"info", LOG_INFO},
                      {"debug", LOG_DEBUG}};
        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (strcmp(s, levels[i].name) == 0)
                        return levels[i].level;
        return -EINVAL;
}

static const char index_page[] =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>joules-exporter</title>"
        "</head>\n<body><h1>joules-exporter</h1>\n<p>Energy, CPU time and requests per host, "
        "domain and systemd unit, from the joules history: <a href=\"/metrics\">/metrics</a>.</p>"
        "\n<p>See joules-exporter(8).</p></body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
        if (!r) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(body);
                return MHD_NO;
        }
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                (void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
        return reply(c, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
                     MHD_RESPMEM_PERSISTENT);
}

/* One thread (MHD's internal polling thread) calls this, so the Exporter needs no lock. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
        Exporter *e = cls;
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        if (strcmp(url, "/") == 0)
                return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (char *)index_page,
                             sizeof(index_page) - 1, MHD_RESPMEM_PERSISTENT);
        if (strcmp(url, "/metrics") != 0)
                return reply_text(c, MHD_HTTP_NOT_FOUND,
                                  "not found: the metrics are on /metrics\n");
        ExpoFormat f = expo_negotiate(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"));
        ExpoBuf page = {0};
        unsigned status;
        if (exporter_scrape(e, f, &page, &status) < 0) {
                expo_buf_free(&page);
                return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        }
        /* MHD frees the page with free() once sent */
        return reply(c, status, expo_content_type(f), page.data, page.len, MHD_RESPMEM_MUST_FREE);
}

/* libmicrohttpd's own messages; its format strings are its own (MHD_OPTION_EXTERNAL_LOGGER). */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        size_t n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = '\0';
        log_debug("http: %s", buf);
}

enum {
        ARG_DB = 0x100,
        ARG_LISTEN,
        ARG_TOP,
        ARG_LOG_LEVEL,
        ARG_VERSION,
        ARG_HELP,
};

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"db", required_argument, NULL, ARG_DB},
                {"listen", required_argument, NULL, ARG_LISTEN},
                {"top-processes", required_argument, NULL, ARG_TOP},
                {"log-level", required_argument, NULL, ARG_LOG_LEVEL},
                {"version", no_argument, NULL, ARG_VERSION},
                {"help", no_argument, NULL, ARG_HELP},
                {0},
        };
        const char *db = DEFAULT_DB, *listen = EXPORTER_DEFAULT_LISTEN;
        uint64_t top = 0;
        int level = LOG_INFO, c;
        char err[256];
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                switch (c) {
                case ARG_DB:
                        if (!*optarg) {
                                fprintf(stderr, "joules-exporter: --db: the path is empty\n");
                                return 2;
                        }
                        db = optarg;
                        break;
                case ARG_LISTEN:
                        listen = optarg;
                        break;
                case ARG_TOP:
                        if (parse_u64(optarg, &top) < 0 || top > MAX_TOP_PROCESSES) {
                                fprintf(stderr,
                                        "joules-exporter: --top-processes: '%s' is not a number "
                                        "from 0 to %d\n",
                                        TEXT_SAFE(optarg), MAX_TOP_PROCESSES);
                                return 2;
                        }
                        break;
                case ARG_LOG_LEVEL:
                        level = parse_level(optarg);
                        if (level < 0) {
                                fprintf(stderr,
                                        "joules-exporter: --log-level: '%s' is not one of error, "
                                        "warning, notice, info, debug\n",
                                        TEXT_SAFE(optarg));
                                return 2;
                        }
                        break;
                case ARG_VERSION:
                        printf("joules-exporter %s\n", JOULES_VERSION);
                        return 0;
                case ARG_HELP:
                        usage(stdout);
                        return 0;
                default: /* args_getopt said which */
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "joules-exporter: unexpected argument '%s' (see --help)\n",
                        TEXT_SAFE(argv[optind]));
                return 2;
        }
        struct sockaddr_storage addr;
        socklen_t addr_len;
        if (listen_parse(listen, &addr, &addr_len, err, sizeof(err)) < 0) {
                fprintf(stderr, "joules-exporter: --listen: %s\n", TEXT_SAFE(err));
                return 2;
        }
        log_setup(level, "joules-exporter");

        int r = privs_drop_capabilities();
        if (r < 0) {
                log_error("cannot drop capabilities: %s", strerror(-r));
                return 1;
        }
        if (geteuid() == 0)
                log_warning("running as root (without capabilities): run it as an unprivileged "
                            "user in group joules, as joules-exporter.service does");

        /* SIGTERM and SIGINT are taken by sigwait below; MHD's thread inherits the mask. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);
        signal(SIGPIPE, SIG_IGN);

        Exporter *e;
        if (exporter_new(db, (unsigned)top, &e) < 0) {
                log_error("out of memory");
                return 1;
        }
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        if (addr.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        struct MHD_Daemon *d = MHD_start_daemon(
                flags, 0, NULL, NULL, handle, e, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP_LIMIT,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_EXTERNAL_LOGGER,
                mhd_log, NULL, MHD_OPTION_END);
        if (!d) {
                log_error("cannot listen on %s: %s (in use, or not an address of this host?)",
                          listen, errno ? strerror(errno) : "libmicrohttpd failed");
                exporter_free(e);
                return 1;
        }
        (void)addr_len;
        log_info("serving %s on http://%s/metrics", db, listen);
        (void)sd_notify(0, "READY=1\nSTATUS=serving /metrics");

        int sig = 0;
        while (sigwait(&stop, &sig) == 0 && sig == SIGHUP)
                ; /* nothing to reload: the settings come from the history at each scrape */
        (void)sd_notify(0, "STOPPING=1");
        log_info("received %s, stopping", strsignal(sig));
        MHD_stop_daemon(d);
        exporter_free(e);
        return 0;
}

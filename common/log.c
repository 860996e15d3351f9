#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "common/text.h"

static int log_max_level = LOG_INFO;
static const char *log_ident = "joules";
static int log_to_journal = -1;

/* systemd sets JOURNAL_STREAM=DEV:INODE when stderr is a journal stream. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        if (!e)
                return false;
        unsigned long long dev, ino;
        if (sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        struct stat st;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_setup(int max_level, const char *ident)
{
        log_max_level = max_level;
        if (ident)
                log_ident = ident;
        log_to_journal = stderr_is_journal();
}

int log_get_max_level(void)
{
        return log_max_level;
}

static const char *level_name(int level)
{
        switch (level) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
        case LOG_ERR:
                return "error";
        case LOG_WARNING:
                return "warning";
        case LOG_NOTICE:
        case LOG_INFO:
                return "info";
        default:
                return "debug";
        }
}

void log_fields(int level, const LogField *fields, const char *fmt, ...)
{
        if (level > log_max_level)
                return;
        int saved_errno = errno;
        char raw[2048], msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof(raw), fmt, ap);
        va_end(ap);
        /* Messages carry names from the system (units, processes, config values): every line,
         * on a terminal or in the journal, shows them in the people form. */
        text_terminal(raw, msg, sizeof(msg));

        if (log_to_journal < 0)
                log_to_journal = stderr_is_journal();
        if (log_to_journal) {
                enum { MAX_FIELDS = 16 };
                char message[sizeof(msg) + 16];
                char bufs[MAX_FIELDS + 3][512];
                struct iovec iov[MAX_FIELDS + 3];
                size_t n = 1;
                snprintf(message, sizeof(message), "MESSAGE=%s", msg);
                snprintf(bufs[n], sizeof(bufs[n]), "PRIORITY=%d", level);
                n++;
                snprintf(bufs[n], sizeof(bufs[n]), "SYSLOG_IDENTIFIER=%s", log_ident);
                n++;
                for (size_t i = 0; fields && fields[i].key && i < MAX_FIELDS; i++, n++) {
                        int k = snprintf(bufs[n], sizeof(bufs[n]), "%s=", fields[i].key);
                        if (k > 0 && (size_t)k < sizeof(bufs[n]))
                                text_terminal(fields[i].value, bufs[n] + k,
                                              sizeof(bufs[n]) - (size_t)k);
                }
                iov[0] = (struct iovec){.iov_base = message, .iov_len = strlen(message)};
                for (size_t i = 1; i < n; i++)
                        iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = strlen(bufs[i])};
                if (sd_journal_sendv(iov, (int)n) >= 0) {
                        errno = saved_errno;
                        return;
                }
        }
        fprintf(stderr, "%s: %s: %s\n", log_ident, level_name(level), msg);
        errno = saved_errno;
}

/* engine/rnlog.c: log lines to stderr, one write per line so threads never interleave. */
#include "rnlog.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int rn_log_level_now = RN_LOG_INFO;
static const char *const rn_log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void rn_log_set_level(enum rn_log_level level) { atomic_store(&rn_log_level_now, (int)level); }

int rn_log_level_parse(const char *name) {
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, lower[i]) == 0) return i;
    return -1;
}

int rn_log_enabled(enum rn_log_level level) { return (int)level <= atomic_load(&rn_log_level_now); }

void rn_log_write(enum rn_log_level level, const char *fmt, ...) {
    if (!rn_log_enabled(level)) return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, rn_log_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

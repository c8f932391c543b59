/* engine/rnlog.h: the broker's log lines on stderr: "2026-11-24T02:39:37.123Z WARN message".
 * One global level, set once at start; safe from any thread (one write(2) per line). */
#ifndef RN_RNLOG_H
#define RN_RNLOG_H

enum rn_log_level { RN_LOG_ERROR = 0, RN_LOG_WARN = 1, RN_LOG_INFO = 2, RN_LOG_DEBUG = 3 };

void rn_log_set_level(enum rn_log_level level);
/* Parse "error", "warn", "info", "debug"; -1 if none of them. */
int rn_log_level_parse(const char *name);
int rn_log_enabled(enum rn_log_level level);
void rn_log_write(enum rn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define rn_log_error(...) rn_log_write(RN_LOG_ERROR, __VA_ARGS__)
#define rn_log_warn(...) rn_log_write(RN_LOG_WARN, __VA_ARGS__)
#define rn_log_info(...) rn_log_write(RN_LOG_INFO, __VA_ARGS__)
#define rn_log_debug(...)                                                                 \
    do {                                                                                  \
        if (rn_log_enabled(RN_LOG_DEBUG)) rn_log_write(RN_LOG_DEBUG, __VA_ARGS__);        \
    } while (0)

#endif

/* L0 console log: levels, a per-CPU prefix, one lock so SMP lines don't interleave. */
#ifndef NESTOR_LOG_H
#define NESTOR_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_init(void);
void log_set_level(enum log_level level);
void klog(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Raw line without prefix (result lines the harness matches, dumps). */
void kprint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_err(...)   klog(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  klog(LOG_WARN, __VA_ARGS__)
#define log_info(...)  klog(LOG_INFO, __VA_ARGS__)
#define log_debug(...) klog(LOG_DEBUG, __VA_ARGS__)

/* Ends the run: on the emulators through their exit devices (see run_end.c),
 * on hardware by halting every CPU.  Never returns. */
enum run_status { RUN_PASS = 0, RUN_FAIL = 1 };
void run_end(enum run_status status) __attribute__((noreturn));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif

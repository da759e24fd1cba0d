/*
 * The L0 log.  Every line goes out whole under one lock, prefixed with the
 * CPU and the level, so lines from several CPUs never interleave.  Lines
 * are formatted with newlib's vsnprintf into a per-call stack buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include "kernel/log.h"
#include "kernel/spinlock.h"
#include "arch/x86/percpu.h"
#include "arch/x86/cpu.h"
#include "drivers/uart16550.h"

static struct spinlock log_lock;
static enum log_level max_level = LOG_INFO;
static int log_ready;

static const char level_tag[4] = { 'E', 'W', 'I', 'D' };

void log_init(void)
{
	uart_init(COM1_PORT);
	log_ready = 1;
}

void log_set_level(enum log_level level) { max_level = level; }

/* Interrupts off while holding the lock: an interrupt handler that logs
 * on the same CPU must not spin on a lock its own CPU holds. */
static void emit(const char *buf, int n)
{
	uint64_t flags = read_rflags();
	cli();
	spin_lock(&log_lock);
	uart_write(COM1_PORT, buf, (unsigned long)n);
	spin_unlock(&log_lock);
	if (flags & (1u << 9))
		sti();
}

void klog(enum log_level level, const char *fmt, ...)
{
	if (level > max_level || !log_ready)
		return;
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "[cpu%u %c] ", this_cpu()->index, level_tag[level]);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	emit(buf, n);
}

void kprint(const char *fmt, ...)
{
	if (!log_ready)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	emit(buf, n);
}

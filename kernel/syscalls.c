/*
 * The system calls newlib expects from its host (built with
 * --disable-newlib-supplied-syscalls, plain names).  There are no files and
 * no processes in L0: stdout/stderr go to the log's UART, the heap is one
 * region given by kmain, and everything else fails politely.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <reent.h>
#include "kernel/log.h"
#include "kernel/spinlock.h"
#include "drivers/uart16550.h"
#include "arch/x86/percpu.h"

static char *heap_cur, *heap_end;

void heap_init(uint64_t base, uint64_t size);
void heap_init(uint64_t base, uint64_t size)
{
	heap_cur = (char *)base;
	heap_end = (char *)(base + size);
}

void *sbrk(ptrdiff_t incr);
void *sbrk(ptrdiff_t incr)
{
	if (!heap_cur || incr > heap_end - heap_cur || incr < -(heap_cur - (char *)0)) {
		errno = ENOMEM;
		return (void *)-1;
	}
	char *old = heap_cur;
	heap_cur += incr;
	return old;
}

int write(int fd, const void *buf, size_t n);
int write(int fd, const void *buf, size_t n)
{
	if (fd != 1 && fd != 2) {
		errno = EBADF;
		return -1;
	}
	uart_write(COM1_PORT, buf, n);
	return (int)n;
}

int read(int fd, void *buf, size_t n);
int read(int fd, void *buf, size_t n) { (void)fd; (void)buf; (void)n; errno = EBADF; return -1; }
int close(int fd);
int close(int fd) { (void)fd; errno = EBADF; return -1; }
int fstat(int fd, struct stat *st);
int fstat(int fd, struct stat *st) { (void)fd; st->st_mode = S_IFCHR; return 0; }
int isatty(int fd);
int isatty(int fd) { return fd <= 2; }
long lseek(int fd, long off, int whence);
long lseek(int fd, long off, int whence) { (void)fd; (void)off; (void)whence; errno = ESPIPE; return -1; }
int kill(int pid, int sig);
int kill(int pid, int sig) { (void)pid; (void)sig; errno = EINVAL; return -1; }
int getpid(void);
int getpid(void) { return 1; }
void _exit(int status);
void _exit(int status)
{
	panic("newlib called _exit(%d) (abort or assert)", status);
}

/* malloc may be called from any CPU.  newlib re-enters the lock (realloc
 * calls malloc with it held), so it is recursive per CPU. */
static struct spinlock malloc_lock;
static volatile int malloc_owner = -1;
static int malloc_depth;
void __malloc_lock(struct _reent *r);
void __malloc_unlock(struct _reent *r);
void __malloc_lock(struct _reent *r)
{
	(void)r;
	int me = (int)this_cpu()->index;
	if (malloc_owner != me) {
		spin_lock(&malloc_lock);
		malloc_owner = me;
	}
	malloc_depth++;
}
void __malloc_unlock(struct _reent *r)
{
	(void)r;
	if (--malloc_depth == 0) {
		malloc_owner = -1;
		spin_unlock(&malloc_lock);
	}
}

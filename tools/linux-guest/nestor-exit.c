/*
 * nestor-exit: end the VM from Linux userspace through the isa-debug-exit
 * port 0xf4, which QEMU (-device isa-debug-exit,iobase=0xf4) and Nestor
 * (kernel/pio.c) both implement: writing v ends the VM with status
 * (v << 1) | 1.  Usage: nestor-exit [v]   (v: 0..255, default 0).
 *
 * Why not poweroff: Nestor's platform is hardware-reduced ACPI without a
 * sleep control register, so Linux's power-off ends in a halt loop, not
 * in the end of the VM.  This program is the project's own, built by the
 * host gcc as a static binary with no C library (the guest's initramfs
 * has only busybox besides it): raw system calls, ioperm, one OUT.
 */
#define SYS_write 1
#define SYS_ioctl 16
#define SYS_ioperm 173
#define SYS_exit 60
#define TCSBRK 0x5409   /* with a non-zero argument: tcdrain() */

static long syscall3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

static void say(const char *s)
{
	long n = 0;
	while (s[n])
		n++;
	syscall3(SYS_write, 2, (long)s, n);
}

void start_c(long *sp) __attribute__((noreturn, used));
void start_c(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	unsigned v = 0;
	if (argc > 1)
		for (const char *p = argv[1]; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (unsigned)(*p - '0');
	if (syscall3(SYS_ioperm, 0xf4, 1, 1) != 0) {
		say("nestor-exit: ioperm(0xf4) failed (not root?)\n");
		syscall3(SYS_exit, 1, 0, 0);
	}
	/* What init echoed may still sit in the console's tty buffer: the
	 * 8250 driver sends it on THRE interrupts.  Wait until it is out
	 * (tcdrain, as glibc does it), or ending the VM loses the last lines. */
	syscall3(SYS_ioctl, 1, TCSBRK, 1);
	syscall3(SYS_ioctl, 2, TCSBRK, 1);
	__asm__ volatile("outb %b0, %w1" : : "a"((unsigned char)v), "Nd"(0xf4));
	say("nestor-exit: port 0xf4 did not end the VM (no isa-debug-exit here)\n");
	syscall3(SYS_exit, 1, 0, 0);
	for (;;)
		;
}

/* The process entry: the stack holds argc, argv[], envp[] (x86-64 psABI). */
__asm__(".text\n.globl _start\n_start:\n"
	"\txor %ebp, %ebp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");

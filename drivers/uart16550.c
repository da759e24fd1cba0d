/*
 * Polled 16550 UART: L0's console.  115200 8N1, FIFOs on, no interrupts:
 * the console must work from an exception handler with everything else
 * broken, so it never waits on anything but the line status register.
 */
#include "drivers/uart16550.h"
#include "arch/x86/cpu.h"

enum { THR = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5, DLL = 0, DLM = 1 };
#define LSR_THRE 0x20 /* transmit holding register empty */

void uart_init(uint16_t port)
{
	outb(port + IER, 0x00);
	outb(port + LCR, 0x80); /* DLAB: program the divisor */
	outb(port + DLL, 1);    /* 115200 baud */
	outb(port + DLM, 0);
	outb(port + LCR, 0x03); /* 8 data bits, no parity, 1 stop bit */
	outb(port + FCR, 0xc7); /* enable and clear FIFOs, 14-byte threshold */
	outb(port + MCR, 0x03); /* DTR, RTS */
}

void uart_putc(uint16_t port, char c)
{
	/* Bounded wait: an absent UART reads 0xff (THRE set) and a stuck one
	 * must not hang L0 forever. */
	for (unsigned spins = 0; spins < 100000; spins++)
		if (inb(port + LSR) & LSR_THRE)
			break;
	outb(port + THR, (uint8_t)c);
}

void uart_write(uint16_t port, const char *s, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc(port, '\r');
		uart_putc(port, s[i]);
	}
}

/* The I/O test guest: port I/O loops, the UART, unassigned ports, PCI
 * configuration with no devices, string I/O. */
#include <string.h>
#include "tests/guests/rt/rt.h"

static uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }

void guest_main(void)
{
	unsigned bad = 0;
	for (unsigned i = 0; i < 1000; i++) {
		outb(0x3ff, (uint8_t)i);                  /* UART scratch register */
		if (inb(0x3ff) != (uint8_t)i)
			bad++;
	}
	rt_check(bad == 0, "io: UART scratch register, 1000 round trips", "%u mismatches", bad);
	CHECK(inb(0x3fd) & 0x20, "io: UART transmitter ready");
	CHECK(inb(0x2f8) == 0xff && inw(0x2f8) == 0xffff && inl(0x2f8) == 0xffffffffu,
	      "io: unassigned port reads all-ones (8/16/32 bits)");
	outl(0xcf8, 0x80000000u);
	CHECK(inl(0xcf8) == 0x80000000u, "io: PCI address register keeps its value");
	CHECK(inl(0xcfc) == 0xffffffffu, "io: PCI config data reads all-ones (no device)");
	static const char line[] = "io: this line went out with REP OUTSB\n";
	const char *p = line;
	uint64_t n = sizeof(line) - 1;
	__asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"(0x3f8) : "memory");
	CHECK(n == 0 && p == line + sizeof(line) - 1, "io: REP OUTSB advanced RSI and RCX");
	uint8_t buf[16];
	memset(buf, 0, sizeof(buf));
	uint8_t *d = buf;
	n = sizeof(buf);
	__asm__ volatile("rep insb" : "+D"(d), "+c"(n) : "d"(0x2f8) : "memory");
	bool all = n == 0;
	for (unsigned i = 0; i < sizeof(buf); i++)
		all &= buf[i] == 0xff;
	CHECK(all, "io: REP INSB from an unassigned port fills all-ones");
}

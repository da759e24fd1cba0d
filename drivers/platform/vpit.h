/*
 * vpit: the i8254 programmable interval timer as guests read it (Intel
 * 82C54 data sheet; the PC's channels 0-2 at ports 0x40-0x42, the
 * control word at 0x43, channel 2's gate and output in port 0x61).
 *
 * Nestor delivers no PIT interrupt (its guests' timers are the LAPIC's),
 * but Linux calibrates against channel 2 (quick_pit_calibrate,
 * pit_calibrate_tsc): it programs mode 0, reads the count back and polls
 * OUT2 in port 0x61.  Answered all-ones, those loops ran to their
 * timeouts — 100,000 port reads, each an exit, per boot.  Here the
 * counters count down from when they were loaded, at 1.193182 MHz of the
 * time the caller gives (PIT ticks, from the TSC), so the loops end as on
 * a PC.  Counter latch commands, the LSB/MSB/both access modes and their
 * flip-flops, mode 0's OUT (high from terminal count until reloaded) and
 * periodic modes 2/3 (the count runs from the reload value down, again
 * and again); no BCD counting, no read-back command (both ignored).
 * Pure: host-tested in tests/unit/test_vpit.c.
 */
#ifndef NESTOR_VPIT_H
#define NESTOR_VPIT_H
#include <stdbool.h>
#include <stdint.h>

#define VPIT_HZ 1193182u

struct vpit_channel {
	uint16_t reload;        /* 0 means 65536 */
	uint8_t mode;           /* 0..5 */
	uint8_t access;         /* 1 LSB, 2 MSB, 3 LSB then MSB */
	bool loaded;            /* a full count was written since the control word */
	bool write_hi, read_hi; /* the flip-flops of access mode 3 */
	bool latched;
	uint16_t latch;
	uint8_t partial_lo;     /* the LSB written, waiting for the MSB */
	uint64_t start;         /* PIT tick the count was loaded at */
};

struct vpit {
	struct vpit_channel ch[3];
	uint8_t port61;         /* bits 3:0 as written (bit 0: channel 2's gate) */
};

void vpit_reset(struct vpit *p);
/* Port access at PIT tick `now`: ports 0x40-0x43 and 0x61, one byte. */
uint8_t vpit_read(struct vpit *p, uint16_t port, uint64_t now);
void vpit_write(struct vpit *p, uint16_t port, uint8_t val, uint64_t now);
#endif

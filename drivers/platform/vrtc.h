/*
 * vrtc: the MC146818 real-time clock and CMOS of a PC (ports 0x70 index,
 * 0x71 data), enough for a guest to read the date.  Linux reads it at
 * boot (mach_get_cmos_time) and waits for "update in progress" (register
 * A bit 7) to clear first; answered all-ones, UIP never cleared and the
 * wait ran to its timeout — 40,000 port reads per boot.  Here UIP is
 * always 0, register B says 24-hour BCD, register D says the time is
 * valid, and the date is an epoch given at reset plus the seconds of
 * guest time since (the caller's clock).  Writes to the clock registers
 * are ignored (the clock is read-only); the other CMOS bytes are kept.
 * Pure: host-tested in tests/unit/test_vrtc.c.
 */
#ifndef NESTOR_VRTC_H
#define NESTOR_VRTC_H
#include <stdint.h>

struct vrtc {
	uint8_t index;
	uint8_t cmos[128];
	uint64_t epoch;          /* Unix seconds at guest second 0 */
};

void vrtc_reset(struct vrtc *r, uint64_t epoch);
/* One byte at port 0x70/0x71; `seconds` of guest time since reset. */
uint8_t vrtc_read(struct vrtc *r, uint16_t port, uint64_t seconds);
void vrtc_write(struct vrtc *r, uint16_t port, uint8_t val);
/* Unix seconds -> date (for the registers; exposed for the tests). */
void vrtc_civil(uint64_t unix_seconds, unsigned *year, unsigned *month, unsigned *day,
		unsigned *hour, unsigned *min, unsigned *sec, unsigned *weekday);
#endif

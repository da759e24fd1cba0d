/* The MC146818 RTC/CMOS as guests read it (vrtc.h). */
#include <string.h>
#include "drivers/platform/vrtc.h"

enum { REG_SEC = 0, REG_MIN = 2, REG_HOUR = 4, REG_WDAY = 6, REG_MDAY = 7, REG_MONTH = 8,
       REG_YEAR = 9, REG_A = 10, REG_B = 11, REG_C = 12, REG_D = 13, REG_CENTURY = 0x32 };

void vrtc_reset(struct vrtc *r, uint64_t epoch)
{
	memset(r, 0, sizeof(*r));
	r->epoch = epoch;
	r->cmos[REG_A] = 0x26;    /* 32.768 kHz time base, 1024 Hz rate; UIP 0 */
	r->cmos[REG_B] = 0x02;    /* 24-hour, BCD, no interrupts */
	r->cmos[REG_D] = 0x80;    /* VRT: the RAM and time are valid */
}

/* Days since 1970-01-01 -> year, month (1-12), day (1-31): the
 * proleptic Gregorian calendar counted in 400-year eras of 146,097 days. */
static void civil_from_days(int64_t z, unsigned *y, unsigned *m, unsigned *d)
{
	z += 719468;                                  /* days since 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);  /* day of the era, 0..146096 */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;            /* March = 0 */
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

void vrtc_civil(uint64_t t, unsigned *year, unsigned *month, unsigned *day, unsigned *hour, unsigned *min,
		unsigned *sec, unsigned *weekday)
{
	uint64_t days = t / 86400, rest = t % 86400;
	civil_from_days((int64_t)days, year, month, day);
	*hour = (unsigned)(rest / 3600);
	*min = (unsigned)(rest / 60 % 60);
	*sec = (unsigned)(rest % 60);
	*weekday = (unsigned)((days + 4) % 7) + 1;    /* 1970-01-01 was a Thursday; Sunday = 1 */
}

static uint8_t bcd(unsigned v) { return (uint8_t)(((v / 10) << 4) | (v % 10)); }

uint8_t vrtc_read(struct vrtc *r, uint16_t port, uint64_t seconds)
{
	if (port != 0x71)
		return 0xff;                           /* the index port is write-only */
	unsigned i = r->index & 0x7f;
	unsigned y, mo, d, h, mi, s, wd;
	if (i <= REG_YEAR || i == REG_CENTURY) {
		vrtc_civil(r->epoch + seconds, &y, &mo, &d, &h, &mi, &s, &wd);
		switch (i) {
		case REG_SEC: return bcd(s);
		case REG_MIN: return bcd(mi);
		case REG_HOUR: return bcd(h);
		case REG_WDAY: return bcd(wd);
		case REG_MDAY: return bcd(d);
		case REG_MONTH: return bcd(mo);
		case REG_YEAR: return bcd(y % 100);
		case REG_CENTURY: return bcd(y / 100);
		default: return 0;                     /* the alarm registers */
		}
	}
	return r->cmos[i];
}

void vrtc_write(struct vrtc *r, uint16_t port, uint8_t val)
{
	if (port == 0x70) {
		r->index = val;                        /* bit 7: NMI mask, kept, unused */
		return;
	}
	unsigned i = r->index & 0x7f;
	if (i <= REG_D || i == REG_CENTURY)
		return;                                /* the clock and its status: read-only */
	r->cmos[i] = val;
}

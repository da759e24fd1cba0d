/* The i8254 as guests read it (vpit.h). */
#include <string.h>
#include "drivers/platform/vpit.h"

void vpit_reset(struct vpit *p)
{
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < 3; i++)
		p->ch[i].access = 3;
}

static uint64_t period(const struct vpit_channel *c)
{
	return c->reload ? c->reload : 65536u;
}

/* The counting element at `now`. */
static uint16_t count_of(const struct vpit_channel *c, uint64_t now)
{
	if (!c->loaded)
		return c->reload;
	uint64_t elapsed = now > c->start ? now - c->start : 0;
	if (c->mode == 2 || c->mode == 3 || c->mode == 6 || c->mode == 7)
		return (uint16_t)(period(c) - elapsed % period(c));   /* reload .. 1, again */
	return (uint16_t)(period(c) - elapsed);                  /* wraps past 0, as the 8254 does */
}

/* OUT of a channel: mode 0 goes high at terminal count and stays so until
 * a new count is written; the periodic modes are approximated as high. */
static bool out_of(const struct vpit_channel *c, uint64_t now)
{
	if (!c->loaded)
		return c->mode != 0;
	if (c->mode == 0)
		return now >= c->start && now - c->start >= period(c);
	return true;
}

uint8_t vpit_read(struct vpit *p, uint16_t port, uint64_t now)
{
	if (port == 0x61) {
		/* bit 4: the DRAM refresh toggle (every 15 us), bit 5: OUT2 */
		uint8_t refresh = (uint8_t)((now / 18) & 1);
		return (uint8_t)((p->port61 & 0x0f) | (refresh << 4) | (out_of(&p->ch[2], now) << 5));
	}
	if (port < 0x40 || port > 0x42)
		return 0xff;                      /* 0x43 is write-only */
	struct vpit_channel *c = &p->ch[port - 0x40];
	uint16_t v = c->latched ? c->latch : count_of(c, now);
	uint8_t b;
	switch (c->access) {
	case 1:
		b = (uint8_t)v;
		c->latched = false;
		break;
	case 2:
		b = (uint8_t)(v >> 8);
		c->latched = false;
		break;
	default:
		b = c->read_hi ? (uint8_t)(v >> 8) : (uint8_t)v;
		if (c->read_hi)
			c->latched = false;       /* both bytes of a latch read: it ends */
		c->read_hi = !c->read_hi;
		break;
	}
	return b;
}

void vpit_write(struct vpit *p, uint16_t port, uint8_t val, uint64_t now)
{
	if (port == 0x61) {
		p->port61 = val & 0x0f;
		return;
	}
	if (port == 0x43) {
		unsigned sel = val >> 6, access = (val >> 4) & 3;
		if (sel == 3)
			return;                       /* read-back: not emulated */
		struct vpit_channel *c = &p->ch[sel];
		if (access == 0) {                    /* counter latch command */
			if (!c->latched) {
				c->latched = true;
				c->latch = count_of(c, now);
				c->read_hi = false;
			}
			return;
		}
		c->access = (uint8_t)access;
		c->mode = (uint8_t)((val >> 1) & 7);
		c->loaded = false;
		c->latched = false;
		c->write_hi = c->read_hi = false;
		return;
	}
	if (port < 0x40 || port > 0x42)
		return;
	struct vpit_channel *c = &p->ch[port - 0x40];
	switch (c->access) {
	case 1:
		c->reload = val;
		break;
	case 2:
		c->reload = (uint16_t)(val << 8);
		break;
	default:
		if (!c->write_hi) {
			c->partial_lo = val;
			c->write_hi = true;
			if (c->mode == 0)
				c->loaded = false;    /* mode 0: writing the LSB stops the count */
			return;
		}
		c->reload = (uint16_t)(c->partial_lo | (val << 8));
		c->write_hi = false;
		break;
	}
	c->loaded = true;
	c->start = now;
}

/*
 * libFuzzer target: the virtual local APIC (drivers/platform/vlapic.c)
 * driven by a random sequence of guest and hypervisor operations.
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_vlapic.c \
 *       drivers/platform/vlapic.c -o build/fuzz/fuzz_vlapic
 *   build/fuzz/fuzz_vlapic tests/fuzz/corpus/vlapic
 *
 * Input layout:
 *   byte 0      configuration: bit 0 BSP, bit 1 x2APIC supported,
 *               bits 3:2 clock pair (tsc_hz, bus_hz) from `clocks`
 *   bytes 1-4   initial APIC ID (u32 LE)
 *   then records of 11 bytes: op (u8), a (u16 LE), b (u64 LE); a short
 *   last record is zero-padded.
 *   op bits 3:0 pick the operation, bits 7:4 advance the TSC by
 *   2^(3*n) - 1 ticks first (0 = no time passes).
 *
 * After every operation the invariants of check_state() must hold: no
 * IRR/ISR bit below 16, the pending vector is -1 or a legal vector above
 * PPR, PPR is consistent with TPR and ISR, a disabled APIC holds nothing,
 * IA32_APIC_BASE never reaches the invalid state, a software-disabled
 * APIC has every LVT masked, the current count never exceeds the initial
 * count, and after vlapic_timer_update(now) the next deadline lies after
 * now.  The callbacks check what the model sends out.  ASan/UBSan catch
 * the rest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/platform/vlapic.h"

#include "tests/fuzz/fuzz_assert.h"

static const struct { uint64_t tsc, bus; } clocks[4] = {
	{ 1000000000, 100000000 },     /* ratio 10 */
	{ 2893000000ull, 25000000 },   /* odd ratio */
	{ 1, 1ull << 48 },             /* bus far faster than the TSC */
	{ 1ull << 48, 1 },             /* extreme the other way */
};

static void cb_ipi(void *ctx, uint32_t dest, uint8_t sh, uint8_t mode, uint8_t vector,
		   bool logical, bool level, bool assert)
{
	(void)ctx; (void)dest; (void)logical; (void)level; (void)assert;
	CHECK(sh < 4);
	CHECK(mode != 3 && mode != 7 && mode < 8);
	if (mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST)
		CHECK(vector >= 16);
}

static void cb_eoi(void *ctx, uint8_t vector)
{
	(void)ctx;
	CHECK(vector >= 16);
}

static const struct vlapic_ops ops = { cb_ipi, cb_eoi };

static int highest(const uint32_t *bm)
{
	for (int i = 7; i >= 0; i--)
		if (bm[i])
			return i * 32 + 31 - __builtin_clz(bm[i]);
	return -1;
}

/* Read a register through whichever interface the current mode has. */
static int read_reg(struct vlapic *v, uint32_t off, uint64_t now, uint32_t *val)
{
	uint64_t q;

	switch (vlapic_mode(v)) {
	case VLAPIC_MODE_XAPIC:
		return vlapic_mmio_read(v, off, 4, now, val);
	case VLAPIC_MODE_X2APIC:
		if (vlapic_msr_read(v, X2APIC_MSR(off), now, &q) != 0)
			return -1;
		*val = (uint32_t)q;
		return 0;
	default:
		return -1;
	}
}

static int write_reg(struct vlapic *v, uint32_t off, uint64_t now, uint32_t val)
{
	switch (vlapic_mode(v)) {
	case VLAPIC_MODE_XAPIC:
		return vlapic_mmio_write(v, off, 4, now, val);
	case VLAPIC_MODE_X2APIC:
		return vlapic_msr_write(v, X2APIC_MSR(off), now, val);
	default:
		return -1;
	}
}

static void check_state(struct vlapic *v, uint64_t now)
{
	enum vlapic_mode m = vlapic_mode(v);
	int p = vlapic_pending(v);
	uint32_t ppr = vlapic_ppr(v), tpr = v->tpr, val, init;
	int isrv = highest(v->isr);

	/* IA32_APIC_BASE: never EN=0/EXTD=1, no reserved low bits. */
	CHECK(!((v->apic_base & APIC_BASE_EXTD) && !(v->apic_base & APIC_BASE_EN)));
	CHECK((v->apic_base & 0x2ff) == 0);
	CHECK(m == VLAPIC_MODE_DISABLED || m == VLAPIC_MODE_XAPIC || m == VLAPIC_MODE_X2APIC);

	/* No illegal vectors anywhere. */
	CHECK((v->irr[0] & 0xffff) == 0);
	CHECK((v->isr[0] & 0xffff) == 0);

	/* Pending: -1 or a legal IRR vector above PPR's class. */
	CHECK(p == -1 || (p >= 16 && p <= 255));
	if (p >= 0) {
		CHECK(v->irr[p / 32] >> (p % 32) & 1);
		CHECK(((uint32_t)p & 0xf0) > (ppr & 0xf0));
		CHECK(p == highest(v->irr));
	}

	/* PPR (SDM 11.8.3.1). */
	CHECK(tpr <= 0xff && ppr <= 0xff);
	CHECK(ppr >= tpr);
	CHECK(ppr == tpr || ppr == ((uint32_t)isrv & 0xf0));
	if (isrv >= 0)
		CHECK((ppr & 0xf0) >= ((uint32_t)isrv & 0xf0));

	CHECK((v->esr & ~0xffu) == 0 && (v->esr_pending & ~0xffu) == 0);

	if (m == VLAPIC_MODE_DISABLED) {
		CHECK(p == -1);
		for (unsigned i = 0; i < 8; i++)
			CHECK((v->irr[i] | v->isr[i] | v->tmr[i]) == 0);
		CHECK(vlapic_timer_deadline(v) == UINT64_MAX);
		CHECK(vlapic_get_tsc_deadline(v) == 0);
		CHECK(!vlapic_match_dest(v, 0xffffffffu, false));
		return;
	}

	/* Software-disabled: every LVT masked. */
	if (!(v->svr & APIC_SVR_ENABLE))
		for (unsigned i = 0; i < VLAPIC_NR_LVT; i++)
			CHECK(v->lvt[i] & APIC_LVT_MASKED);

	/* TSC-deadline mode has no counter. */
	if ((v->lvt[VLAPIC_LVT_TIMER] & APIC_LVT_TIMER_MODE) == APIC_TIMER_TSC_DEADLINE)
		CHECK(v->timer_initial == 0 && v->timer_count == 0);
	CHECK(v->timer_count <= v->timer_initial);

	if (m == VLAPIC_MODE_X2APIC)
		CHECK(v->ldr == ((v->cfg.apic_id >> 4) << 16 | 1u << (v->cfg.apic_id & 15)));

	/* Broadcast reaches every enabled APIC; its own ID matches. */
	CHECK(vlapic_match_dest(v, 0xffffffffu, false));
	CHECK(vlapic_match_dest(v, vlapic_id(v), false));

	/* Current count within [0, initial] (the read brings the timer up to
	 * date first, which is legal at any time). */
	CHECK(read_reg(v, APIC_TMICT, now, &init) == 0);
	CHECK(read_reg(v, APIC_TMCCT, now, &val) == 0);
	CHECK(val <= init);
	CHECK(read_reg(v, APIC_VER, now, &val) == 0 && val == VLAPIC_VERSION);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t rd64(const uint8_t *p)
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vlapic v;
	struct vlapic_config cfg;
	uint64_t now = 0;

	if (size < 5)
		return 0;
	memset(&cfg, 0, sizeof cfg);
	cfg.bsp = data[0] & 1;
	cfg.x2apic = data[0] & 2;
	cfg.tsc_hz = clocks[data[0] >> 2 & 3].tsc;
	cfg.bus_hz = clocks[data[0] >> 2 & 3].bus;
	cfg.apic_id = (uint32_t)rd16(data + 1) | (uint32_t)rd16(data + 3) << 16;
	cfg.phys_addr_bits = 40;
	cfg.ops = &ops;
	vlapic_init(&v, &cfg);
	check_state(&v, now);
	data += 5;
	size -= 5;

	while (size > 0) {
		uint8_t rec[11] = { 0 };
		size_t n = size < sizeof rec ? size : sizeof rec;
		uint8_t op, step;
		uint16_t a;
		uint64_t b, q;
		uint32_t val, off;

		memcpy(rec, data, n);
		data += n;
		size -= n;
		op = rec[0] & 15;
		step = rec[0] >> 4;
		a = rd16(rec + 1);
		b = rd64(rec + 3);

		if (step) {
			uint64_t d = (1ull << (3 * step)) - 1;
			now = d > UINT64_MAX - now ? UINT64_MAX : now + d;
		}
		/* Mostly aligned register slots, sometimes anywhere. */
		off = (a & 0x8000) ? (a & 0xfffu) : (uint32_t)(a & 0x3f) << 4;

		switch (op) {
		case 0: {
			static const unsigned sizes[4] = { 4, 4, 2, 1 };
			int r = vlapic_mmio_read(&v, off, sizes[a >> 12 & 3], now, &val);

			CHECK(r == VLAPIC_OK || r == VLAPIC_IGNORED || r == VLAPIC_NOT_DECODED);
			if (r != VLAPIC_OK)
				CHECK(val == 0);
			if (r == VLAPIC_NOT_DECODED)
				CHECK(vlapic_mode(&v) != VLAPIC_MODE_XAPIC);
			break;
		}
		case 1: {
			static const unsigned sizes[4] = { 4, 4, 2, 8 };

			(void)vlapic_mmio_write(&v, off, sizes[a >> 12 & 3], now, (uint32_t)b);
			break;
		}
		case 2: {
			uint32_t msr = (a & 0x8000) ? 0x700u + (a & 0x3ff) : 0x800u + (a & 0xff);
			int r = vlapic_msr_read(&v, msr, now, &q);

			CHECK(r == 0 || r == -1);
			if (r == 0) {
				CHECK(vlapic_mode(&v) == VLAPIC_MODE_X2APIC);
				if (msr != X2APIC_MSR(APIC_ICR_LO))
					CHECK(q >> 32 == 0);
			}
			break;
		}
		case 3: {
			uint32_t msr = (a & 0x8000) ? 0x700u + (a & 0x3ff) : 0x800u + (a & 0xff);
			int r = vlapic_msr_write(&v, msr, now, b);

			CHECK(r == 0 || r == -1);
			/* A TPR write that succeeded reads back. */
			if (r == 0 && msr == X2APIC_MSR(APIC_TPR)) {
				CHECK(vlapic_msr_read(&v, msr, now, &q) == 0);
				CHECK(q == b);
			}
			break;
		}
		case 4: {
			uint64_t old = v.apic_base, nb;

			if (a & 1)
				nb = b;
			else   /* well-formed values: default base, EN/EXTD/BSP from a */
				nb = APIC_DEFAULT_BASE | (a & 2 ? APIC_BASE_EN : 0) |
				     (a & 4 ? APIC_BASE_EXTD : 0) | (a & 8 ? APIC_BASE_BSP : 0);
			if (vlapic_set_apic_base(&v, nb) == 0)
				CHECK(v.apic_base == nb);
			else
				CHECK(v.apic_base == old);
			break;
		}
		case 5: {
			uint8_t vec = (uint8_t)a;
			bool was_on = vlapic_mode(&v) != VLAPIC_MODE_DISABLED &&
				      (v.svr & APIC_SVR_ENABLE);

			vlapic_accept(&v, vec, a >> 8 & 1);
			if (vec >= 16 && was_on)
				CHECK(v.irr[vec / 32] >> (vec % 32) & 1);
			break;
		}
		case 6: {
			int p = vlapic_pending(&v);
			uint8_t vec = (a & 0x100) && p >= 0 ? (uint8_t)p : (uint8_t)a;
			bool in_irr = v.irr[vec / 32] >> (vec % 32) & 1;

			vlapic_ack(&v, vec);
			if (in_irr) {
				CHECK(!(v.irr[vec / 32] >> (vec % 32) & 1));
				CHECK(v.isr[vec / 32] >> (vec % 32) & 1);
			}
			break;
		}
		case 7:
			vlapic_timer_update(&v, now);
			CHECK(vlapic_timer_deadline(&v) > now || now == UINT64_MAX);
			break;
		case 8:
			vlapic_set_tsc_deadline(&v, now, (a & 1) ? b : now + (b & 0xffff));
			break;
		case 9:
			vlapic_init_reset(&v);
			CHECK(vlapic_pending(&v) == -1);
			break;
		case 10: {
			bool waiting = v.wait_for_sipi;

			CHECK(vlapic_sipi(&v, (uint8_t)a) == waiting);
			CHECK(!v.wait_for_sipi);
			break;
		}
		case 11:
			(void)vlapic_match_dest(&v, (uint32_t)b, a & 1);
			break;
		case 12: {
			int before = highest(v.isr);

			if (write_reg(&v, APIC_EOI, now, 0) == 0 && before >= 0)
				CHECK(!(v.isr[before / 32] >> (before % 32) & 1));
			break;
		}
		case 13:
			if (vlapic_mode(&v) == VLAPIC_MODE_X2APIC) {
				(void)vlapic_msr_write(&v, X2APIC_MSR(APIC_ICR_LO), now, b);
			} else {
				(void)vlapic_mmio_write(&v, APIC_ICR_HI, 4, now, (uint32_t)(b >> 32));
				(void)vlapic_mmio_write(&v, APIC_ICR_LO, 4, now, (uint32_t)b);
			}
			break;
		case 14:
			/* What a guest does to start a timer: enable, LVT, TMICT. */
			(void)write_reg(&v, APIC_SVR, now, 0x1ff);
			(void)write_reg(&v, APIC_TDCR, now, (uint32_t)(b >> 32) & 0xb);
			/* a: vector 7:0, mode 9:8, mask bit 10 */
			(void)write_reg(&v, APIC_LVT_TIMER, now, (uint32_t)(a & 0xff) |
					(uint32_t)(a >> 8 & 3) << 17 | (uint32_t)(a >> 10 & 1) << 16);
			(void)write_reg(&v, APIC_TMICT, now, (uint32_t)b);
			break;
		case 15:
			now = b > UINT64_MAX - now ? UINT64_MAX : now + b;
			break;
		}
		check_state(&v, now);
	}
	return 0;
}

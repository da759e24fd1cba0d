/*
 * exit_reflect: the exit-code table and the decision.  See
 * svm/nested/exit_reflect.h.
 *
 * The intercept vectors are laid out so that most exit codes are "bit n
 * of one word" (APM appendix C): CR/DR codes 00h-3Fh are bits of the CR
 * and DR words, exceptions 40h-5Fh bits of the exception word, 60h-7Fh
 * bits 0-31 of misc1, 80h-9Fh bits 0-31 of misc2, A0h-A6h bits of misc3.
 * The table says so per class, with the special rules in front (the
 * first row that covers a code wins).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "svm/nested/exit_reflect.h"
#include "svm/nested/nsvm_arch.h"

#define BIT(first, last, word, bit0, name) \
	{ first, last, NSVM_RULE_BIT, NSVM_ICPT_##word, bit0, name }
#define ONE(code, word, bit, name) BIT(code, code, word, bit, name)
#define RULE(first, last, rule, word, bit0, name) \
	{ first, last, NSVM_RULE_##rule, NSVM_ICPT_##word, bit0, name }

const struct nsvm_exit_class nsvm_exit_classes[] = {
	BIT(0x000, 0x00f, CR, 0, "CR read"),
	BIT(0x010, 0x01f, CR, 16, "CR write"),
	BIT(0x020, 0x02f, DR, 0, "DR read"),
	BIT(0x030, 0x03f, DR, 16, "DR write"),
	RULE(0x052, 0x052, L0_FIRST, EXC, 18, "#MC (machine check: L0's)"),
	BIT(0x040, 0x05f, EXC, 0, "exception"),
	RULE(0x060, 0x060, L0_FIRST, MISC1, 0, "INTR (physical: L0's)"),
	RULE(0x061, 0x061, L0_FIRST, MISC1, 1, "NMI (physical: L0's)"),
	RULE(0x062, 0x062, L0_FIRST, MISC1, 2, "SMI (physical: L0's)"),
	RULE(0x063, 0x063, L0_FIRST, MISC1, 3, "INIT (physical: L0's)"),
	ONE(0x064, MISC1, 4, "VINTR"),
	ONE(0x065, MISC1, 5, "CR0 selective write"),
	BIT(0x066, 0x069, MISC1, 6, "IDTR/GDTR/LDTR/TR read"),
	BIT(0x06a, 0x06d, MISC1, 10, "IDTR/GDTR/LDTR/TR write"),
	ONE(0x06e, MISC1, 14, "RDTSC"),
	ONE(0x06f, MISC1, 15, "RDPMC"),
	ONE(0x070, MISC1, 16, "PUSHF"),
	ONE(0x071, MISC1, 17, "POPF"),
	ONE(0x072, MISC1, 18, "CPUID"),
	ONE(0x073, MISC1, 19, "RSM"),
	ONE(0x074, MISC1, 20, "IRET"),
	ONE(0x075, MISC1, 21, "INTn"),
	ONE(0x076, MISC1, 22, "INVD"),
	ONE(0x077, MISC1, 23, "PAUSE"),
	ONE(0x078, MISC1, 24, "HLT"),
	ONE(0x079, MISC1, 25, "INVLPG"),
	ONE(0x07a, MISC1, 26, "INVLPGA"),
	RULE(0x07b, 0x07b, IOIO, MISC1, 27, "IOIO (IOPM)"),
	RULE(0x07c, 0x07c, MSR, MISC1, 28, "MSR (MSRPM)"),
	ONE(0x07d, MISC1, 29, "task switch"),
	ONE(0x07e, MISC1, 30, "FERR freeze"),
	ONE(0x07f, MISC1, 31, "SHUTDOWN"),
	ONE(0x080, MISC2, 0, "VMRUN"),
	ONE(0x081, MISC2, 1, "VMMCALL"),
	ONE(0x082, MISC2, 2, "VMLOAD"),
	ONE(0x083, MISC2, 3, "VMSAVE"),
	ONE(0x084, MISC2, 4, "STGI"),
	ONE(0x085, MISC2, 5, "CLGI"),
	ONE(0x086, MISC2, 6, "SKINIT"),
	ONE(0x087, MISC2, 7, "RDTSCP"),
	ONE(0x088, MISC2, 8, "ICEBP"),
	ONE(0x089, MISC2, 9, "WBINVD"),
	ONE(0x08a, MISC2, 10, "MONITOR"),
	ONE(0x08b, MISC2, 11, "MWAIT"),
	ONE(0x08c, MISC2, 12, "MWAIT (conditional)"),
	ONE(0x08d, MISC2, 13, "XSETBV"),
	ONE(0x08e, MISC2, 14, "RDPRU"),
	ONE(0x08f, MISC2, 15, "EFER write trap"),
	BIT(0x090, 0x09f, MISC2, 16, "CR write trap"),
	BIT(0x0a0, 0x0a6, MISC3, 0, "INVLPGB/INVPCID/MCOMMIT/TLBSYNC/BUSLOCK/IDLE_HLT"),
	RULE(0x400, 0x400, NPF, MISC1, 0, "NPF (L0 walks NPT12 first)"),
	RULE(0x401, 0x403, L0_ONLY, MISC1, 0, "AVIC/VMGEXIT (not offered to L1)"),
	RULE(NSVM_EXIT_INVALID, NSVM_EXIT_INVALID, INVALID, MISC1, 0, "VMEXIT_INVALID of vmcb02"),
};
const unsigned nsvm_exit_class_count = sizeof(nsvm_exit_classes) / sizeof(nsvm_exit_classes[0]);

static const struct nsvm_exit_class *class_scan(uint64_t code)
{
	for (unsigned i = 0; i < nsvm_exit_class_count; i++) {
		const struct nsvm_exit_class *c = &nsvm_exit_classes[i];

		if (code >= c->first && code <= c->last)
			return c;
	}
	return NULL;
}

/* Every exit of L2 looks its code up: codes below 100h (all but NPF,
 * AVIC and VMEXIT_INVALID) in O(1), through the index of the first row
 * covering each (+1; 0: none), built from the table on first use.  Two
 * CPUs building it at once write the same bytes; a reader uses it only
 * once a whole build is published. */
static uint8_t class_index[0x100];
static bool class_index_ready;

static void class_index_build(void)
{
	for (unsigned code = 0; code < 0x100; code++) {
		const struct nsvm_exit_class *c = class_scan(code);
		class_index[code] = c ? (uint8_t)(c - nsvm_exit_classes + 1) : 0;
	}
	__atomic_store_n(&class_index_ready, true, __ATOMIC_RELEASE);
}

const struct nsvm_exit_class *nsvm_exit_class_of(uint64_t code)
{
	_Static_assert(sizeof(nsvm_exit_classes) / sizeof(nsvm_exit_classes[0]) < 0xff,
		       "class_index holds a row number in a byte");
	if (code >= 0x100)
		return class_scan(code);
	if (!__atomic_load_n(&class_index_ready, __ATOMIC_ACQUIRE))
		class_index_build();
	unsigned i = class_index[code];
	return i ? &nsvm_exit_classes[i - 1] : NULL;
}

static uint32_t icpt_word(const struct vmcb_control *c, unsigned w)
{
	switch (w) {
	case NSVM_ICPT_CR: return c->intercept_cr;
	case NSVM_ICPT_DR: return c->intercept_dr;
	case NSVM_ICPT_EXC: return c->intercept_exc;
	case NSVM_ICPT_MISC1: return c->intercept_misc1;
	case NSVM_ICPT_MISC2: return c->intercept_misc2;
	default: return c->intercept_misc3;
	}
}

bool nsvm_iopm_intercepts(const struct gmem *l1, uint64_t iopm_base, unsigned port,
			  unsigned size)
{
	uint64_t base = iopm_base & ~0xfffull;
	unsigned first = port & 0xffff, last = first + size - 1;
	uint8_t b[2] = { 0, 0 };
	uint16_t bits;

	if (size == 0)
		return false;
	/* At most 4 bits, in one byte or two neighbours: bit 'first' of the
	 * map is bit (first % 8) of byte first / 8.  'last' is at most
	 * 0xFFFF + 3, whose byte 0x2000 is still inside the 12 KiB map.
	 * Only the bytes holding the access's bits are read. */
	if (gmem_read(l1, base + first / 8, b, last / 8 - first / 8 + 1) != 0)
		return true;    /* unreadable map: count as set */
	bits = (uint16_t)(b[0] | (b[1] << 8));
	for (unsigned bit = first; bit <= last; bit++)
		if ((bits >> (bit - first / 8 * 8)) & 1)
			return true;
	return false;
}

/* The three MSR ranges of the MSRPM (APM table 15-8). */
static const struct { uint32_t first; uint32_t offset; } msr_ranges[] = {
	{ 0x00000000u, 0x000 },
	{ 0xc0000000u, 0x800 },
	{ 0xc0010000u, 0x1000 },
};

/* The bit of msr in an MSRPM (which byte, which bit), or false for an
 * MSR no vector covers. */
static bool msrpm_bit(uint32_t msr, bool write, unsigned *byte_off, unsigned *bit_in_byte)
{
	for (unsigned i = 0; i < sizeof(msr_ranges) / sizeof(msr_ranges[0]); i++) {
		uint32_t n = msr - msr_ranges[i].first;   /* wraps below the range */
		if (n >= 0x2000)
			continue;
		/* two bits per MSR: read (lsb), write (msb) */
		unsigned bit = n * 2 + (write ? 1 : 0);
		*byte_off = msr_ranges[i].offset + bit / 8;
		*bit_in_byte = bit % 8;
		return true;
	}
	return false;
}

bool nsvm_msrpm_map_intercepts(const uint8_t *map, uint32_t msr, bool write)
{
	unsigned off, bit;
	if (!msrpm_bit(msr, write, &off, &bit))
		return true;    /* not covered: always intercepted (15.11) */
	return (map[off] >> bit) & 1;
}

bool nsvm_msrpm_intercepts(const struct gmem *l1, uint64_t msrpm_base, uint32_t msr,
			   bool write)
{
	uint64_t base = msrpm_base & ~0xfffull;

	for (unsigned i = 0; i < sizeof(msr_ranges) / sizeof(msr_ranges[0]); i++) {
		uint32_t n = msr - msr_ranges[i].first;   /* wraps below the range */
		unsigned bit;
		uint8_t byte;

		if (n >= 0x2000)
			continue;
		/* two bits per MSR: read (lsb), write (msb) */
		bit = n * 2 + (write ? 1 : 0);
		if (gmem_read(l1, base + msr_ranges[i].offset + bit / 8, &byte, 1) != 0)
			return true;
		return (byte >> (bit % 8)) & 1;
	}
	return true;    /* "any attempt to read or write an MSR not covered by
			 * the MSRPM will automatically cause an intercept" */
}

static unsigned ioio_size(uint64_t info1)
{
	if (info1 & NSVM_IOIO_SZ32)
		return 4;
	if (info1 & NSVM_IOIO_SZ16)
		return 2;
	return 1;
}

enum nsvm_pending_exit nsvm_pending_exit_when(const struct vmcb_control *c02)
{
	return (c02->event_inj & NSVM_EVT_V) ? NSVM_PENDING_EXIT_AFTER_ENTRY : NSVM_PENDING_EXIT_NOW;
}

/* Does L1 intercept e, whose class (the table row) is c? */
static bool class_intercepted(const struct vmcb_control *c12, const struct gmem *l1,
			      const struct nsvm_exit *e, const struct nsvm_exit_class *c)
{
	if (c == NULL)
		return false;
	switch (c->rule) {
	case NSVM_RULE_BIT:
	case NSVM_RULE_L0_FIRST:
		return (icpt_word(c12, c->word) >> (c->bit0 + (unsigned)(e->code - c->first))) & 1;
	case NSVM_RULE_IOIO:
		return (c12->intercept_misc1 & NSVM_MISC1_IOIO_PROT) &&
		       nsvm_iopm_intercepts(l1, c12->iopm_base_pa, NSVM_IOIO_PORT(e->info1),
					    ioio_size(e->info1));
	case NSVM_RULE_MSR:
		return (c12->intercept_misc1 & NSVM_MISC1_MSR_PROT) &&
		       nsvm_msrpm_intercepts(l1, c12->msrpm_base_pa, e->msr, e->info1 & 1);
	case NSVM_RULE_NPF:
		return c12->np_enable & 1;
	case NSVM_RULE_INVALID:
		return true;
	default:
		return false;
	}
}

bool nsvm_l1_intercepts(const struct vmcb_control *c12, const struct gmem *l1,
			const struct nsvm_exit *e)
{
	return class_intercepted(c12, l1, e, nsvm_exit_class_of(e->code));
}

enum nsvm_exit_owner nsvm_reflect_exit(const struct vmcb_control *c12, const struct gmem *l1,
				       const struct nsvm_exit *e,
				       const struct nsvm_exit_class **cls)
{
	const struct nsvm_exit_class *c = nsvm_exit_class_of(e->code);

	if (cls != NULL)
		*cls = c;
	if (c == NULL)
		return NSVM_TO_L0;
	switch (c->rule) {
	case NSVM_RULE_L0_FIRST:
	case NSVM_RULE_NPF:
	case NSVM_RULE_L0_ONLY:
		return NSVM_TO_L0;
	case NSVM_RULE_INVALID:
		return NSVM_TO_L1;
	default:
		return class_intercepted(c12, l1, e, c) ? NSVM_TO_L1 : NSVM_TO_L0;
	}
}

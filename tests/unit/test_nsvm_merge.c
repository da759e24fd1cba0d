/*
 * Unit tests for svm/nested/vmcb02_merge.c (vmcb12 + vmcb01 -> vmcb02 and
 * back) and svm/nested/vmcb_clean.c (VMCB clean bits).
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nsvm_merge.c svm/nested/vmcb02_merge.c svm/nested/vmcb_clean.c \
 *       mm/gmem.c -lcmocka -o build/unit/test_nsvm_merge
 *
 * Field values are distinct patterns, so that a value copied from the
 * wrong VMCB shows.  Bits are APM literals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "svm/nested/vmcb02_merge.h"
#include "svm/nested/vmcb_clean.h"

#define KB(x) ((uint64_t)(x) << 10)

static uint8_t ram[KB(64)] __attribute__((aligned(4096)));
static struct gmem g;
static struct vmcb v01, v12, v02;
static struct nsvm_merge_params p;
static uint8_t l0_msrpm[0x2000], l0_iopm[0x3000], out_msrpm[0x2000], out_iopm[0x3000];
static struct nsvm_vmcb12_cache cache;

#define VMCB12_GPA 0x3000ull
#define IOPM_GPA   0x4000ull
#define MSRPM_GPA  0x8000ull

static void seg(struct vmcb_seg *s, uint16_t sel, uint64_t base)
{
	s->selector = sel;
	s->attrib = 0x93;
	s->limit = 0xffff;
	s->base = base;
}

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, sizeof(ram), GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	assert_int_equal(gmem_add(&g, KB(64), KB(4), GMEM_MMIO, 0, 1), 0);

	memset(&v01, 0, sizeof(v01));
	memset(&v12, 0, sizeof(v12));
	memset(&v02, 0xcc, sizeof(v02));        /* garbage that must not survive */

	/* vmcb01: what L0 runs L1 with (svm/svm.c's choices) */
	v01.ctl.intercept_misc1 = (1u << 0) | (1u << 1) | (1u << 3) | (1u << 4) | (1u << 18) |
				  (1u << 20) | (1u << 22) | (1u << 24) | (1u << 26) | (1u << 27) |
				  (1u << 28) | (1u << 31);
	v01.ctl.intercept_misc2 = 0x3c7f;
	v01.ctl.intercept_exc = 1u << 18;
	v01.ctl.tsc_offset = 0x1000;
	v01.ctl.pause_filter_count = 11;
	v01.save.g_pat = 0x0007040600070406ull;
	seg(&v01.save.fs, 0x33, 0xf5000);
	seg(&v01.save.gs, 0x3b, 0x65000);
	seg(&v01.save.tr, 0x40, 0x7000);
	seg(&v01.save.ldtr, 0x48, 0x8000);
	v01.save.kernel_gs_base = 0x111;
	v01.save.star = 0x222;
	v01.save.lstar = 0x333;
	v01.save.cstar = 0x444;
	v01.save.sfmask = 0x555;
	v01.save.sysenter_cs = 0x666;
	v01.save.sysenter_esp = 0x777;
	v01.save.sysenter_eip = 0x888;
	v01.save.rip = 0xaaaa;

	/* vmcb12: L1's guest */
	v12.ctl.intercept_cr = 0x00100008;      /* read CR3, write CR4 */
	v12.ctl.intercept_dr = 0x00800080;
	v12.ctl.intercept_exc = 1u << 14;       /* #PF */
	v12.ctl.intercept_misc1 = (1u << 18) | (1u << 27) | (1u << 28);  /* CPUID IOIO MSR */
	v12.ctl.intercept_misc2 = 1u << 0;      /* VMRUN */
	v12.ctl.intercept_misc3 = 1u << 2;      /* INVPCID */
	v12.ctl.iopm_base_pa = IOPM_GPA;
	v12.ctl.msrpm_base_pa = MSRPM_GPA;
	v12.ctl.tsc_offset = (uint64_t)-0x100;  /* negative: the sum wraps */
	v12.ctl.asid = 7;
	v12.ctl.vintr = 0x5ull | (1ull << 8) | (1ull << 9) | (3ull << 16) | (1ull << 20) |
			(1ull << 24) | (1ull << 25) | (1ull << 31) | (0x41ull << 32);
	v12.ctl.int_state = 3;
	v12.ctl.event_inj = (1ull << 31) | (3 << 8) | 13 | (1 << 11) | (0x10ull << 32);
	v12.ctl.np_enable = 1;
	v12.ctl.n_cr3 = 0xa000;
	v12.ctl.pause_filter_count = 99;
	seg(&v12.save.cs, 0x10, 0);
	v12.save.cs.attrib = 0xa9b;
	seg(&v12.save.ds, 0x18, 0);
	seg(&v12.save.fs, 0xbad, 0xbad);        /* VMLOAD state: not from vmcb12 */
	v12.save.gdtr.base = 0x9000;
	v12.save.idtr.base = 0x9800;
	v12.save.cpl = 0;
	v12.save.efer = 0x1d00;
	v12.save.cr0 = 0x80000031;
	v12.save.cr2 = 0xc2;
	v12.save.cr3 = 0xc3000;
	v12.save.cr4 = 0x20;
	v12.save.dr6 = 0xffff0ff0;
	v12.save.dr7 = 0x400;
	v12.save.rflags = 0x202;
	v12.save.rip = 0x401000;
	v12.save.rsp = 0x7000;
	v12.save.rax = 0xa5;
	v12.save.g_pat = 0x0606060606060606ull;
	v12.save.star = 0xbad;

	memset(&p, 0, sizeof(p));
	nsvm_l0_intercepts(&v01.ctl, &p.l0);
	p.msrpm02_pa = 0x1230000;
	p.iopm02_pa = 0x4560000;
	p.asid02 = 42;
	p.n_cr3_02 = 0x789000;
	p.tlb_flush_cmd = 3;

	memset(&cache, 0, sizeof(cache));
	return 0;
}

static void test_l0_intercepts(void **state)
{
	struct nsvm_intercepts l0;
	struct vmcb_control c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.intercept_misc1 = (1u << 4) | (1u << 20) | (1u << 24);  /* VINTR IRET HLT */
	nsvm_l0_intercepts(&c, &l0);
	assert_int_equal(l0.w[3], (1u << 24) | (1u << 26));      /* HLT, + INVLPGA */
	assert_int_equal(l0.w[4], 0x7d);        /* VMRUN VMLOAD VMSAVE STGI CLGI SKINIT */
}

static void test_merge_controls(void **state)
{
	unsigned r;

	(void)state;
	r = nsvm_merge_vmcb02(&v02, &v12, &v01, &p);
	assert_int_equal(r, 0);
	/* intercepts: union */
	assert_int_equal(v02.ctl.intercept_cr, 0x00100008);
	assert_int_equal(v02.ctl.intercept_dr, 0x00800080);
	assert_int_equal(v02.ctl.intercept_exc, (1u << 14) | (1u << 18));
	assert_int_equal(v02.ctl.intercept_misc1,
			 (v01.ctl.intercept_misc1 & ~((1u << 4) | (1u << 20))) | (1u << 18) | (1u << 26));
	assert_int_equal(v02.ctl.intercept_misc2, 0x3c7f);
	assert_int_equal(v02.ctl.intercept_misc3, 1u << 2);
	/* maps, TSC, ASID, TLB */
	assert_true(v02.ctl.msrpm_base_pa == 0x1230000 && v02.ctl.iopm_base_pa == 0x4560000);
	assert_true(v02.ctl.tsc_offset == 0xf00);
	assert_int_equal(v02.ctl.asid, 42);
	assert_int_equal(v02.ctl.tlb_control, 0);
	/* V_INTR: L1's TPR/IRQ/PRIO/IGN_TPR/VECTOR, masking forced, vGIF/AVIC gone */
	assert_true(v02.ctl.vintr == (0x5ull | (1ull << 8) | (3ull << 16) | (1ull << 20) |
				      (1ull << 24) | (0x41ull << 32)));
	assert_true(v02.ctl.int_state == 1);
	assert_true(v02.ctl.event_inj == v12.ctl.event_inj);
	/* NP always on, with the caller's root */
	assert_true(v02.ctl.np_enable == 1 && v02.ctl.n_cr3 == 0x789000);
	assert_true(v02.ctl.virt_ext == 0 && v02.ctl.clean == 0 && v02.ctl.exit_code == 0);
	/* PAUSE: L1 does not intercept it -> L0's numbers */
	assert_int_equal(v02.ctl.pause_filter_count, 11);
}

static void test_merge_always_intercepts_svm(void **state)
{
	(void)state;
	memset(&p.l0, 0, sizeof(p.l0));         /* even if the caller forgot */
	v12.ctl.intercept_misc2 = 1;
	nsvm_merge_vmcb02(&v02, &v12, &v01, &p);
	assert_int_equal(v02.ctl.intercept_misc2 & 0x7d, 0x7d);
	assert_true(v02.ctl.intercept_misc1 & (1u << 26));
}

static void test_merge_state(void **state)
{
	(void)state;
	nsvm_merge_vmcb02(&v02, &v12, &v01, &p);
	/* VMRUN state from vmcb12 */
	assert_int_equal(v02.save.cs.selector, 0x10);
	assert_int_equal(v02.save.cs.attrib, 0xa9b);
	assert_int_equal(v02.save.ds.selector, 0x18);
	assert_true(v02.save.gdtr.base == 0x9000 && v02.save.idtr.base == 0x9800);
	assert_true(v02.save.efer == 0x1d00 && v02.save.cr0 == 0x80000031);
	assert_true(v02.save.cr2 == 0xc2 && v02.save.cr3 == 0xc3000 && v02.save.cr4 == 0x20);
	assert_true(v02.save.dr6 == 0xffff0ff0 && v02.save.dr7 == 0x400);
	assert_true(v02.save.rip == 0x401000 && v02.save.rsp == 0x7000 && v02.save.rax == 0xa5);
	assert_true(v02.save.rflags == 0x202);
	/* VMLOAD state from vmcb01 (L1's registers) */
	assert_int_equal(v02.save.fs.selector, 0x33);
	assert_true(v02.save.gs.base == 0x65000 && v02.save.tr.base == 0x7000);
	assert_true(v02.save.ldtr.base == 0x8000);
	assert_true(v02.save.kernel_gs_base == 0x111 && v02.save.star == 0x222);
	assert_true(v02.save.lstar == 0x333 && v02.save.cstar == 0x444 && v02.save.sfmask == 0x555);
	assert_true(v02.save.sysenter_cs == 0x666 && v02.save.sysenter_esp == 0x777 &&
		    v02.save.sysenter_eip == 0x888);
	/* G_PAT: L2's with NP */
	assert_true(v02.save.g_pat == 0x0606060606060606ull);
	/* without NP in vmcb12: L1's PAT */
	v12.ctl.np_enable = 0;
	nsvm_merge_vmcb02(&v02, &v12, &v01, &p);
	assert_true(v02.save.g_pat == v01.save.g_pat);
	assert_true(v02.ctl.np_enable == 1);    /* still on: NPT01 */
}

static void test_merge_tlb_and_pause(void **state)
{
	(void)state;
	v12.ctl.tlb_control = 1;
	assert_int_equal(nsvm_merge_vmcb02(&v02, &v12, &v01, &p), NSVM_MERGE_L1_FLUSH_ALL);
	assert_int_equal(v02.ctl.tlb_control, 3);
	v12.ctl.tlb_control = 7;
	assert_int_equal(nsvm_merge_vmcb02(&v02, &v12, &v01, &p), NSVM_MERGE_L1_FLUSH_ASID);
	assert_int_equal(v02.ctl.tlb_control, 3);
	v12.ctl.tlb_control = 0;
	p.flush = true;
	p.tlb_flush_cmd = 1;
	assert_int_equal(nsvm_merge_vmcb02(&v02, &v12, &v01, &p), 0);
	assert_int_equal(v02.ctl.tlb_control, 1);
	v12.ctl.intercept_misc1 |= 1u << 23;    /* L1 intercepts PAUSE */
	nsvm_merge_vmcb02(&v02, &v12, &v01, &p);
	assert_int_equal(v02.ctl.pause_filter_count, 99);
}

static void test_merge_maps(void **state)
{
	(void)state;
	memset(l0_msrpm, 0, sizeof(l0_msrpm));
	memset(l0_iopm, 0, sizeof(l0_iopm));
	l0_msrpm[0] = 0x01;
	l0_msrpm[0x1fff] = 0x80;
	ram[MSRPM_GPA + 0] = 0x10;
	ram[MSRPM_GPA + 0x1fff] = 0x01;
	ram[MSRPM_GPA + 0x2000] = 0xff;         /* beyond the map: not read */
	assert_int_equal(nsvm_merge_msrpm(out_msrpm, l0_msrpm, &g, &v12.ctl), 0);
	assert_int_equal(out_msrpm[0], 0x11);
	assert_int_equal(out_msrpm[0x1fff], 0x81);
	assert_int_equal(out_msrpm[1], 0);
	l0_iopm[0x2000] = 0x02;
	ram[IOPM_GPA + 0x2000] = 0x05;
	ram[IOPM_GPA + 7] = 0x40;
	assert_int_equal(nsvm_merge_iopm(out_iopm, l0_iopm, &g, &v12.ctl), 0);
	assert_int_equal(out_iopm[0x2000], 0x07);
	assert_int_equal(out_iopm[7], 0x40);
	/* L1 without MSR_PROT/IOIO_PROT: L0's maps alone */
	v12.ctl.intercept_misc1 = 0;
	assert_int_equal(nsvm_merge_msrpm(out_msrpm, l0_msrpm, &g, &v12.ctl), 0);
	assert_memory_equal(out_msrpm, l0_msrpm, sizeof(l0_msrpm));
	assert_int_equal(nsvm_merge_iopm(out_iopm, l0_iopm, &g, &v12.ctl), 0);
	assert_memory_equal(out_iopm, l0_iopm, sizeof(l0_iopm));
	/* unreadable map: all ones */
	v12.ctl.intercept_misc1 = (1u << 27) | (1u << 28);
	v12.ctl.msrpm_base_pa = KB(60);         /* runs into MMIO */
	assert_int_equal(nsvm_merge_msrpm(out_msrpm, l0_msrpm, &g, &v12.ctl), -1);
	for (unsigned i = 0; i < sizeof(out_msrpm); i++)
		assert_int_equal(out_msrpm[i], 0xff);
}

static void test_save_l2_state(void **state)
{
	(void)state;
	nsvm_merge_vmcb02(&v02, &v12, &v01, &p);
	/* L2 ran: its state changed, then an exit */
	v02.save.rip = 0x402000;
	v02.save.cr0 = 0x80050033;
	v02.save.cr2 = 0xdead000;
	v02.save.rax = 0x77;
	v02.save.cpl = 3;
	v02.ctl.vintr = (v02.ctl.vintr & ~0x1ffull) | 0x9;  /* V_TPR 9, V_IRQ taken */
	v02.ctl.int_state = 0;
	v02.ctl.exit_code = 0x72;
	v02.ctl.exit_info1 = 0x11;
	v02.ctl.exit_info2 = 0x22;
	v02.ctl.exit_int_info = 0;
	v02.ctl.next_rip = 0x402002;
	v02.ctl.insn_len = 3;
	v12.ctl.insn_len = 5;
	v12.ctl.tlb_control = 3;
	nsvm_save_l2_state(&v12, &v02, false);
	assert_true(v12.save.rip == 0x402000 && v12.save.cr0 == 0x80050033);
	assert_true(v12.save.cr2 == 0xdead000 && v12.save.rax == 0x77 && v12.save.cpl == 3);
	/* V_TPR/V_IRQ written, L1's other V_INTR bits kept (incl. its masking) */
	assert_true((v12.ctl.vintr & 0x1ff) == 0x9);
	assert_true(v12.ctl.vintr & (1ull << 25));
	assert_true(((v12.ctl.vintr >> 32) & 0xff) == 0x41);
	assert_true(v12.ctl.int_state == 0);
	assert_true(v12.ctl.exit_code == 0x72 && v12.ctl.exit_info1 == 0x11 &&
		    v12.ctl.exit_info2 == 0x22 && v12.ctl.next_rip == 0x402002);
	assert_int_equal(v12.ctl.insn_len, 0);  /* not an #NPF/#PF: cleared */
	assert_int_equal(v12.ctl.tlb_control, 3);  /* not changed by #VMEXIT */
	assert_true(v12.ctl.event_inj == 0);      /* #VMEXIT clears EVENTINJ (vol. 3 VMRUN) */
	assert_true(v12.save.star == 0xbad);    /* VMLOAD state: not written */
	/* #NPF: instruction bytes go along */
	v02.ctl.exit_code = 0x400;
	v02.ctl.insn_bytes[0] = 0x8b;
	nsvm_save_l2_state(&v12, &v02, false);
	assert_int_equal(v12.ctl.insn_len, 3);
	assert_int_equal(v12.ctl.insn_bytes[0], 0x8b);
	/* an event L0 had not delivered yet is reported in EXITINTINFO */
	v02.ctl.exit_code = 0x60;
	v02.ctl.event_inj = (1ull << 31) | 0x30;
	nsvm_save_l2_state(&v12, &v02, true);
	assert_true(v12.ctl.exit_int_info == ((1ull << 31) | 0x30));
	nsvm_save_l2_state(&v12, &v02, false);
	assert_true(v12.ctl.exit_int_info == 0);
}

static void test_vmexit_l1_state(void **state)
{
	(void)state;
	nsvm_merge_vmcb02(&v02, &v12, &v01, &p);
	v02.save.fs.base = 0x12345;             /* L2 changed FS base */
	v02.save.kernel_gs_base = 0x999;
	v01.save.dr7 = 0x4ff;
	v01.save.rflags = 0x20202;
	v01.save.cpl = 0;
	nsvm_vmexit_l1_state(&v01, &v02);
	assert_true(v01.save.fs.base == 0x12345 && v01.save.kernel_gs_base == 0x999);
	assert_true(v01.save.dr7 == 0x400);
	assert_true(v01.save.rflags == 0x202);
	assert_true(v01.save.cr0 & 1);
	assert_true(v01.save.rip == 0xaaaa);    /* the caller moves RIP */
}

static void test_vmexit_writeback(void **state)
{
	struct vmcb img;
	uint8_t *page = ram + VMCB12_GPA;
	unsigned total = 0;

	(void)state;
	memset(page, 0xaa, 4096);
	memset(&img, 0x55, sizeof(img));
	assert_int_equal(nsvm_vmexit_writeback(&g, VMCB12_GPA, &img), 0);
	for (unsigned off = 0; off < 4096; off++) {
		bool in = false;

		for (unsigned i = 0; i < nsvm_vmexit_span_count; i++)
			if (off >= nsvm_vmexit_spans[i].off &&
			    off < nsvm_vmexit_spans[i].off + nsvm_vmexit_spans[i].len)
				in = true;
		assert_int_equal(page[off], in ? 0x55 : 0xaa);
		total += in;
	}
	/* exactly the fields of 15.6 and EVENTINJ: control 16+32+8+24, save 64+16+16+1+8+56+8+8+8 */
	assert_int_equal(total, 16 + 32 + 8 + 24 + 64 + 16 + 16 + 1 + 8 + 56 + 8 + 8 + 8);
	assert_true(page[offsetof(struct vmcb, ctl.event_inj)] == 0x55);
	assert_true(page[offsetof(struct vmcb, ctl.tlb_control)] == 0xaa);
	assert_true(page[offsetof(struct vmcb, save.rip)] == 0x55);
	assert_int_equal(nsvm_vmexit_writeback(&g, VMCB12_GPA + 8, &img), -1);
	assert_int_equal(nsvm_vmexit_writeback(&g, KB(64), &img), -1);
}

/* ---- clean bits ---- */

static void test_clean_table(void **state)
{
	uint8_t owner[4096];

	(void)state;
	memset(owner, 0xff, sizeof(owner));
	for (unsigned b = 0; b < NSVM_CLEAN_GROUPS; b++) {
		const struct nsvm_clean_group *gr = &nsvm_clean_table[b];

		assert_int_equal(gr->bit, b);
		assert_non_null(gr->name);
		assert_true(gr->nspans >= 1 && gr->nspans <= 4);
		for (unsigned i = 0; i < gr->nspans; i++) {
			assert_true(gr->spans[i].len > 0);
			assert_true(gr->spans[i].off + gr->spans[i].len <= 4096);
			for (unsigned o = gr->spans[i].off; o < gr->spans[i].off + gr->spans[i].len; o++) {
				assert_int_equal(owner[o], 0xff);  /* no byte in two groups */
				owner[o] = (uint8_t)b;
			}
		}
	}
	/* spot checks against APM figure 15-4 */
	assert_int_equal(owner[0x058], NSVM_CLEAN_ASID);
	assert_int_equal(owner[0x0b0], NSVM_CLEAN_NP);
	assert_int_equal(owner[0x668], NSVM_CLEAN_NP);
	assert_int_equal(owner[0x558], NSVM_CLEAN_CRX);
	assert_int_equal(owner[0x4d0], NSVM_CLEAN_CRX);
	assert_int_equal(owner[0x4cb], NSVM_CLEAN_SEG);
	assert_int_equal(owner[0x640], NSVM_CLEAN_CR2);
	assert_int_equal(owner[0x050], NSVM_CLEAN_I);
	/* never cached: TLB_CONTROL, EVENTINJ, RIP, RAX, NP_ENABLE, FS */
	assert_int_equal(owner[0x05c], 0xff);
	assert_int_equal(owner[0x0a8], 0xff);
	assert_int_equal(owner[0x578], 0xff);
	assert_int_equal(owner[0x5f8], 0xff);
	assert_int_equal(owner[0x090], 0xff);
	assert_int_equal(owner[0x440], 0xff);
}

static void test_clean_apply(void **state)
{
	struct vmcb fresh;

	(void)state;
	/* no cache: all dirty, nothing replaced */
	v12.ctl.clean = NSVM_CLEAN_ALL;
	fresh = v12;
	assert_int_equal(nsvm_clean_apply(&fresh, &cache, VMCB12_GPA), NSVM_CLEAN_ALL);
	assert_memory_equal(&fresh, &v12, sizeof(fresh));
	nsvm_clean_store(&cache, VMCB12_GPA, &v12);

	/* L1 changed CR3 and ASID but claims CRx clean, ASID dirty */
	fresh = v12;
	fresh.save.cr3 = 0x55000;
	fresh.ctl.asid = 9;
	fresh.save.rip = 0x1234;                /* never cached */
	fresh.ctl.clean = NSVM_CLEAN_ALL & ~(1u << NSVM_CLEAN_ASID);
	assert_int_equal(nsvm_clean_apply(&fresh, &cache, VMCB12_GPA), 1u << NSVM_CLEAN_ASID);
	assert_true(fresh.save.cr3 == 0xc3000);  /* the cached CR3: L1 lied, as on a CPU */
	assert_int_equal(fresh.ctl.asid, 9);
	assert_true(fresh.save.rip == 0x1234);

	/* another VMCB address: the cache does not apply */
	fresh = v12;
	fresh.save.cr3 = 0x55000;
	fresh.ctl.clean = NSVM_CLEAN_ALL;
	assert_int_equal(nsvm_clean_apply(&fresh, &cache, VMCB12_GPA + 0x1000), NSVM_CLEAN_ALL);
	assert_true(fresh.save.cr3 == 0x55000);

	/* reserved clean bits are ignored; forget drops the cache */
	fresh = v12;
	fresh.ctl.clean = ~0u & ~(1u << NSVM_CLEAN_NP);
	assert_int_equal(nsvm_clean_apply(&fresh, &cache, VMCB12_GPA), 1u << NSVM_CLEAN_NP);
	nsvm_clean_forget(&cache);
	assert_int_equal(nsvm_clean_apply(&fresh, &cache, VMCB12_GPA), NSVM_CLEAN_ALL);
	assert_int_equal(nsvm_clean_apply(&fresh, NULL, VMCB12_GPA), NSVM_CLEAN_ALL);
}

/* VMRUN's private copy takes exactly what VMRUN reads: L2's state and
 * the controls, not the VMLOAD state or the LBR fields. */
static void test_vmrun_copy(void **state)
{
	(void)state;
	static uint8_t page[4096] __attribute__((aligned(4096)));
	static struct vmcb v;
	memset(page, 0xa5, sizeof(page));
	memset(&v, 0, sizeof(v));
	nsvm_vmrun_copy(&v, page);
	assert_int_equal(v.ctl.asid, 0xa5a5a5a5u);
	assert_int_equal(v.ctl.n_cr3, 0xa5a5a5a5a5a5a5a5ull);
	assert_int_equal(v.save.cs.selector, 0xa5a5);
	assert_int_equal(v.save.rip, 0xa5a5a5a5a5a5a5a5ull);
	assert_int_equal(v.save.rax, 0xa5a5a5a5a5a5a5a5ull);
	assert_int_equal(v.save.g_pat, 0xa5a5a5a5a5a5a5a5ull);
	assert_int_equal(v.save.cr2, 0xa5a5a5a5a5a5a5a5ull);
	/* not read by VMRUN */
	assert_int_equal(v.save.fs.base, 0);
	assert_int_equal(v.save.tr.selector, 0);
	assert_int_equal(v.save.star, 0);
	assert_int_equal(v.save.dbgctl, 0);
}

/* vmcb02's save area is not cleared per merge: the merge must write every
 * named field, whatever vmcb02 held before, and leave the reserved ranges
 * alone (zero since vmcb02 was allocated).  Two vmcb02s with different
 * garbage must come out equal outside the reserved ranges, and keep their
 * own bytes inside them. */
static void test_merge_writes_every_save_field(void **state)
{
	(void)state;
	static struct vmcb other;
	static const struct { unsigned from, to; } reserved[] = {   /* vmcb offsets, APM table B-2 */
		{ 0x4a0, 0x4cb }, { 0x4cc, 0x4d0 }, { 0x4d8, 0x548 }, { 0x580, 0x5d8 }, { 0x648, 0x668 },
	};
	memset(&other, 0x5a, sizeof(other));
	nsvm_merge_vmcb02(&v02, &v12, &v01, &p);    /* v02 held 0xcc (setup) */
	nsvm_merge_vmcb02(&other, &v12, &v01, &p);
	for (unsigned off = 0x400; off < 0x400 + offsetof(struct vmcb_save, reserved6); off++) {
		bool in_reserved = false;
		for (unsigned r = 0; r < sizeof(reserved) / sizeof(reserved[0]); r++)
			in_reserved |= off >= reserved[r].from && off < reserved[r].to;
		uint8_t a = ((const uint8_t *)&v02)[off], b = ((const uint8_t *)&other)[off];
		if (in_reserved) {
			assert_int_equal(a, 0xcc);
			assert_int_equal(b, 0x5a);
		} else if (a != b) {
			fail_msg("vmcb02 byte %#x depends on what vmcb02 held before the merge", off);
		}
	}
	assert_true(v02.save.dbgctl == 0 && v02.save.br_from == 0 && v02.save.last_excp_to == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmrun_copy),
		cmocka_unit_test_setup(test_l0_intercepts, setup),
		cmocka_unit_test_setup(test_merge_controls, setup),
		cmocka_unit_test_setup(test_merge_writes_every_save_field, setup),
		cmocka_unit_test_setup(test_merge_always_intercepts_svm, setup),
		cmocka_unit_test_setup(test_merge_state, setup),
		cmocka_unit_test_setup(test_merge_tlb_and_pause, setup),
		cmocka_unit_test_setup(test_merge_maps, setup),
		cmocka_unit_test_setup(test_save_l2_state, setup),
		cmocka_unit_test_setup(test_vmexit_l1_state, setup),
		cmocka_unit_test_setup(test_vmexit_writeback, setup),
		cmocka_unit_test_setup(test_clean_table, setup),
		cmocka_unit_test_setup(test_clean_apply, setup),
	};
	return cmocka_run_group_tests_name("nsvm_merge", tests, NULL, NULL);
}

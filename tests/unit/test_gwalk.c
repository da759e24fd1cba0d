/*
 * Unit tests for mm/gwalk.c, the guest page-table walker.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_gwalk.c mm/gwalk.c mm/gmem.c -lcmocka -o build/unit/test_gwalk
 *
 * Each test builds the guest's page tables inside a fake guest RAM (a host
 * buffer mapped at GPA 0 through mm/gmem) the way a guest kernel would, and
 * checks translations and the exact #PF error code (SDM vol. 3A 4.7).
 * Entry bits and register bits are literals from the SDM, so that a wrong
 * constant in mm/gwalk.c cannot hide here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mm/gwalk.h"

#define KB(x) ((uint64_t)(x) << 10)
#define MB(x) ((uint64_t)(x) << 20)
#define GB(x) ((uint64_t)(x) << 30)

/* Paging-structure entry bits (SDM 4.3-4.5) */
#define P   0x001ull
#define RW  0x002ull
#define US  0x004ull
#define PS  0x080ull
#define XD  (1ull << 63)

/* Registers */
#define CR0_PE   0x1ull
#define CR0_WP   (1ull << 16)
#define CR0_PG   (1ull << 31)
#define CR4_PSE  (1ull << 4)
#define CR4_PAE  (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Error code bits (SDM 4.7), as literals */
#define E_P    0x01u
#define E_W    0x02u
#define E_U    0x04u
#define E_RSVD 0x08u
#define E_I    0x10u

/* 8 MiB of guest RAM at GPA 0; MMIO at 8 MiB; ROM at 9 MiB. */
#define RAM_SIZE MB(8)
static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t rom[KB(4)] __attribute__((aligned(4096)));
static uint8_t ram_copy[RAM_SIZE];
static struct gmem g;
static struct gwalk_regs regs;
static struct gwalk_result res;

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	memset(rom, 0, sizeof(rom));
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, RAM_SIZE, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	assert_int_equal(gmem_add(&g, MB(8), KB(4), GMEM_MMIO, 0, 1), 0);
	assert_int_equal(gmem_add(&g, MB(9), KB(4), GMEM_ROM, (uint64_t)(uintptr_t)rom, 0), 0);
	memset(&regs, 0, sizeof(regs));
	regs.maxphyaddr = 46;
	return 0;
}

static void put32(uint64_t gpa, uint32_t v) { memcpy(ram + gpa, &v, 4); }
static void put64(uint64_t gpa, uint64_t v) { memcpy(ram + gpa, &v, 8); }

/* Walk and compare the whole result. */
static void expect_ok(uint64_t gva, unsigned access, uint64_t gpa, uint64_t size, unsigned levels)
{
	int rc = gwalk(&g, &regs, gva, access, &res);

	if (rc != 0 || res.fault != 0)
		fail_msg("gva %#llx access %u: fault %d pf_error %#x, want gpa %#llx",
			 (unsigned long long)gva, access, res.fault, res.pf_error,
			 (unsigned long long)gpa);
	if (res.gpa != gpa || res.page_size != size || res.pf_error != 0 || res.levels != levels)
		fail_msg("gva %#llx: gpa %#llx size %#llx levels %u, want %#llx %#llx %u",
			 (unsigned long long)gva, (unsigned long long)res.gpa,
			 (unsigned long long)res.page_size, res.levels,
			 (unsigned long long)gpa, (unsigned long long)size, levels);
}

static void expect_pf(uint64_t gva, unsigned access, uint32_t error)
{
	int rc = gwalk(&g, &regs, gva, access, &res);

	if (rc != 1 || res.fault != 1 || res.pf_error != error)
		fail_msg("gva %#llx access %u: rc %d fault %d pf_error %#x, want #PF(%#x)",
			 (unsigned long long)gva, access, rc, res.fault, res.pf_error, error);
	assert_int_equal(res.gpa, 0);
	assert_int_equal(res.page_size, 0);
}

static void expect_table_fault(uint64_t gva, uint64_t entry_gpa)
{
	int rc = gwalk(&g, &regs, gva, 0, &res);

	assert_int_equal(rc, 2);
	assert_int_equal(res.fault, 2);
	assert_int_equal(res.gpa, entry_gpa);
	assert_int_equal(res.pf_error, 0);
}

/* ---- paging off ----------------------------------------------------------- */

static void paging_off_is_identity_32bit(void **state)
{
	(void)state;
	regs.cr0 = CR0_PE;
	expect_ok(0x12345, GW_WRITE | GW_USER | GW_FETCH, 0x12345, KB(4), 0);
	expect_ok(0xabcdef0123456789ull, 0, 0x23456789, KB(4), 0); /* 32 bits */
	/* no table is read, so even "MMIO" or nothing translates */
	expect_ok(0xfee00000, 0, 0xfee00000, KB(4), 0);
}

/* ---- 32-bit paging (SDM 4.3) ------------------------------------------------ */

/*
 * CR3 = 0x1000 (page directory), PDE[0] -> page table at 0x2000.
 *   gva 0x00005000 -> 0x7000            (PTE[5]: user, writable)
 *   gva 0x00006000 -> 0x8000            (PTE[6]: supervisor, read-only)
 *   gva 0x00400000 -> 4M page at 0xc00000 (PDE[1], PS, with CR4.PSE)
 */
static void build_32(void)
{
	regs.cr0 = CR0_PE | CR0_PG | CR0_WP;
	regs.cr3 = 0x1000;
	put32(0x1000 + 0 * 4, 0x2000 | P | RW | US);
	put32(0x2000 + 5 * 4, 0x7000 | P | RW | US);
	put32(0x2000 + 6 * 4, 0x8000 | P);
	put32(0x1000 + 1 * 4, 0xc00000 | P | RW | PS);
}

static void mode32_translations(void **state)
{
	(void)state;
	build_32();
	regs.cr4 = CR4_PSE;
	expect_ok(0x5abc, GW_USER | GW_WRITE, 0x7abc, KB(4), 2);
	expect_ok(0x6ffc, 0, 0x8ffc, KB(4), 2);
	expect_ok(0x400123, GW_WRITE, 0xc00123, MB(4), 1);
	expect_ok(0x7fffff, 0, 0xffffff, MB(4), 1);
	/* the linear address is 32 bits: the upper half is ignored */
	expect_ok(0xffffffff00005abcull, 0, 0x7abc, KB(4), 2);
	/* no XD in 32-bit paging: every present page is executable */
	expect_ok(0x5000, GW_FETCH | GW_USER, 0x7000, KB(4), 2);
}

static void mode32_ps_ignored_without_pse(void **state)
{
	(void)state;
	build_32();
	regs.cr4 = 0;
	/* PDE[1] now names a page table at 0xc00000, beyond the 8M of RAM:
	 * the PTE for 0x401000 would be at 0xc00000 + 1 * 4. */
	expect_table_fault(0x401000, 0xc00004);
}

static void mode32_pse36(void **state)
{
	(void)state;
	build_32();
	regs.cr4 = CR4_PSE;
	/* PDE[2]: 4M page whose address bits 35:32 (= 0x3) sit in PDE bits
	 * 16:13 (PSE-36, SDM Table 4-4) */
	put32(0x1000 + 2 * 4, 0x01000000 | (0x3 << 13) | P | PS);
	regs.maxphyaddr = 36;
	expect_ok(0x812345, 0, 0x301012345ull, MB(4), 1);
	/* bit 17 would be address bit 36: reserved with MAXPHYADDR 36 */
	put32(0x1000 + 2 * 4, 0x01000000 | (1u << 17) | P | PS);
	expect_pf(0x812345, 0, E_P | E_RSVD);
	/* bit 21 is reserved whatever MAXPHYADDR is */
	regs.maxphyaddr = 40;
	put32(0x1000 + 2 * 4, 0x01000000 | (1u << 21) | P | PS);
	expect_pf(0x812345, GW_WRITE, E_P | E_W | E_RSVD);
	put32(0x1000 + 2 * 4, 0x01000000 | (1u << 20) | P | PS);
	expect_ok(0x812345, 0, 0x8001012345ull, MB(4), 1);
}

static void mode32_faults(void **state)
{
	(void)state;
	build_32();
	regs.cr4 = CR4_PSE;

	/* not present: P = 0 in the error code, W/U describe the access */
	expect_pf(0x9000, 0, 0);                      /* PTE[9] empty  */
	expect_pf(0x9000, GW_WRITE | GW_USER, E_W | E_U);
	expect_pf(0x00c00000, GW_USER, E_U);          /* PDE[3] empty  */
	/* I is reported only with SMEP (32-bit paging has no XD) */
	expect_pf(0x9000, GW_FETCH, 0);
	regs.cr4 |= CR4_SMEP;
	expect_pf(0x9000, GW_FETCH, E_I);
	regs.cr4 &= ~CR4_SMEP;

	/* protection: user access to a supervisor page */
	expect_pf(0x6000, GW_USER, E_P | E_U);
	/* user write to a read-only page: the 4M page is supervisor, use 0x6000 */
	expect_pf(0x6000, GW_USER | GW_WRITE, E_P | E_W | E_U);
	/* supervisor write to read-only: faults with CR0.WP = 1 only */
	expect_pf(0x6000, GW_WRITE, E_P | E_W);
	regs.cr0 &= ~CR0_WP;
	expect_ok(0x6000, GW_WRITE, 0x8000, KB(4), 2);
}

/* ---- PAE paging (SDM 4.4) ----------------------------------------------------- */

/*
 * CR3 = 0x1020: the PDPT is 32-byte aligned, not page aligned.
 *   PDPTE[0] -> PD at 0x2000
 *   PDE[0]   -> PT at 0x3000;  PTE[1] -> 0x7000 (user, rw)
 *                              PTE[2] -> 0x8000 (user, rw, XD)
 *   PDE[1]   -> 2M page at 0x600000 (supervisor, rw)
 *   PDPTE[3] -> PD at 0x4000;  PDE[511] -> 2M page at 0x400000 (user)
 */
static void build_pae(void)
{
	regs.cr0 = CR0_PE | CR0_PG | CR0_WP;
	regs.cr4 = CR4_PAE;
	regs.efer = EFER_NXE;
	regs.cr3 = 0x1020;
	put64(0x1020 + 0 * 8, 0x2000 | P);
	put64(0x1020 + 3 * 8, 0x4000 | P);
	put64(0x2000 + 0 * 8, 0x3000 | P | RW | US);
	put64(0x3000 + 1 * 8, 0x7000 | P | RW | US);
	put64(0x3000 + 2 * 8, 0x8000 | P | RW | US | XD);
	put64(0x2000 + 1 * 8, 0x600000 | P | RW | PS);
	put64(0x4000 + 511 * 8, 0x400000 | P | US | PS);
}

static void pae_translations(void **state)
{
	(void)state;
	build_pae();
	expect_ok(0x1234, GW_USER | GW_WRITE, 0x7234, KB(4), 3);
	expect_ok(0x2ff8, GW_USER, 0x8ff8, KB(4), 3);
	expect_ok(0x2abcde, GW_FETCH, 0x6abcde, MB(2), 2);
	expect_ok(0xfff12345, GW_USER | GW_FETCH, 0x512345, MB(2), 2);
	expect_ok(0x1fff12345ull, 0, 0x512345, MB(2), 2); /* 32-bit linear */
	/* physical addresses above 4G are fine in PAE */
	put64(0x2000 + 2 * 8, 0x123400000ull | P | PS);
	expect_ok(0x400010, 0, 0x123400010ull, MB(2), 2);
}

static void pae_pdptes_from_registers_or_memory(void **state)
{
	(void)state;
	build_pae();
	/* Loaded PDPTE registers win over memory: PDPTE[0] in the
	 * "registers" points to the PD at 0x4000 instead of 0x2000. */
	uint64_t pdpte[4] = { 0x4000 | P, 0, 0, 0 };
	put64(0x4000 + 0 * 8, 0x5000 | P | RW);
	put64(0x5000 + 1 * 8, 0x9000 | P | RW);
	regs.pdpte = pdpte;
	expect_ok(0x1008, 0, 0x9008, KB(4), 3);
	expect_pf(0xc0000000, 0, 0); /* PDPTE register 3 is empty */
	/* without them, memory at CR3 is read at walk time */
	regs.pdpte = NULL;
	expect_ok(0x1008, 0, 0x7008, KB(4), 3);
	/* and a PDPT outside RAM is then a table fault */
	regs.cr3 = MB(8) + 0x40; /* the MMIO page */
	expect_table_fault(0x40000000, MB(8) + 0x48);
}

static void pae_faults(void **state)
{
	(void)state;
	build_pae();

	/* XD with NXE: fetch faults, with I */
	expect_pf(0x2000, GW_FETCH, E_P | E_I);
	expect_pf(0x2000, GW_FETCH | GW_USER, E_P | E_U | E_I);
	/* not present with NXE: I is reported too */
	expect_pf(0x5000, GW_FETCH, E_I);
	expect_pf(0x40000000, GW_WRITE, E_W);          /* PDPTE[1] empty */

	/* XD without NXE is a reserved bit, whatever the access */
	regs.efer = 0;
	expect_pf(0x2000, 0, E_P | E_RSVD);
	expect_pf(0x5000, GW_FETCH, 0);                /* and no I */

	/* PDPTE: R/W (bit 1) is reserved there */
	regs.efer = EFER_NXE;
	put64(0x1020 + 0 * 8, 0x2000 | P | RW);
	expect_pf(0x1000, GW_USER, E_P | E_U | E_RSVD);
	/* and so is bit 63 (no XD in a PDPTE) */
	put64(0x1020 + 0 * 8, 0x2000 | P | XD);
	expect_pf(0x1000, 0, E_P | E_RSVD);
	put64(0x1020 + 0 * 8, 0x2000 | P);

	/* 2M PDE: bits 20:13 reserved; bit 12 (PAT) is not */
	put64(0x2000 + 1 * 8, 0x600000 | P | RW | PS | (1ull << 13));
	expect_pf(0x200000, 0, E_P | E_RSVD);
	put64(0x2000 + 1 * 8, 0x600000 | P | RW | PS | (1ull << 12));
	expect_ok(0x200000, 0, 0x600000, MB(2), 2);

	/* PAE: bits 62:M reserved (MAXPHYADDR 46 here) */
	put64(0x3000 + 1 * 8, 0x7000 | P | RW | US | (1ull << 46));
	expect_pf(0x1000, 0, E_P | E_RSVD);
	put64(0x3000 + 1 * 8, 0x7000 | P | RW | US | (1ull << 62));
	expect_pf(0x1000, 0, E_P | E_RSVD);
	put64(0x3000 + 1 * 8, 0x7000 | P | RW | US | (1ull << 45));
	expect_ok(0x1000, 0, 0x200000007000ull, KB(4), 3);

	/* user access to the supervisor 2M page */
	put64(0x2000 + 1 * 8, 0x600000 | P | RW | PS);
	expect_pf(0x200000, GW_USER | GW_WRITE, E_P | E_W | E_U);
}

/* ---- 4-level paging (SDM 4.5) ---------------------------------------------- */

/*
 * CR3 = 0x1000 (PML4)
 *   PML4[0]   -> PDPT 0x2000
 *     PDPT[0] -> PD 0x3000
 *       PD[0] -> PT 0x4000:  PTE[0x10] -> 0x10000 user rw
 *                            PTE[0x11] -> 0x11000 user ro
 *                            PTE[0x12] -> 0x12000 supervisor rw XD
 *       PD[1] -> 2M page at 0x600000 (user rw)
 *     PDPT[1] -> 1G page at 0x80000000 (supervisor rw)
 *   PML4[511] -> PDPT 0x5000 (supervisor)
 *     PDPT[511] -> 1G page at 0x40000000 (the kernel's -1G..)
 */
static void build_4level(void)
{
	regs.cr0 = CR0_PE | CR0_PG | CR0_WP;
	regs.cr4 = CR4_PAE;
	regs.efer = EFER_LME | EFER_LMA | EFER_NXE;
	regs.cr3 = 0x1000;
	put64(0x1000 + 0 * 8, 0x2000 | P | RW | US);
	put64(0x2000 + 0 * 8, 0x3000 | P | RW | US);
	put64(0x3000 + 0 * 8, 0x4000 | P | RW | US);
	put64(0x4000 + 0x10 * 8, 0x10000 | P | RW | US);
	put64(0x4000 + 0x11 * 8, 0x11000 | P | US);
	put64(0x4000 + 0x12 * 8, 0x12000 | P | RW | XD);
	put64(0x3000 + 1 * 8, 0x600000 | P | RW | US | PS);
	put64(0x2000 + 1 * 8, 0x80000000 | P | RW | PS);
	put64(0x1000 + 511 * 8, 0x5000 | P | RW);
	put64(0x5000 + 511 * 8, 0x40000000 | P | RW | PS);
}

static void level4_translations(void **state)
{
	(void)state;
	build_4level();
	expect_ok(0x10123, GW_USER | GW_WRITE | GW_FETCH, 0x10123, KB(4), 4);
	expect_ok(0x11fff, GW_USER, 0x11fff, KB(4), 4);
	expect_ok(0x12000, GW_WRITE, 0x12000, KB(4), 4);
	expect_ok(0x2fedcb, GW_USER | GW_WRITE, 0x6fedcb, MB(2), 3);
	expect_ok(0x7fffffff, 0, 0xbfffffff, GB(1), 2);
	expect_ok(0xffffffffc0001234ull, GW_WRITE | GW_FETCH, 0x40001234, GB(1), 2);
	/* CR3's low 12 bits (PCID or PWT/PCD) are not part of the address */
	regs.cr3 = 0x1000 | 0x18;
	expect_ok(0x10123, 0, 0x10123, KB(4), 4);
	/* the entries of the walk and the values used, for a caller's cache */
	assert_int_equal(res.nent, 4);
	assert_int_equal(res.ent_bytes, 8);
	assert_int_equal(res.ent_gpa[0], 0x1000);
	assert_int_equal(res.ent_gpa[3], 0x4000 + 0x10 * 8);
	assert_int_equal(res.ent_val[3], 0x10000 | P | RW | US);
	expect_ok(0x2fedcb, 0, 0x6fedcb, MB(2), 3);
	assert_int_equal(res.nent, 3);
	assert_int_equal(res.ent_val[2], 0x600000 | P | RW | US | PS);
}

static void level4_access_rights(void **state)
{
	(void)state;
	build_4level();

	/* read-only user page */
	expect_pf(0x11000, GW_USER | GW_WRITE, E_P | E_W | E_U);
	expect_pf(0x11000, GW_WRITE, E_P | E_W);      /* WP = 1 */
	regs.cr0 &= ~CR0_WP;
	expect_ok(0x11000, GW_WRITE, 0x11000, KB(4), 4);
	expect_pf(0x11000, GW_USER | GW_WRITE, E_P | E_W | E_U); /* WP is CPL<3 only */
	regs.cr0 |= CR0_WP;

	/* supervisor page, user access */
	expect_pf(0x12000, GW_USER, E_P | E_U);
	expect_pf(0x40000000, GW_USER, E_P | E_U);    /* U/S = 0 in the PDPTE only */
	expect_pf(0xffffffffc0000000ull, GW_USER | GW_FETCH, E_P | E_U | E_I);

	/* XD: in the PTE, or in any level above */
	expect_pf(0x12000, GW_FETCH, E_P | E_I);
	put64(0x3000 + 0 * 8, 0x4000 | P | RW | US | XD);
	expect_pf(0x10000, GW_FETCH | GW_USER, E_P | E_U | E_I);
	expect_ok(0x10000, GW_USER | GW_WRITE, 0x10000, KB(4), 4);

	/* R/W = 0 in a higher level makes everything below read-only */
	put64(0x3000 + 0 * 8, 0x4000 | P | US);
	expect_pf(0x10000, GW_USER | GW_WRITE, E_P | E_W | E_U);
	put64(0x3000 + 0 * 8, 0x4000 | P | RW | US);

	/* SMEP: supervisor fetch from a user page faults, data is fine */
	regs.cr4 |= CR4_SMEP;
	expect_pf(0x10000, GW_FETCH, E_P | E_I);
	expect_ok(0x10000, GW_WRITE, 0x10000, KB(4), 4);
	expect_ok(0x10000, GW_FETCH | GW_USER, 0x10000, KB(4), 4);
	expect_ok(0x12000, GW_WRITE, 0x12000, KB(4), 4);
	/* a supervisor page is executable for the supervisor even with SMEP */
	expect_ok(0x40000000, GW_FETCH, 0x80000000, GB(1), 2);
}

static void level4_reserved_bits(void **state)
{
	(void)state;
	build_4level();

	/* PS in a PML4E is reserved */
	put64(0x1000 + 0 * 8, 0x2000 | P | RW | US | PS);
	expect_pf(0x10000, GW_USER, E_P | E_U | E_RSVD);
	put64(0x1000 + 0 * 8, 0x2000 | P | RW | US);

	/* address bits at or above MAXPHYADDR (46) */
	put64(0x4000 + 0x10 * 8, 0x10000 | P | RW | US | (1ull << 46));
	expect_pf(0x10000, GW_WRITE, E_P | E_W | E_RSVD);
	put64(0x4000 + 0x10 * 8, 0x10000 | P | RW | US | (1ull << 51));
	expect_pf(0x10000, 0, E_P | E_RSVD);
	/* ... which with MAXPHYADDR 52 are address bits */
	regs.maxphyaddr = 52;
	expect_ok(0x10000, 0, 0x8000000010000ull, KB(4), 4);
	regs.maxphyaddr = 0; /* 0 means 52 too */
	expect_ok(0x10000, 0, 0x8000000010000ull, KB(4), 4);
	regs.maxphyaddr = 46;
	/* bits 62:52 are ignored in 4-level paging (not reserved) */
	put64(0x4000 + 0x10 * 8, 0x10000 | P | RW | US | (0x7ffull << 52));
	expect_ok(0x10000, 0, 0x10000, KB(4), 4);

	/* 2M page: bits 20:13 reserved */
	put64(0x3000 + 1 * 8, 0x600000 | P | RW | US | PS | (1ull << 20));
	expect_pf(0x200000, GW_USER, E_P | E_U | E_RSVD);
	/* 1G page: bits 29:13 reserved */
	put64(0x2000 + 1 * 8, 0x80000000 | P | RW | PS | (1ull << 29));
	expect_pf(0x40000000, 0, E_P | E_RSVD);
	put64(0x2000 + 1 * 8, 0x80000000 | P | RW | PS | (1ull << 12)); /* PAT: fine */
	expect_ok(0x40000000, 0, 0x80000000, GB(1), 2);

	/* XD without EFER.NXE */
	regs.efer &= ~EFER_NXE;
	expect_pf(0x12000, 0, E_P | E_RSVD);
	expect_pf(0x13000, GW_FETCH, 0);     /* not present; no I without NXE/SMEP */

	/* a not-present entry's other bits are not looked at */
	put64(0x4000 + 0x13 * 8, (1ull << 51) | PS | XD);
	expect_pf(0x13000, GW_WRITE, E_W);
}

static void level4_noncanonical_and_table_faults(void **state)
{
	(void)state;
	build_4level();

	assert_int_equal(gwalk(&g, &regs, 0x0000800000000000ull, 0, &res), 3);
	assert_int_equal(res.fault, 3);
	assert_int_equal(res.levels, 0);
	assert_int_equal(gwalk(&g, &regs, 0xffff7fffffffffffull, 0, &res), 3);
	assert_int_equal(gwalk(&g, &regs, 0x8000000000000000ull, 0, &res), 3);
	expect_pf(0x00007ffffffff000ull, 0, 0);        /* canonical, unmapped */

	/* a PT beyond guest RAM: the PTE's GPA is reported */
	put64(0x3000 + 2 * 8, 0x40000000 | P | RW);
	expect_table_fault(0x400000 + 3 * 4096, 0x40000000 + 3 * 8);
	/* a PD in MMIO */
	put64(0x2000 + 2 * 8, MB(8) | P | RW);
	expect_table_fault(GB(2), MB(8));
	/* CR3 outside RAM */
	regs.cr3 = GB(4);
	expect_table_fault(0, GB(4));
	/* tables in ROM are readable (hardware walks ROM too) */
	regs.cr3 = MB(9);
	memcpy(rom, ram + 0x1000, 8);  /* ROM PML4[0] = the RAM PDPT */
	expect_ok(0x10123, 0, 0x10123, KB(4), 4);
}

/*
 * The same tables seen through other maps of the same bytes: split into
 * several RAM ranges (so consecutive entries come from different ranges),
 * or with an MMIO page first (so the walker's first guess of where tables
 * live is wrong).  Every walk must come out exactly as with the plain map.
 */
static void level4_tables_across_ranges(void **state)
{
	(void)state;
	static const uint64_t gvas[] = {
		0x10123, 0x11fff, 0x12000, 0x13000, 0x2fedcb, 0x7fffffff,
		0xffffffffc0001234ull, 0x0000800000000000ull,
	};
	uint64_t ram_hpa = (uint64_t)(uintptr_t)ram;
	struct gmem split, mmio_first;
	struct gwalk_result want, got;

	build_4level();
	/* PML4 and PDPT in one range, PD in a second, PT in a third */
	gmem_init(&split);
	assert_int_equal(gmem_add(&split, 0, 0x3000, GMEM_RAM, ram_hpa, 0), 0);
	assert_int_equal(gmem_add(&split, 0x3000, 0x1000, GMEM_RAM, ram_hpa + 0x3000, 0), 0);
	assert_int_equal(gmem_add(&split, 0x4000, RAM_SIZE - 0x4000, GMEM_RAM,
				  ram_hpa + 0x4000, 0), 0);
	/* page 0 is MMIO; the rest of RAM as usual */
	gmem_init(&mmio_first);
	assert_int_equal(gmem_add(&mmio_first, 0, 0x1000, GMEM_MMIO, 0, 1), 0);
	assert_int_equal(gmem_add(&mmio_first, 0x1000, RAM_SIZE - 0x1000, GMEM_RAM,
				  ram_hpa + 0x1000, 0), 0);

	for (unsigned v = 0; v < sizeof(gvas) / sizeof(gvas[0]); v++)
		for (unsigned a = 0; a < 8; a++) {
			const struct gmem *maps[] = { &split, &mmio_first };

			gwalk(&g, &regs, gvas[v], a, &want);
			for (unsigned m = 0; m < 2; m++) {
				gwalk(maps[m], &regs, gvas[v], a, &got);
				assert_int_equal(got.fault, want.fault);
				assert_int_equal(got.gpa, want.gpa);
				assert_int_equal(got.page_size, want.page_size);
				assert_int_equal(got.pf_error, want.pf_error);
				assert_int_equal(got.levels, want.levels);
			}
		}
	/* and a PD moved into the MMIO page is a table fault there */
	put64(0x2000 + 0 * 8, 0x0000 | P | RW | US);
	assert_int_equal(gwalk(&mmio_first, &regs, 0x10000, 0, &got), 2);
	assert_int_equal(got.gpa, 0);
	assert_int_equal(got.levels, 2);
}

/* ---- 5-level paging ----------------------------------------------------- */

static void level5_translations(void **state)
{
	(void)state;
	build_4level();
	/* CR3 -> PML5 at 0x9000; PML5[0] -> the PML4 at 0x1000;
	 * PML5[256] (the upper half) -> PML4 at 0xa000, PML4[0] -> PDPT 0x2000 */
	regs.cr4 |= CR4_LA57;
	regs.cr3 = 0x9000;
	put64(0x9000 + 0 * 8, 0x1000 | P | RW | US);
	put64(0x9000 + 256 * 8, 0xa000 | P | RW);
	put64(0xa000 + 0 * 8, 0x2000 | P | RW);

	expect_ok(0x10123, GW_USER, 0x10123, KB(4), 5);
	expect_ok(0x7fffffff, 0, 0xbfffffff, GB(1), 3);
	/* canonical in 57 bits only: bit 47 set, 63:56 clear */
	expect_pf(0x0000800000000000ull, 0, 0);       /* PML4[256] empty */
	/* the upper half: PML5[256], PML4[0], PDPT[1] = the 1G page */
	expect_ok(0xff00000040001234ull, GW_WRITE, 0x80001234, GB(1), 3);
	/* bit 56 is the sign bit now */
	assert_int_equal(gwalk(&g, &regs, 0x0100000000000000ull, 0, &res), 3);
	assert_int_equal(gwalk(&g, &regs, 0xfeff000000000000ull, 0, &res), 3);
	/* PS in a PML5E is reserved like in a PML4E */
	put64(0x9000 + 0 * 8, 0x1000 | P | RW | US | PS);
	expect_pf(0x10000, 0, E_P | E_RSVD);
}

/* ---- the walker never writes ----------------------------------------------- */

static void walker_sets_no_accessed_or_dirty_bits(void **state)
{
	(void)state;
	static const unsigned accesses[] = {
		0, GW_WRITE, GW_USER, GW_USER | GW_WRITE, GW_FETCH, GW_FETCH | GW_USER,
	};
	static const uint64_t gvas[] = {
		0x10000, 0x11000, 0x12000, 0x200000, 0x40000000, 0xffffffffc0000000ull, 0x13000,
	};

	build_4level();
	memcpy(ram_copy, ram, sizeof(ram));
	for (unsigned a = 0; a < sizeof(accesses) / sizeof(accesses[0]); a++)
		for (unsigned v = 0; v < sizeof(gvas) / sizeof(gvas[0]); v++)
			(void)gwalk(&g, &regs, gvas[v], accesses[a], &res);
	assert_memory_equal(ram, ram_copy, sizeof(ram));
	/* the entries have A (bit 5) and D (bit 6) clear and keep them so */
	uint64_t pte;
	memcpy(&pte, ram + 0x4000 + 0x10 * 8, 8);
	assert_int_equal(pte & 0x60, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(paging_off_is_identity_32bit, setup),
		cmocka_unit_test_setup(mode32_translations, setup),
		cmocka_unit_test_setup(mode32_ps_ignored_without_pse, setup),
		cmocka_unit_test_setup(mode32_pse36, setup),
		cmocka_unit_test_setup(mode32_faults, setup),
		cmocka_unit_test_setup(pae_translations, setup),
		cmocka_unit_test_setup(pae_pdptes_from_registers_or_memory, setup),
		cmocka_unit_test_setup(pae_faults, setup),
		cmocka_unit_test_setup(level4_translations, setup),
		cmocka_unit_test_setup(level4_access_rights, setup),
		cmocka_unit_test_setup(level4_reserved_bits, setup),
		cmocka_unit_test_setup(level4_noncanonical_and_table_faults, setup),
		cmocka_unit_test_setup(level4_tables_across_ranges, setup),
		cmocka_unit_test_setup(level5_translations, setup),
		cmocka_unit_test_setup(walker_sets_no_accessed_or_dirty_bits, setup),
	};
	return cmocka_run_group_tests_name("gwalk", tests, NULL, NULL);
}

/*
 * Unit tests for vmx/nested/vmcs12.c: the vmcs12 region layout, load and
 * store through gmem, and the VMREAD/VMWRITE rules.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nvmx_vmcs12.c vmx/nested/vmcs12.c vmx/vmcs_fields.c \
 *       mm/gmem.c -lcmocka -o build/unit/test_nvmx_vmcs12
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/nested/vmcs12.h"

/* Capabilities like Bochs' Skylake-X (tests/unit/test_vmx_check.c). */
static void caps_skx(struct vmx_caps *c, bool vmwrite_any)
{
	memset(c, 0, sizeof *c);
	c->basic = vmcs12_basic_msr(0x00d8040000000000ull | 0x2b);
	c->true_ctls = true;
	c->pinbased = 0x000000ff00000016ull;
	c->procbased = 0xfff9fffe04006172ull;
	c->procbased2 = 0x021f7fff00000000ull;
	c->exit = 0x03ffffff00036dfbull;
	c->entry = 0x0007ffff000011fbull;
	c->misc = 0x000401e5ull | (vmwrite_any ? VMX_MISC_VMWRITE_ANY : 0);
	c->cr0_fixed0 = 0x80000021ull;
	c->cr0_fixed1 = 0xffffffffull;
	c->cr4_fixed0 = 0x2000ull;
	c->cr4_fixed1 = 0x007767ffull;
	c->ept_vpid = 0x00000f0106334141ull;
}

static void test_layout(void **state)
{
	struct vmx_caps c;
	(void)state;
	assert_true(VMCS12_DATA_SIZE <= 4096);
	assert_int_equal(VMCS12_OFF_FIELDS, 16);
	caps_skx(&c, false);
	assert_int_equal(VMX_BASIC_REVISION(c.basic), VMCS12_REVISION);
	assert_int_equal((c.basic >> 32) & 0x1fff, 4096);
	/* everything else of the host's BASIC is kept (bit 55 TRUE ctls) */
	assert_true(c.basic & (1ull << 55));
	assert_false(c.basic & (1ull << 31));
}

static void test_vmcs_enum(void **state)
{
	struct vmx_caps none, all;
	(void)state;
	memset(&none, 0, sizeof none);
	memset(&all, 0xff, sizeof all);
	/* with nothing advertised, the highest index among the ALWAYS
	 * fields is that of GUEST_IA32_SYSENTER_CS (0x482a: index 0x15) */
	assert_int_equal(vmcs12_vmcs_enum(&none), 0x15u << 1);
	assert_true(vmcs12_vmcs_enum(&all) >= vmcs12_vmcs_enum(&none));
	assert_int_equal(vmcs12_vmcs_enum(&all) & ~0x3feull, 0);
}

struct rw_case {
	const char *name;
	bool write;
	uint64_t enc;
	bool vmwrite_any;
	uint32_t err;
};

static const struct rw_case rw_cases[] = {
	{ "read guest RIP",                 false, VMCS_GUEST_RIP, false, 0 },
	{ "read high of natural field",     false, VMCS_GUEST_RIP | 1, false, VMXERR_UNSUPPORTED_FIELD },
	{ "read high of 32-bit field",      false, VMCS_EXIT_REASON | 1, false, VMXERR_UNSUPPORTED_FIELD },
	{ "read high of 16-bit field",      false, VMCS_GUEST_CS_SELECTOR | 1, false, VMXERR_UNSUPPORTED_FIELD },
	{ "read high of 64-bit field",      false, VMCS_IO_BITMAP_A | 1, false, 0 },
	{ "read unknown encoding",          false, 0x4030, false, VMXERR_UNSUPPORTED_FIELD },
	{ "read reserved bit 12",           false, VMCS_GUEST_RIP | 0x1000, false, VMXERR_UNSUPPORTED_FIELD },
	{ "encoding bits 63:32 set",        false, (1ull << 32) | VMCS_GUEST_RIP, false, VMXERR_UNSUPPORTED_FIELD },
	{ "read field of unoffered feature",false, VMCS_SPPTP, false, VMXERR_UNSUPPORTED_FIELD },
	{ "read PML address (offered)",     false, VMCS_PML_ADDRESS, false, 0 },
	{ "read exit reason",               false, VMCS_EXIT_REASON, false, 0 },
	{ "write guest RIP",                true,  VMCS_GUEST_RIP, false, 0 },
	{ "write exit reason",              true,  VMCS_EXIT_REASON, false, VMXERR_VMWRITE_READ_ONLY },
	{ "write exit qualification",       true,  VMCS_EXIT_QUALIFICATION, false, VMXERR_VMWRITE_READ_ONLY },
	{ "write guest-physical address hi",true,  VMCS_GUEST_PHYSICAL_ADDRESS | 1, false, VMXERR_VMWRITE_READ_ONLY },
	{ "write exit reason, MISC[29]",    true,  VMCS_EXIT_REASON, true, 0 },
	{ "write unknown, read-only type",  true,  0x4430, false, VMXERR_UNSUPPORTED_FIELD },
	{ "write unoffered field",          true,  VMCS_SPPTP, false, VMXERR_UNSUPPORTED_FIELD },
};

static void test_rw_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rw_cases / sizeof rw_cases[0]; i++) {
		const struct rw_case *t = &rw_cases[i];
		struct vmx_caps c;
		struct vmcs_image img;
		uint64_t v = 0xdead;
		uint32_t err;

		caps_skx(&c, t->vmwrite_any);
		memset(&img, 0, sizeof img);
		err = t->write ? vmcs12_vmwrite(&img, &c, t->enc, 0x1234)
			       : vmcs12_vmread(&img, &c, t->enc, &v);
		if (err != t->err)
			fail_msg("%s: error %u, expected %u", t->name, err, t->err);
		if (err && t->write) {
			struct vmcs_image zero;
			memset(&zero, 0, sizeof zero);
			assert_memory_equal(&img, &zero, sizeof img); /* nothing written */
		}
		if (err && !t->write)
			assert_int_equal(v, 0xdead);
	}
}

static void test_width_truncation(void **state)
{
	struct vmx_caps c;
	struct vmcs_image img;
	uint64_t v;
	(void)state;
	caps_skx(&c, false);
	memset(&img, 0, sizeof img);
	assert_int_equal(vmcs12_vmwrite(&img, &c, VMCS_GUEST_CS_SELECTOR, 0x12345678), 0);
	assert_int_equal(vmcs12_vmread(&img, &c, VMCS_GUEST_CS_SELECTOR, &v), 0);
	assert_int_equal(v, 0x5678);
	assert_int_equal(vmcs12_vmwrite(&img, &c, VMCS_GUEST_CS_LIMIT, 0x1122334455667788ull), 0);
	assert_int_equal(vmcs12_vmread(&img, &c, VMCS_GUEST_CS_LIMIT, &v), 0);
	assert_int_equal(v, 0x55667788);
	/* 64-bit field: full write, high-half read and write */
	assert_int_equal(vmcs12_vmwrite(&img, &c, VMCS_TSC_OFFSET, 0x1122334455667788ull), 0);
	assert_int_equal(vmcs12_vmread(&img, &c, VMCS_TSC_OFFSET | 1, &v), 0);
	assert_int_equal(v, 0x11223344);
	assert_int_equal(vmcs12_vmwrite(&img, &c, VMCS_TSC_OFFSET | 1, 0xaabbccddeeull), 0);
	assert_int_equal(vmcs12_vmread(&img, &c, VMCS_TSC_OFFSET, &v), 0);
	assert_int_equal(v, 0xbbccddee55667788ull);
	/* natural width: all 64 bits */
	assert_int_equal(vmcs12_vmwrite(&img, &c, VMCS_GUEST_RIP, ~0ull), 0);
	assert_int_equal(vmcs12_vmread(&img, &c, VMCS_GUEST_RIP, &v), 0);
	assert_int_equal(v, ~0ull);
}

static uint8_t ram[0x4000] __attribute__((aligned(4096)));

static void mkmem(struct gmem *g)
{
	memset(ram, 0, sizeof ram);
	gmem_init(g);
	/* L1 RAM at GPA 0x10000..0x14000, MMIO at 0x20000 */
	assert_int_equal(gmem_add(g, 0x10000, sizeof ram, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	assert_int_equal(gmem_add(g, 0x20000, 0x1000, GMEM_MMIO, 0, 7), 0);
}

static void test_load_store(void **state)
{
	struct gmem g;
	struct vmcs_image a, b;
	struct vmcs12_header h;
	bool launched = true;
	(void)state;
	mkmem(&g);
	memset(&a, 0, sizeof a);
	vmcs_set(&a, VMCS_GUEST_RIP, 0xfff0);
	vmcs_set(&a, VMCS_EXIT_REASON, 10);
	*(uint32_t *)&ram[0x1000] = VMCS12_REVISION;
	*(uint32_t *)&ram[0x1004] = 0x55;
	assert_int_equal(vmcs12_store(&g, 0x11000, &a, true), 0);
	memcpy(&h, &ram[0x1000], sizeof h);
	assert_int_equal(h.revision, VMCS12_REVISION);  /* kept */
	assert_int_equal(h.abort, 0x55);                /* kept */
	assert_int_equal(h.launch, VMCS12_LAUNCHED);
	assert_int_equal(h.magic, VMCS12_MAGIC);
	/* the documented layout: field i at 16 + 8 i */
	assert_int_equal(*(uint64_t *)&ram[0x1000 + 16 + 8 * VMCS_IDX_GUEST_RIP], 0xfff0);
	memset(&b, 0xee, sizeof b);
	assert_int_equal(vmcs12_load(&g, 0x11000, &b, &launched), 0);
	assert_true(launched);
	assert_memory_equal(&a, &b, sizeof a);
	assert_int_equal(vmcs12_set_launch_state(&g, 0x11000, false), 0);
	assert_int_equal(vmcs12_load(&g, 0x11000, &b, &launched), 0);
	assert_false(launched);
	assert_int_equal(vmcs12_set_abort(&g, 0x11000, 3), 0);
	assert_int_equal(*(uint32_t *)&ram[0x1004], 3);
	/* outside RAM: refused, nothing changed */
	memset(&b, 0xee, sizeof b);
	assert_int_equal(vmcs12_load(&g, 0x20000, &b, &launched), -1);
	assert_int_equal(vmcs12_load(&g, 0x30000, &b, &launched), -1);
	assert_int_equal(vmcs12_load(&g, ~0ull & ~0xfffull, &b, &launched), -1);
	assert_int_equal(b.v[0], 0xeeeeeeeeeeeeeeeeull);
	assert_int_equal(vmcs12_store(&g, 0x20000, &a, false), -1);
	assert_int_equal(vmcs12_store(&g, 0x11008, &a, false), -1); /* unaligned */
	assert_int_equal(vmcs12_set_launch_state(&g, 0x20000, false), -1);
	{
		uint32_t rev;
		assert_int_equal(vmcs12_read_revision(&g, 0x11000, &rev), 0);
		assert_int_equal(rev, VMCS12_REVISION);
		assert_int_equal(vmcs12_read_revision(&g, 0x20000, &rev), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_vmcs_enum),
		cmocka_unit_test(test_rw_table),
		cmocka_unit_test(test_width_truncation),
		cmocka_unit_test(test_load_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for vmx/vmcs_fields.c, the VMCS field table.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_vmcs_fields.c vmx/vmcs_fields.c -lcmocka -o build/unit/test_vmcs_fields
 *
 * The table states each field's width and type as the SDM's appendix B
 * lists them; the encoding states them again in its bits (25.11.2).  The
 * tests check that the two agree for every row, so a mistyped encoding
 * cannot hide.  Sample encodings are literals from the SDM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/vmcs_fields.h"

/* Every row's width and type agree with the bits of its encoding. */
static void test_rows_match_encoding(void **state)
{
	(void)state;
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++) {
		const struct vmcs_field *f = &vmcs_field_table[i];
		assert_true(vmcs_enc_reserved_ok(f->encoding));
		assert_false(vmcs_enc_is_high(f->encoding));   /* rows are full encodings */
		assert_int_equal(f->width, vmcs_enc_table_width(f->encoding));
		assert_int_equal(f->type, vmcs_enc_type(f->encoding));
		assert_non_null(f->name);
		/* the name says the group for guest and host fields */
		if (f->type == VMCS_TYPE_HOST)
			assert_memory_equal(f->name, "HOST_", 5);
		if (f->type == VMCS_TYPE_GUEST && strcmp(f->name, "VMCS_LINK_POINTER") != 0 &&
		    strcmp(f->name, "PREEMPTION_TIMER_VALUE") != 0)
			assert_memory_equal(f->name, "GUEST_", 6);
		assert_true(f->exists_if < VMCS_FEAT__COUNT);
		assert_non_null(vmcs_feature_name(f->exists_if));
	}
}

/* Sorted strictly by encoding: no duplicates, and binary search works. */
static void test_sorted_no_duplicates(void **state)
{
	(void)state;
	for (unsigned i = 1; i < VMCS_FIELD_COUNT; i++)
		assert_true(vmcs_field_table[i - 1].encoding < vmcs_field_table[i].encoding);
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
		for (unsigned j = i + 1; j < VMCS_FIELD_COUNT; j++)
			assert_string_not_equal(vmcs_field_table[i].name, vmcs_field_table[j].name);
}

/* Dense index: each row found at its own position; 0..COUNT-1. */
static void test_index_density(void **state)
{
	(void)state;
	assert_true(VMCS_FIELD_COUNT > 150);
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++) {
		uint32_t enc = vmcs_field_table[i].encoding;
		assert_int_equal(vmcs_field_index(enc), (int)i);
		assert_ptr_equal(vmcs_field_find(enc), &vmcs_field_table[i]);
		/* the high half of a 64-bit field names the same row; of others, nothing */
		if (vmcs_field_table[i].width == VMCS_WIDTH_64)
			assert_int_equal(vmcs_field_index(enc | 1), (int)i);
		else
			assert_int_equal(vmcs_field_index(enc | 1), -1);
	}
	/* the generated index enum is the table position */
	assert_int_equal(vmcs_field_index(VMCS_GUEST_CR0), VMCS_IDX_GUEST_CR0);
	assert_int_equal(vmcs_field_index(VMCS_HOST_RIP), VMCS_IDX_HOST_RIP);
	assert_int_equal(VMCS_IDX_VPID, 0);
	assert_int_equal(VMCS_IDX_HOST_INTR_SSP_TABLE_ADDR, VMCS_FIELD_COUNT - 1);
}

/* Every encoding that decodes as valid but is not in the table is unknown. */
static void test_unknown_encodings(void **state)
{
	(void)state;
	unsigned known = 0;
	for (uint32_t enc = 0; enc < 0x8000; enc++) {
		const struct vmcs_field *f = vmcs_field_find(enc);
		if (!vmcs_enc_reserved_ok(enc)) {
			assert_null(f);
			continue;
		}
		if (f) {
			known++;
			assert_int_equal(f->encoding, enc & ~1u);
		}
	}
	/* each field once, plus the high halves of the 64-bit ones */
	unsigned n64 = 0;
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
		n64 += vmcs_field_table[i].width == VMCS_WIDTH_64;
	assert_int_equal(known, VMCS_FIELD_COUNT + n64);
	assert_null(vmcs_field_find(0x6830));       /* after GUEST_INTR_SSP_TABLE_ADDR */
	assert_null(vmcs_field_find(0x10000 | VMCS_GUEST_CR0));
	assert_null(vmcs_field_find(0x1000 | VMCS_GUEST_CR0));  /* bit 12 reserved */
	assert_null(vmcs_field_find(0xffffffffu));
	assert_int_equal(vmcs_field_index(0x203c), -1);    /* TDX shared EPTP: not listed */
}

/* A sample, as the SDM appendix B tables list them. */
static void test_sample_lookups(void **state)
{
	(void)state;
	static const struct { uint32_t enc; const char *name; unsigned width, type; } s[] = {
		{ 0x0000, "VPID",                   16, VMCS_TYPE_CONTROL },
		{ 0x0802, "GUEST_CS_SELECTOR",      16, VMCS_TYPE_GUEST },
		{ 0x0c0c, "HOST_TR_SELECTOR",       16, VMCS_TYPE_HOST },
		{ 0x2000, "IO_BITMAP_A",            64, VMCS_TYPE_CONTROL },
		{ 0x201a, "EPT_POINTER",            64, VMCS_TYPE_CONTROL },
		{ 0x2400, "GUEST_PHYSICAL_ADDRESS", 64, VMCS_TYPE_EXIT_INFO },
		{ 0x2800, "VMCS_LINK_POINTER",      64, VMCS_TYPE_GUEST },
		{ 0x2c02, "HOST_IA32_EFER",         64, VMCS_TYPE_HOST },
		{ 0x4002, "PROC_BASED_CONTROLS",    32, VMCS_TYPE_CONTROL },
		{ 0x401e, "SECONDARY_CONTROLS",     32, VMCS_TYPE_CONTROL },
		{ 0x4402, "EXIT_REASON",            32, VMCS_TYPE_EXIT_INFO },
		{ 0x4826, "GUEST_ACTIVITY_STATE",   32, VMCS_TYPE_GUEST },
		{ 0x4c00, "HOST_IA32_SYSENTER_CS",  32, VMCS_TYPE_HOST },
		{ 0x6000, "CR0_GUEST_HOST_MASK",    VMCS_WIDTH_NATURAL, VMCS_TYPE_CONTROL },
		{ 0x6400, "EXIT_QUALIFICATION",     VMCS_WIDTH_NATURAL, VMCS_TYPE_EXIT_INFO },
		{ 0x6800, "GUEST_CR0",              VMCS_WIDTH_NATURAL, VMCS_TYPE_GUEST },
		{ 0x681e, "GUEST_RIP",              VMCS_WIDTH_NATURAL, VMCS_TYPE_GUEST },
		{ 0x6c16, "HOST_RIP",               VMCS_WIDTH_NATURAL, VMCS_TYPE_HOST },
	};
	for (unsigned i = 0; i < sizeof s / sizeof s[0]; i++) {
		const struct vmcs_field *f = vmcs_field_find(s[i].enc);
		assert_non_null(f);
		assert_string_equal(f->name, s[i].name);
		assert_int_equal(f->width, s[i].width);
		assert_int_equal(f->type, s[i].type);
	}
	assert_int_equal(VMCS_GUEST_CR0, 0x6800);
	assert_int_equal(VMCS_EPT_POINTER, 0x201a);
	assert_int_equal(vmcs_field_find(VMCS_EPT_POINTER)->exists_if, VMCS_FEAT_EPT);
	assert_int_equal(vmcs_field_find(VMCS_VPID)->exists_if, VMCS_FEAT_VPID);
	assert_int_equal(vmcs_field_find(VMCS_VMREAD_BITMAP)->exists_if, VMCS_FEAT_SHADOW_VMCS);
	assert_true(vmcs_field_find(VMCS_GUEST_RIP)->shadowable_candidate);
	assert_true(vmcs_field_find(VMCS_EXIT_QUALIFICATION)->shadowable_candidate);
	assert_false(vmcs_field_find(VMCS_EPT_POINTER)->shadowable_candidate);
	assert_false(vmcs_field_find(VMCS_HOST_RIP)->shadowable_candidate);
	/* HOST_RSP: L1 writes it before every VM entry (its stack moves) */
	assert_true(vmcs_field_find(VMCS_HOST_RSP)->shadowable_candidate);
}

/* Encoding bit helpers (25.11.2) on literals. */
static void test_decode_helpers(void **state)
{
	(void)state;
	assert_int_equal(vmcs_enc_width(0x2001), VMCS_ENC_W64);
	assert_true(vmcs_enc_is_high(0x2001));
	assert_int_equal(vmcs_enc_index(0x2004), 2);
	assert_int_equal(vmcs_enc_type(0x4402), VMCS_TYPE_EXIT_INFO);
	assert_int_equal(vmcs_enc_width(0x4402), VMCS_ENC_W32);
	assert_int_equal(vmcs_enc_type(0x6c00), VMCS_TYPE_HOST);
	assert_int_equal(vmcs_enc_width(0x6c00), VMCS_ENC_WNAT);
	assert_int_equal(vmcs_enc_width(0x0c00), VMCS_ENC_W16);
	assert_false(vmcs_enc_reserved_ok(0x7000));
}

/* vmcs_get / vmcs_set: VMWRITE truncation and the high-half access. */
static void test_get_set(void **state)
{
	(void)state;
	struct vmcs_image img;
	memset(&img, 0, sizeof img);

	assert_true(vmcs_set(&img, VMCS_VPID, 0x12345));
	assert_int_equal(vmcs_get(&img, VMCS_VPID), 0x2345);
	assert_true(vmcs_set(&img, VMCS_EXIT_CONTROLS, 0x1ffffffffull));
	assert_int_equal(vmcs_get(&img, VMCS_EXIT_CONTROLS), 0xffffffffu);
	assert_true(vmcs_set(&img, VMCS_EPT_POINTER, 0x1122334455667788ull));
	assert_int_equal(vmcs_get(&img, VMCS_EPT_POINTER | 1), 0x11223344u);
	assert_true(vmcs_set(&img, VMCS_EPT_POINTER | 1, 0xaabbccddu));
	assert_int_equal(vmcs_get(&img, VMCS_EPT_POINTER), 0xaabbccdd55667788ull);
	assert_true(vmcs_set(&img, VMCS_GUEST_RIP, 0xffffffff80001000ull));
	assert_int_equal(vmcs_get(&img, VMCS_GUEST_RIP), 0xffffffff80001000ull);
	assert_int_equal(img.v[VMCS_IDX_GUEST_RIP], 0xffffffff80001000ull);
	assert_false(vmcs_set(&img, 0x6830, 1));
	assert_false(vmcs_set(&img, VMCS_GUEST_RIP | 1, 1));   /* natural: no high half */
	assert_int_equal(vmcs_get(&img, 0x6830), 0);
}

/* vmcs_field_exists: driven by the capability MSRs' allowed-1 bits. */
static void test_exists_if(void **state)
{
	(void)state;
	struct vmx_caps caps;
	memset(&caps, 0, sizeof caps);

	assert_true(vmcs_field_exists(vmcs_field_find(VMCS_GUEST_CR0), &caps));
	assert_false(vmcs_field_exists(vmcs_field_find(VMCS_EPT_POINTER), &caps));
	/* EPT allowed in the secondary controls, but they cannot be activated */
	caps.procbased2 = (1ull << 1) << 32;
	assert_false(vmcs_field_exists(vmcs_field_find(VMCS_EPT_POINTER), &caps));
	caps.procbased = (1ull << 31) << 32;
	assert_true(vmcs_field_exists(vmcs_field_find(VMCS_EPT_POINTER), &caps));
	assert_true(vmcs_field_exists(vmcs_field_find(VMCS_GUEST_PDPTE2), &caps));
	assert_false(vmcs_field_exists(vmcs_field_find(VMCS_VPID), &caps));
	/* PAT fields: either the entry or an exit control */
	assert_false(vmcs_field_exists(vmcs_field_find(VMCS_GUEST_IA32_PAT), &caps));
	caps.exit = (1ull << 18) << 32;
	assert_true(vmcs_field_exists(vmcs_field_find(VMCS_GUEST_IA32_PAT), &caps));
	/* EPTP list: VMFUNC bit 0 and "enable VM functions" */
	caps.vmfunc = 1;
	assert_false(vmcs_field_exists(vmcs_field_find(VMCS_EPTP_LIST_ADDR), &caps));
	caps.procbased2 |= (1ull << 13) << 32;
	assert_true(vmcs_field_exists(vmcs_field_find(VMCS_EPTP_LIST_ADDR), &caps));
	/* CPUID-only features are reported absent */
	memset(&caps, 0xff, sizeof caps);
	assert_false(vmcs_field_exists(vmcs_field_find(VMCS_GUEST_UINV), &caps));
	assert_false(vmcs_feature_present(&caps, VMCS_FEAT__COUNT));
}

/* Control-MSR helpers (A.3). */
static void test_ctl_helpers(void **state)
{
	(void)state;
	uint64_t cap = 0x000000ff00000016ull;   /* pin-based, TRUE variant */
	assert_true(vmx_ctl_ok(cap, 0x16));
	assert_true(vmx_ctl_ok(cap, 0x3f));
	assert_false(vmx_ctl_ok(cap, 0x06));      /* bit 4 must be 1 */
	assert_false(vmx_ctl_ok(cap, 0x116));     /* bit 8 may not be 1 */
	assert_int_equal(vmx_ctl_adjust(cap, 0x109), 0x1f);
	assert_true(vmx_ctl_ok(cap, vmx_ctl_adjust(cap, 0xffffffffu)));
}

/* Names for diagnostics. */
static void test_error_and_exit_names(void **state)
{
	(void)state;
	assert_string_equal(vmx_insn_error_name(7), "VM entry with invalid control field(s)");
	assert_string_equal(vmx_insn_error_name(8), "VM entry with invalid host-state field(s)");
	assert_string_equal(vmx_insn_error_name(28), "invalid operand to INVEPT/INVVPID");
	assert_null(vmx_insn_error_name(0));
	assert_null(vmx_insn_error_name(14));
	assert_null(vmx_insn_error_name(29));
	unsigned named = 0;
	for (unsigned e = 1; e <= VMXERR__MAX; e++)
		named += vmx_insn_error_name(e) != NULL;
	assert_int_equal(named, 25);   /* 1..28 less reserved 14, 21, 27 */

	assert_string_equal(vmx_exit_reason_name(10), "CPUID");
	assert_string_equal(vmx_exit_reason_name(48), "EPT violation");
	assert_string_equal(vmx_exit_reason_name(0x80000021u), "VM-entry failure: invalid guest state");
	assert_null(vmx_exit_reason_name(35));
	assert_null(vmx_exit_reason_name(VMX_EXIT__MAX + 1));
	assert_int_equal(VMX_EXIT_ENTRY_FAIL_GUEST, 33);
	assert_int_equal(VMX_EXIT_PREEMPTION_TIMER, 52);
	assert_int_equal(VMX_EXIT_XSETBV, 55);
}

/* The O(1) index agrees with the binary search for every 15-bit encoding
 * (and both refuse everything outside). */
static void test_fast_index_matches_search(void **state)
{
	(void)state;
	for (uint32_t enc = 0; enc < 0x8000; enc++)
		assert_int_equal(vmcs_field_index(enc), vmcs_field_index_slow(enc));
	assert_int_equal(vmcs_field_index(0x10000 | 0x681e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_match_encoding),
		cmocka_unit_test(test_fast_index_matches_search),
		cmocka_unit_test(test_sorted_no_duplicates),
		cmocka_unit_test(test_index_density),
		cmocka_unit_test(test_unknown_encodings),
		cmocka_unit_test(test_sample_lookups),
		cmocka_unit_test(test_decode_helpers),
		cmocka_unit_test(test_get_set),
		cmocka_unit_test(test_exists_if),
		cmocka_unit_test(test_ctl_helpers),
		cmocka_unit_test(test_error_and_exit_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

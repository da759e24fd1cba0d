/*
 * libFuzzer target: the VM-entry checker (vmx/vmx_check.c) and the VMCS
 * field table (vmx/vmcs_fields.c) on arbitrary VMCS images and capability
 * values - what nested VMX will run on every VMLAUNCH/VMRESUME of L1.
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_vmx_check.c \
 *       vmx/vmx_check.c vmx/vmcs_fields.c -o build/fuzz/fuzz_vmx_check
 *   mkdir -p build/fuzz/corpus-vmx_check
 *   build/fuzz/fuzz_vmx_check build/fuzz/corpus-vmx_check tests/fuzz/corpus/vmx_check
 *
 * Input layout (little-endian):
 *    0  u8  MAXPHYADDR
 *    1  u8  flags: bit 0 = true_ctls
 *    2  u64 x 15 capability MSRs: basic, pinbased, procbased, procbased2,
 *           exit, entry, misc, cr0_fixed0, cr0_fixed1, cr4_fixed0,
 *           cr4_fixed1, ept_vpid, vmfunc, procbased3, exit2
 *  122  records, 10 bytes each: u16 field encoding, u64 value, written
 *       with vmcs_set() (VMWRITE semantics: truncated to the field's
 *       width, high-half encodings write bits 63:32; unknown encodings
 *       are skipped).  Fields not named are 0.
 * A short input is zero-padded.  The seeds in tests/fuzz/corpus/vmx_check
 * are the golden images of tests/unit/test_vmx_check.c (written by that
 * test with NESTOR_VMX_SEED_DIR set), so mutations start from enterable
 * VMCSs and reach the deep guest-state checks.
 *
 * The checker must never crash (ASan/UBSan), and for every input:
 *   - the count is within the table, failures come in table order with
 *     the class, name, SDM reference and exit qualification of their row;
 *   - each failure names a real field and its value in the image;
 *   - vmx_check_one() agrees with the list for every check;
 *   - asking for one failure gives the same count and the same first one;
 *   - the verdict follows from the first failure: VMfailValid 7 for a
 *     control check, 8 for a host check, exit 33 with the row's
 *     qualification for a guest check, OK for none; and no host or guest
 *     failure is reported first while a control failure exists;
 *   - field lookups are consistent for every encoding seen.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/vmx_check.h"

#include "tests/fuzz/fuzz_assert.h"

#define HDR 122

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void check_lookup(uint32_t enc)
{
	const struct vmcs_field *f = vmcs_field_find(enc);
	int i = vmcs_field_index(enc);

	CHECK((f == NULL) == (i < 0));
	if (!f)
		return;
	CHECK(f == &vmcs_field_table[i]);
	CHECK(f->encoding == (enc & ~1u));
	CHECK(!(enc & 1) || f->width == VMCS_WIDTH_64);
	CHECK(f->width == vmcs_enc_table_width(enc) && f->type == vmcs_enc_type(enc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmcs_image img;
	static struct vmx_check_failure fails[VMX_CHECK_COUNT];
	uint8_t hdr[HDR];
	struct vmx_caps caps;
	struct vmx_check_failure first;
	uint64_t capv[15];
	unsigned maxphy;
	bool failed[VMX_CHECK_COUNT];
	bool any_control = false;
	int n;

	memset(hdr, 0, sizeof hdr);
	memcpy(hdr, data, size < HDR ? size : HDR);
	maxphy = hdr[0];
	for (unsigned i = 0; i < 15; i++)
		capv[i] = le64(hdr + 2 + 8 * i);
	memset(&caps, 0, sizeof caps);
	caps.basic = capv[0];
	caps.pinbased = capv[1];
	caps.procbased = capv[2];
	caps.procbased2 = capv[3];
	caps.exit = capv[4];
	caps.entry = capv[5];
	caps.misc = capv[6];
	caps.cr0_fixed0 = capv[7];
	caps.cr0_fixed1 = capv[8];
	caps.cr4_fixed0 = capv[9];
	caps.cr4_fixed1 = capv[10];
	caps.ept_vpid = capv[11];
	caps.vmfunc = capv[12];
	caps.procbased3 = capv[13];
	caps.exit2 = capv[14];
	caps.true_ctls = hdr[1] & 1;

	memset(&img, 0, sizeof img);
	for (size_t off = HDR; size >= HDR && off + 10 <= size; off += 10) {
		uint32_t enc = data[off] | (uint32_t)data[off + 1] << 8;
		bool known = vmcs_set(&img, enc, le64(data + off + 2));
		CHECK(known == (vmcs_field_find(enc) != NULL));
		check_lookup(enc);
	}

	n = vmx_check_entry(&img, &caps, maxphy, fails, VMX_CHECK_COUNT);
	CHECK(n >= 0 && n <= VMX_CHECK_COUNT);

	memset(failed, 0, sizeof failed);
	for (int i = 0; i < n; i++) {
		const struct vmx_check_failure *f = &fails[i];
		const struct vmx_check *row;

		CHECK(f->id < VMX_CHECK_COUNT);
		CHECK(i == 0 || fails[i - 1].id < f->id);
		row = &vmx_check_table[f->id];
		CHECK(f->cls == row->cls && f->exit_qual == row->exit_qual);
		CHECK(f->name == row->name && f->sdm_ref == row->sdm_ref);
		CHECK(i == 0 || fails[i - 1].cls <= f->cls);
		CHECK(vmcs_field_find(f->field) != NULL);
		CHECK(f->value == vmcs_get(&img, f->field));
		failed[f->id] = true;
		any_control |= f->cls == VMX_CHECK_CONTROL;
	}
	for (unsigned id = 0; id < VMX_CHECK_COUNT; id++) {
		struct vmx_check_failure one;
		bool ok = vmx_check_one(id, &img, &caps, maxphy, &one);
		CHECK(ok == !failed[id]);
		if (!ok)
			CHECK(one.field == fails[0].field || one.id != fails[0].id);
	}

	/* one slot: same count, same first failure */
	CHECK(vmx_check_entry(&img, &caps, maxphy, &first, 1) == n);
	if (n > 0)
		CHECK(first.id == fails[0].id && first.field == fails[0].field &&
		      first.value == fails[0].value);
	CHECK(vmx_check_entry(&img, &caps, maxphy, NULL, 0) == n);

	/* the verdict */
	{
		uint32_t v = vmx_check_verdict(fails, n);
		if (n == 0) {
			CHECK(v == VMX_VERDICT_OK);
		} else if (fails[0].cls == VMX_CHECK_CONTROL) {
			CHECK(vmx_verdict_kind(v) == VMX_VERDICT_FAIL_VALID);
			CHECK(vmx_verdict_error(v) == VMXERR_ENTRY_INVALID_CONTROL);
		} else if (fails[0].cls == VMX_CHECK_HOST) {
			CHECK(!any_control);
			CHECK(vmx_verdict_kind(v) == VMX_VERDICT_FAIL_VALID);
			CHECK(vmx_verdict_error(v) == VMXERR_ENTRY_INVALID_HOST);
		} else {
			CHECK(!any_control);
			CHECK(vmx_verdict_kind(v) == VMX_VERDICT_ENTRY_FAIL_EXIT);
			CHECK(vmx_verdict_reason(v) == VMX_EXIT_ENTRY_FAIL_GUEST);
			CHECK(vmx_verdict_qual(v) == fails[0].exit_qual);
			CHECK(vmx_verdict_qual(v) == 0 || vmx_verdict_qual(v) == 2 ||
			      vmx_verdict_qual(v) == 3 || vmx_verdict_qual(v) == 4);
		}
		CHECK(vmx_insn_error_name(vmx_verdict_error(v)) != NULL || n == 0 ||
		      vmx_verdict_kind(v) == VMX_VERDICT_ENTRY_FAIL_EXIT);
		CHECK(vmx_exit_reason_name(VMX_EXIT_ENTRY_FAIL_GUEST) != NULL);
	}
	return 0;
}

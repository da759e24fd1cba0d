/*
 * libFuzzer target: sequences of emulated VMREAD/VMWRITE on a vmcs12
 * (vmx/nested/vmcs12.c) against a model written from the SDM rules, then
 * a store/load round trip through gmem.
 *
 * Input: 3 bytes of capabilities (bit 0 of byte 0: MISC bit 29 "VMWRITE
 * to any field"; bytes 1-2: the allowed-1 bits 15:0 of the secondary
 * controls), then records of 13 bytes: op (bit 0 write, bit 1 raw
 * encoding, bit 2 high half), 4 bytes encoding or table index, 8 bytes
 * value.
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined \
 *       tests/fuzz/fuzz_nvmx_vmcs12.c vmx/nested/vmcs12.c vmx/vmcs_fields.c mm/gmem.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/nested/vmcs12.h"

#include "tests/fuzz/fuzz_assert.h"

static uint8_t ram[0x2000] __attribute__((aligned(4096)));

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The model: values by full encoding, semantics from 25.11.2 directly. */
static uint64_t model[VMCS_FIELD_COUNT];

static int model_idx(uint32_t full)
{
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
		if (vmcs_field_table[i].encoding == full)
			return (int)i;
	return -1;
}

static uint64_t width_mask(uint32_t full)
{
	switch ((full >> 13) & 3) {
	case 0: return 0xffffull;
	case 2: return 0xffffffffull;
	default: return ~0ull;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmx_caps caps;
	struct vmcs_image img, back;
	struct gmem g;
	bool launched;

	if (size < 3)
		return 0;
	memset(&caps, 0, sizeof caps);
	caps.misc = (data[0] & 1) ? VMX_MISC_VMWRITE_ANY : 0;
	caps.procbased2 = get_le(data + 1, 2) << 32;
	caps.pinbased = 0xffull << 32;
	memset(&img, 0, sizeof img);
	memset(model, 0, sizeof model);
	data += 3;
	size -= 3;

	for (; size >= 13; data += 13, size -= 13) {
		uint8_t op = data[0];
		uint64_t enc = get_le(data + 1, 4), val = get_le(data + 5, 8);
		uint32_t full, err;
		int idx;
		bool high, exists;

		if (!(op & 2)) {        /* a valid encoding from the table */
			enc = vmcs_field_table[enc % VMCS_FIELD_COUNT].encoding;
			if ((op & 4) && vmcs_field_table[model_idx((uint32_t)enc)].width == 64)
				enc |= 1;
		}
		if (op & 8)
			enc |= (uint64_t)data[4] << 32;  /* 64-bit register noise */
		full = (uint32_t)enc & ~1u;
		high = enc & 1;
		idx = enc > UINT32_MAX ? -1 : model_idx(full);
		exists = idx >= 0 && vmcs_field_exists(&vmcs_field_table[idx], &caps) &&
			 (!high || ((full >> 13) & 3) == 1);

		if (op & 1) {
			bool ro = ((full >> 10) & 3) == 1 && !(caps.misc & VMX_MISC_VMWRITE_ANY);
			err = vmcs12_vmwrite(&img, &caps, enc, val);
			if (!exists) {
				CHECK(err == VMXERR_UNSUPPORTED_FIELD);
			} else if (ro) {
				CHECK(err == VMXERR_VMWRITE_READ_ONLY);
			} else {
				CHECK(err == 0);
				if (high)
					model[idx] = (model[idx] & 0xffffffffull) | (val << 32);
				else
					model[idx] = val & width_mask(full);
			}
		} else {
			uint64_t v = 0x5a5a;
			err = vmcs12_vmread(&img, &caps, enc, &v);
			if (!exists) {
				CHECK(err == VMXERR_UNSUPPORTED_FIELD);
				CHECK(v == 0x5a5a);
			} else {
				CHECK(err == 0);
				CHECK(v == (high ? model[idx] >> 32 : model[idx]));
			}
		}
	}

	/* the region round trip keeps every value */
	gmem_init(&g);
	CHECK(gmem_add(&g, 0x3000, sizeof ram, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0) == 0);
	CHECK(vmcs12_store(&g, 0x3000, &img, true) == 0);
	CHECK(vmcs12_load(&g, 0x3000, &back, &launched) == 0);
	CHECK(launched);
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
		CHECK(vmcs_get(&back, vmcs_field_table[i].encoding) ==
		      vmcs_get(&img, vmcs_field_table[i].encoding));
	return 0;
}

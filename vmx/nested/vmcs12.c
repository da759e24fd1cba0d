/*
 * vmcs12: L1's VMCS region and the emulated VMREAD/VMWRITE semantics.
 * See vmx/nested/vmcs12.h for the layout and the rules.
 */
#include "vmx/nested/vmcs12.h"

#include <string.h>

/*
 * The layout is the dense-index order of vmx/vmcs_fields.h.  If the field
 * table changes, regions written by an older Nestor no longer match: bump
 * VMCS12_LAYOUT_VERSION (so VMPTRLD refuses them with error 11) and update
 * this number and docs/nested-vmx.md.
 */
_Static_assert(VMCS_FIELD_COUNT == 199,
	       "vmx/vmcs_fields.h changed: bump VMCS12_LAYOUT_VERSION");
_Static_assert(VMCS12_DATA_SIZE <= VMCS12_REGION_SIZE, "vmcs12 does not fit 4 KiB");
_Static_assert(sizeof(struct vmcs_image) == 8u * VMCS_FIELD_COUNT, "vmcs_image layout");
_Static_assert(sizeof(struct vmcs12_header) == VMCS12_OFF_FIELDS, "header layout");

uint64_t vmcs12_basic_msr(uint64_t host_basic)
{
	uint64_t b = host_basic;

	b &= ~0x7fffffffull;                    /* bits 30:0 revision id */
	b &= ~(1ull << 31);                     /* bit 31 is always 0 */
	b &= ~(0x1fffull << 32);                /* bits 44:32 region size */
	b |= VMCS12_REVISION;
	b |= (uint64_t)VMCS12_REGION_SIZE << 32;
	return b;
}

uint64_t vmcs12_vmcs_enum(const struct vmx_caps *caps)
{
	unsigned max = 0;

	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++) {
		const struct vmcs_field *f = &vmcs_field_table[i];
		if (vmcs_field_exists(f, caps) && vmcs_enc_index(f->encoding) > max)
			max = vmcs_enc_index(f->encoding);
	}
	return (uint64_t)max << 1;
}

int vmcs12_load(const struct gmem *l1, uint64_t gpa, struct vmcs_image *img,
		bool *launched)
{
	struct vmcs12_header h;

	/* Both parts must be readable before anything is changed. */
	if (gpa > UINT64_MAX - VMCS12_DATA_SIZE ||
	    gmem_read(l1, gpa, &h, sizeof h) != 0)
		return -1;
	if (gmem_read(l1, gpa + VMCS12_OFF_FIELDS, img, sizeof *img) != 0)
		return -1;
	*launched = h.launch == VMCS12_LAUNCHED;
	return 0;
}

int vmcs12_store(const struct gmem *l1, uint64_t gpa, const struct vmcs_image *img,
		 bool launched)
{
	uint32_t w[2] = { launched ? VMCS12_LAUNCHED : 0u, VMCS12_MAGIC };

	/*
	 * Two writes, each all-or-nothing.  A region is 4 KiB aligned (VMPTRLD
	 * checks) and gmem ranges are 4 KiB aligned, so the whole data lies in
	 * one page that is either RAM or not: the second write cannot fail
	 * after the first succeeded.  The unaligned case (only reachable by a
	 * direct caller) is refused up front.
	 */
	if ((gpa & (VMCS12_REGION_SIZE - 1)) != 0)
		return -1;
	if (gmem_write(l1, gpa + VMCS12_OFF_FIELDS, img, sizeof *img) != 0)
		return -1;
	return gmem_write(l1, gpa + VMCS12_OFF_LAUNCH, w, sizeof w) == 0 ? 0 : -1;
}

int vmcs12_read_revision(const struct gmem *l1, uint64_t gpa, uint32_t *rev)
{
	return gmem_read(l1, gpa, rev, sizeof *rev) == 0 ? 0 : -1;
}

int vmcs12_set_launch_state(const struct gmem *l1, uint64_t gpa, bool launched)
{
	uint32_t w = launched ? VMCS12_LAUNCHED : 0u;

	if (gpa > UINT64_MAX - VMCS12_OFF_LAUNCH)
		return -1;
	return gmem_write(l1, gpa + VMCS12_OFF_LAUNCH, &w, sizeof w) == 0 ? 0 : -1;
}

int vmcs12_set_abort(const struct gmem *l1, uint64_t gpa, uint32_t abort)
{
	if (gpa > UINT64_MAX - VMCS12_OFF_ABORT)
		return -1;
	return gmem_write(l1, gpa + VMCS12_OFF_ABORT, &abort, sizeof abort) == 0 ? 0 : -1;
}

const struct vmcs_field *vmcs12_field(const struct vmx_caps *caps, uint64_t enc)
{
	const struct vmcs_field *f;

	if (enc > UINT32_MAX)           /* 64-bit mode: bits 63:32 must be 0 */
		return NULL;
	f = vmcs_field_find((uint32_t)enc);
	if (f == NULL || !vmcs_field_exists(f, caps))
		return NULL;
	/* The high encoding names only 64-bit fields (25.11.2). */
	if (vmcs_enc_is_high((uint32_t)enc) && f->width != VMCS_WIDTH_64)
		return NULL;
	return f;
}

uint32_t vmcs12_vmread(const struct vmcs_image *img, const struct vmx_caps *caps,
		       uint64_t enc, uint64_t *val)
{
	if (vmcs12_field(caps, enc) == NULL)
		return VMXERR_UNSUPPORTED_FIELD;
	*val = vmcs_get(img, (uint32_t)enc);
	return 0;
}

uint32_t vmcs12_vmwrite(struct vmcs_image *img, const struct vmx_caps *caps,
			uint64_t enc, uint64_t val)
{
	const struct vmcs_field *f = vmcs12_field(caps, enc);

	if (f == NULL)
		return VMXERR_UNSUPPORTED_FIELD;
	if (f->type == VMCS_TYPE_EXIT_INFO && !(caps->misc & VMX_MISC_VMWRITE_ANY))
		return VMXERR_VMWRITE_READ_ONLY;
	vmcs_set(img, (uint32_t)enc, val);
	return 0;
}

/*
 * vmcs12: L1's VMCS as Nestor keeps it.
 *
 * L1 is a hypervisor.  It allocates 4 KiB "VMCS regions" in its own RAM,
 * writes the VMCS revision identifier Nestor advertises (IA32_VMX_BASIC
 * bits 30:0) at offset 0, and from then on treats the region as opaque:
 * it names fields by encoding through VMREAD/VMWRITE, which Nestor
 * emulates (SDM vol. 3C 25.2 "Format of the VMCS region": "software should
 * not access the VMCS data directly").  So the format of the rest of the
 * region is Nestor's to choose, exactly as a CPU's is its own.
 *
 * The layout (stable; docs/nested-vmx.md shows it as a picture):
 *
 *   offset  size  contents
 *   0       4     revision identifier: bits 30:0 = VMCS12_REVISION,
 *                 bit 31 = shadow-VMCS indicator (SDM 25.2)
 *   4       4     VMX-abort indicator (SDM 25.2, 28.7): written by Nestor
 *                 when a VM exit to L1 cannot load L1's host state
 *   8       4     launch state: VMCS12_LAUNCHED (0x4c61754e, "NuaL")
 *                 means "launched"; any other value means "clear"
 *   12      4     layout magic VMCS12_MAGIC ("N12v"), written on store
 *   16      8*N   the field values, one little-endian u64 per field,
 *                 in the order of the dense indexes of vmx/vmcs_fields.h
 *                 (field i at offset 16 + 8*i; N = VMCS_FIELD_COUNT = 199),
 *                 i.e. exactly a struct vmcs_image
 *   ...           up to 4096: unused (Nestor advertises a 4 KiB region,
 *                 IA32_VMX_BASIC bits 44:32 = 4096)
 *
 * Why the dense-index array: load and store are one copy of a struct
 * vmcs_image, every other module (the VM-entry checker, the merge, the
 * exit reflection) already works on that struct, and a VMREAD is a table
 * search plus an array read.  Its weakness is that inserting a field into
 * the table moves the ones after it.  The revision identifier is the
 * SDM's answer to exactly that (a CPU with a different VMCS format has a
 * different revision id): VMCS12_REVISION encodes the layout version, and
 * vmcs12.c refuses to compile if VMCS_FIELD_COUNT changes without a new
 * version.  A region of an older layout is then refused by VMPTRLD with
 * error 11, as a real CPU would.
 *
 * The cache: between VMPTRLD and VMCLEAR (or the next VMPTRLD, or VMXOFF)
 * the *current* vmcs12 lives in L0 memory as a struct vmcs_image
 * (nested state of the vCPU, vmx/nested/vmx_insn.h); the region in L1 RAM
 * is only read at VMPTRLD and written back at VMCLEAR.  The SDM allows
 * this ("the processor may cache... VMCLEAR ensures data is written to the
 * VMCS region"), and it makes L1's writes to the region itself (which the
 * SDM calls undefined) unable to change a VMCS L0 is using.
 *
 * VMREAD/VMWRITE (SDM vol. 3C 31.3, "VMREAD", "VMWRITE"):
 *   - a field exists if it is in the table and its exists-if capability is
 *     advertised to L1 (the struct vmx_caps Nestor reports in L1's VMX
 *     MSRs), and the encoding is full, or high for a 64-bit field; in
 *     64-bit mode bits 63:32 of the encoding register must be 0.  Otherwise
 *     VMfailValid(12) "unsupported VMCS component".
 *   - VMWRITE to a VM-exit information field (type 1) gives VMfailValid(13)
 *     unless IA32_VMX_MISC bit 29 ("VMWRITE to any field") is advertised.
 *   - values are truncated to the field's width; the high encoding of a
 *     64-bit field reads/writes bits 63:32 (vmcs_get/vmcs_set).
 *
 * Pure code over plain data; L1 memory only through mm/gmem.h.
 * Tested in tests/unit/test_nvmx_vmcs12.c, fuzzed in
 * tests/fuzz/fuzz_nvmx_vmcs12.c.
 */
#ifndef NESTOR_VMX_NESTED_VMCS12_H
#define NESTOR_VMX_NESTED_VMCS12_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/gmem.h"
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_caps.h"

/* Layout version 1; the revision id L1 must write at offset 0.  Bits
 * 30:0 only (bit 31 is the shadow-VMCS indicator). */
#define VMCS12_LAYOUT_VERSION   1u
#define VMCS12_REVISION         (0x4e000000u | VMCS12_LAYOUT_VERSION) /* 'N' */

#define VMCS12_OFF_REVISION     0u
#define VMCS12_OFF_ABORT        4u
#define VMCS12_OFF_LAUNCH       8u
#define VMCS12_OFF_MAGIC        12u
#define VMCS12_OFF_FIELDS       16u
#define VMCS12_REGION_SIZE      4096u   /* advertised in IA32_VMX_BASIC 44:32 */
#define VMCS12_DATA_SIZE        (VMCS12_OFF_FIELDS + 8u * VMCS_FIELD_COUNT)

#define VMCS12_SHADOW_INDICATOR (1u << 31)
#define VMCS12_LAUNCHED         0x4c61754eu
#define VMCS12_MAGIC            0x7632314eu

/* The header words of a region, as stored. */
struct vmcs12_header {
	uint32_t revision;      /* bits 30:0 revision, bit 31 shadow indicator */
	uint32_t abort;
	uint32_t launch;
	uint32_t magic;
};

/* IA32_VMX_BASIC as Nestor advertises it, from the host's value: our
 * revision id and region size, everything else (memory type, TRUE
 * controls, INS/OUTS info, ...) as the host reports. */
uint64_t vmcs12_basic_msr(uint64_t host_basic);

/* IA32_VMX_VMCS_ENUM (SDM A.9): bits 9:1 = the highest index (bits 9:1 of
 * an encoding) of any field that exists under caps. */
uint64_t vmcs12_vmcs_enum(const struct vmx_caps *caps);

/*
 * Copy the region at gpa (in L1 RAM) into img and *launched.  Returns 0,
 * or -1 if the VMCS12_DATA_SIZE bytes at gpa are not all L1 RAM/ROM (then
 * img is unchanged).  The revision id is not checked here (VMPTRLD does).
 * Values are taken as stored: the width truncation of vmcs_get makes
 * garbage in unused upper bits harmless.
 */
int vmcs12_load(const struct gmem *l1, uint64_t gpa, struct vmcs_image *img,
		bool *launched);

/*
 * Write img and the launch state back to the region at gpa, keeping the
 * revision id and abort indicator L1 wrote.  Returns 0, or -1 if the bytes
 * are not all L1 RAM (nothing written).
 */
int vmcs12_store(const struct gmem *l1, uint64_t gpa, const struct vmcs_image *img,
		 bool launched);

/* Read the 4-byte revision word at gpa (VMXON, VMPTRLD).  -1 if not RAM/ROM. */
int vmcs12_read_revision(const struct gmem *l1, uint64_t gpa, uint32_t *rev);

/* Set only the launch-state word of the region at gpa (VMCLEAR of a VMCS
 * that is not current).  -1 if not RAM. */
int vmcs12_set_launch_state(const struct gmem *l1, uint64_t gpa, bool launched);

/* Write the VMX-abort indicator (SDM 28.7).  -1 if not RAM. */
int vmcs12_set_abort(const struct gmem *l1, uint64_t gpa, uint32_t abort);

/*
 * The field an encoding names for L1, or NULL if it does not exist under
 * caps (VMfailValid 12).  enc is the full 64-bit register operand of
 * VMREAD/VMWRITE (in 64-bit mode bits 63:32 must be 0).
 */
const struct vmcs_field *vmcs12_field(const struct vmx_caps *caps, uint64_t enc);

/*
 * VMREAD: returns 0 and the field's value in *val (the high encoding of a
 * 64-bit field gives bits 63:32), or VMXERR_UNSUPPORTED_FIELD (12).  The
 * caller truncates *val to the operand size (32 bits outside 64-bit mode).
 */
uint32_t vmcs12_vmread(const struct vmcs_image *img, const struct vmx_caps *caps,
		       uint64_t enc, uint64_t *val);

/*
 * VMWRITE: returns 0 having written val (truncated to the width), or
 * VMXERR_UNSUPPORTED_FIELD (12), or VMXERR_VMWRITE_READ_ONLY (13) for an
 * exit-information field when MISC bit 29 is not advertised.  Nothing is
 * written on error.
 */
uint32_t vmcs12_vmwrite(struct vmcs_image *img, const struct vmx_caps *caps,
			uint64_t enc, uint64_t val);

/* IA32_VMX_MISC bit 29: VMWRITE may write any field, exit info included. */
#define VMX_MISC_VMWRITE_ANY    (1ull << 29)

#endif

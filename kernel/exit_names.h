/*
 * Names of the vendors' raw exit codes, for reports of trace records
 * (tools/nestor-trace).  SVM: the EXITCODE values of AMD APM vol. 2
 * appendix C, one table.  VMX: the basic exit reasons of Intel SDM vol. 3
 * appendix C, already tabled in vmx/vmcs_fields.c (vmx_exit_reason_name):
 * that one table is reused, not copied, so link vmx/vmcs_fields.c too.
 *
 * Header-only (static): today only host programs include it.
 */
#ifndef NESTOR_EXIT_NAMES_H
#define NESTOR_EXIT_NAMES_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "kernel/trace.h"
#include "vmx/vmcs_fields.h"

/* The single codes; the ranges (CR/DR accesses, exceptions, CR write
 * traps) are named by svm_exit_name() below. */
static const struct { uint64_t code; const char *name; } svm_exit_names[] = {
	{ 0x060, "INTR" },          { 0x061, "NMI" },          { 0x062, "SMI" },
	{ 0x063, "INIT" },          { 0x064, "VINTR" },        { 0x065, "CR0_SEL_WRITE" },
	{ 0x066, "IDTR_READ" },     { 0x067, "GDTR_READ" },    { 0x068, "LDTR_READ" },
	{ 0x069, "TR_READ" },       { 0x06a, "IDTR_WRITE" },   { 0x06b, "GDTR_WRITE" },
	{ 0x06c, "LDTR_WRITE" },    { 0x06d, "TR_WRITE" },     { 0x06e, "RDTSC" },
	{ 0x06f, "RDPMC" },         { 0x070, "PUSHF" },        { 0x071, "POPF" },
	{ 0x072, "CPUID" },         { 0x073, "RSM" },          { 0x074, "IRET" },
	{ 0x075, "SWINT" },         { 0x076, "INVD" },         { 0x077, "PAUSE" },
	{ 0x078, "HLT" },           { 0x079, "INVLPG" },       { 0x07a, "INVLPGA" },
	{ 0x07b, "IOIO" },          { 0x07c, "MSR" },          { 0x07d, "TASK_SWITCH" },
	{ 0x07e, "FERR_FREEZE" },   { 0x07f, "SHUTDOWN" },     { 0x080, "VMRUN" },
	{ 0x081, "VMMCALL" },       { 0x082, "VMLOAD" },       { 0x083, "VMSAVE" },
	{ 0x084, "STGI" },          { 0x085, "CLGI" },         { 0x086, "SKINIT" },
	{ 0x087, "RDTSCP" },        { 0x088, "ICEBP" },        { 0x089, "WBINVD" },
	{ 0x08a, "MONITOR" },       { 0x08b, "MWAIT" },        { 0x08c, "MWAIT_CONDITIONAL" },
	{ 0x08d, "XSETBV" },        { 0x08e, "RDPRU" },        { 0x08f, "EFER_WRITE_TRAP" },
	{ 0x0a0, "INVLPGB" },       { 0x0a1, "INVLPGB_ILLEGAL" }, { 0x0a2, "INVPCID" },
	{ 0x0a3, "MCOMMIT" },       { 0x0a4, "TLBSYNC" },      { 0x0a5, "BUSLOCK" },
	{ 0x0a6, "IDLE_HLT" },
	{ 0x400, "NPF" },           { 0x401, "AVIC_INCOMPLETE_IPI" }, { 0x402, "AVIC_NOACCEL" },
	{ 0x403, "VMGEXIT" },
	{ (uint64_t)-1, "INVALID" }, { (uint64_t)-2, "BUSY" },  { (uint64_t)-3, "IDLE_REQUIRED" },
	{ (uint64_t)-4, "INVALID_PMC" },
};

/* "CPUID", "CR3_READ", "EXCP14"; NULL when the code is not one the APM
 * defines.  buf holds the names made from a range (24 bytes suffice). */
static inline const char *svm_exit_name(uint64_t code, char *buf, size_t len)
{
	static const char *const range[] = { "CR%u_READ", "CR%u_WRITE", "DR%u_READ", "DR%u_WRITE" };
	if (code < 0x40) {
		snprintf(buf, len, range[code >> 4], (unsigned)(code & 15));
		return buf;
	}
	if (code < 0x60) {
		snprintf(buf, len, "EXCP%u", (unsigned)(code - 0x40));
		return buf;
	}
	if (code >= 0x90 && code < 0xa0) {
		snprintf(buf, len, "CR%u_WRITE_TRAP", (unsigned)(code - 0x90));
		return buf;
	}
	for (size_t i = 0; i < sizeof(svm_exit_names) / sizeof(svm_exit_names[0]); i++)
		if (svm_exit_names[i].code == code)
			return svm_exit_names[i].name;
	return NULL;
}

/* The name of a trace record's reason, whatever its vendor; "?" when
 * unknown.  VMX: bit 31 (VM-entry failure) is part of the reason.  buf:
 * EXIT_NAME_MAX bytes. */
#define EXIT_NAME_MAX 80
static inline const char *exit_reason_name(unsigned vendor, uint64_t reason, char *buf, size_t len)
{
	const char *name = NULL;
	if (vendor == TRACE_SVM)
		name = svm_exit_name(reason, buf, len);
	else if (vendor == TRACE_VMX && reason <= UINT32_MAX) {
		name = vmx_exit_reason_name((uint32_t)reason);
		/* Reasons 33, 34, 41 already say so in their names. */
		if (name && (reason & VMX_EXIT_REASON_ENTRY_FAILURE) && strncmp(name, "VM-entry failure", 16) != 0) {
			snprintf(buf, len, "VM-entry failure: %s", name);
			name = buf;
		}
	}
	return name ? name : "?";
}
#endif

/*
 * elf_load: check the embedded kernel ELF before we touch any memory.
 *
 * Pure C over a byte buffer (no UEFI calls), so the checks can also run in
 * host unit tests.  The loader (loader.c) asks for the PT_LOAD segments one
 * by one and does the page allocation and copying itself.
 *
 * Only what the gABI ("System V ABI", ch. 4 "Object Files" and ch. 5
 * "Program Loading") says is needed for an executable is declared here.
 */
#ifndef NESTOR_EFI_ELF_LOAD_H
#define NESTOR_EFI_ELF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_PHNUM 64 /* a sane kernel has a handful of segments */

struct elf64_ehdr {
	uint8_t e_ident[16];
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint64_t e_entry;
	uint64_t e_phoff;
	uint64_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize;
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
};

struct elf64_phdr {
	uint32_t p_type;
	uint32_t p_flags;
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
};

#define ELF_PT_LOAD 1
#define ELF_ET_EXEC 2
#define ELF_EM_X86_64 62

/* One loadable segment, as the loader needs it. */
struct elf_segment {
	unsigned index;     /* program header index, for messages */
	uint64_t paddr;     /* where it goes (== vaddr: identity mapped) */
	const void *data;   /* filesz bytes inside the blob */
	uint64_t filesz;
	uint64_t memsz;     /* >= filesz; the tail is zeroed (.bss) */
};

/*
 * Check the whole image: header, program header table and every PT_LOAD
 * segment.  Returns NULL if it is loadable, else a short reason (ASCII,
 * static) and, when the fault is in one segment, its index in *bad_index
 * (else -1).  limit is the highest address + 1 a segment may reach.
 */
const char *elf_check(const void *blob, size_t size, uint64_t limit,
		      int *bad_index);

/* After elf_check() succeeded: the number of program headers, and the n-th
 * one if it is PT_LOAD (returns 1 and fills *seg) or 0 for other types. */
unsigned elf_phnum(const void *blob);
int elf_segment(const void *blob, unsigned n, struct elf_segment *seg);
uint64_t elf_entry(const void *blob);

#endif

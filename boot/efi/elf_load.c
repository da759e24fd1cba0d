/*
 * elf_load: validation of the kernel ELF carried inside BOOTX64.EFI.
 *
 * The blob is ours (linked into this very file), but the checks are cheap
 * and turn a wrong build (32-bit ELF, stripped to a raw binary, a segment
 * above the allowed range) into a clear message instead of a silent jump
 * into garbage.  Nothing is trusted before it was bounds-checked.
 */
#include "boot/efi/elf_load.h"

static const struct elf64_ehdr *ehdr(const void *blob)
{
	return (const struct elf64_ehdr *)blob;
}

static const struct elf64_phdr *phdr(const void *blob, unsigned n)
{
	const uint8_t *base = blob;

	return (const struct elf64_phdr *)(base + ehdr(blob)->e_phoff +
					   (uint64_t)n * sizeof(struct elf64_phdr));
}

/* a + b <= limit, without wrapping */
static int fits(uint64_t a, uint64_t b, uint64_t limit)
{
	return a <= limit && b <= limit - a;
}

const char *elf_check(const void *blob, size_t size, uint64_t limit,
		      int *bad_index)
{
	const struct elf64_ehdr *eh = ehdr(blob);
	int entry_in_segment = 0;

	*bad_index = -1;
	if (size < sizeof(*eh))
		return "image smaller than an ELF header";
	if (eh->e_ident[0] != 0x7f || eh->e_ident[1] != 'E' ||
	    eh->e_ident[2] != 'L' || eh->e_ident[3] != 'F')
		return "no ELF magic";
	if (eh->e_ident[4] != 2) /* EI_CLASS: ELFCLASS64 */
		return "not a 64-bit ELF";
	if (eh->e_ident[5] != 1) /* EI_DATA: ELFDATA2LSB */
		return "not little-endian";
	if (eh->e_type != ELF_ET_EXEC)
		return "not an executable (ET_EXEC)";
	if (eh->e_machine != ELF_EM_X86_64)
		return "not an x86-64 ELF";
	if (eh->e_phentsize != sizeof(struct elf64_phdr))
		return "unexpected program header size";
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHNUM)
		return "program header count out of range";
	if (eh->e_phoff % 8 != 0 ||
	    !fits(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr),
		  size))
		return "program headers outside the image";

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *ph = phdr(blob, i);

		if (ph->p_type != ELF_PT_LOAD)
			continue;
		*bad_index = (int)i;
		if (!fits(ph->p_offset, ph->p_filesz, size))
			return "segment data outside the image";
		if (ph->p_filesz > ph->p_memsz)
			return "segment filesz > memsz";
		/* We load at p_paddr on an identity mapping, so the kernel's
		 * link addresses must be the same (linker.ld: AT() == VMA). */
		if (ph->p_paddr != ph->p_vaddr)
			return "segment p_paddr != p_vaddr";
		if (!fits(ph->p_paddr, ph->p_memsz, limit))
			return "segment outside the allowed address range";
		/* Segments are copied one after the other: an overlap
		 * would let a later one overwrite an earlier one. */
		for (unsigned j = 0; j < i; j++) {
			const struct elf64_phdr *q = phdr(blob, j);

			if (q->p_type == ELF_PT_LOAD &&
			    ph->p_paddr < q->p_paddr + q->p_memsz &&
			    q->p_paddr < ph->p_paddr + ph->p_memsz)
				return "segments overlap in memory";
		}
		if (eh->e_entry >= ph->p_paddr &&
		    eh->e_entry - ph->p_paddr < ph->p_memsz)
			entry_in_segment = 1;
	}
	*bad_index = -1;
	if (!entry_in_segment)
		return "entry point not inside a PT_LOAD segment";
	return NULL;
}

unsigned elf_phnum(const void *blob)
{
	return ehdr(blob)->e_phnum;
}

int elf_segment(const void *blob, unsigned n, struct elf_segment *seg)
{
	const struct elf64_phdr *ph = phdr(blob, n);

	if (ph->p_type != ELF_PT_LOAD)
		return 0;
	seg->index = n;
	seg->paddr = ph->p_paddr;
	seg->data = (const uint8_t *)blob + ph->p_offset;
	seg->filesz = ph->p_filesz;
	seg->memsz = ph->p_memsz;
	return 1;
}

uint64_t elf_entry(const void *blob)
{
	return ehdr(blob)->e_entry;
}

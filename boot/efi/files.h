/*
 * files: reading whole files from the ESP we were loaded from.
 */
#ifndef NESTOR_EFI_FILES_H
#define NESTOR_EFI_FILES_H

#include <efi.h>

/* The directories a file is looked up in, in order: the one holding
 * BOOTX64.EFI (normally \EFI\BOOT\), then the root of the volume. */
struct esp {
	EFI_FILE_HANDLE root;
	EFI_FILE_HANDLE image_dir; /* == root if the image sits in the root */
};

/* A file loaded into EfiLoaderData pages (they survive ExitBootServices;
 * boot_info marks them MEM_RESERVED). */
struct loaded_file {
	EFI_PHYSICAL_ADDRESS addr;
	UINT64 size;
};

EFI_STATUS esp_open(EFI_HANDLE image, struct esp *esp);
void esp_close(struct esp *esp);

/*
 * Read the file called name (ASCII, '/' or '\\' separators, relative to dir)
 * into fresh pages.  Returns EFI_NOT_FOUND if it does not exist, other
 * errors as the firmware reported them.
 */
EFI_STATUS file_load(EFI_FILE_HANDLE dir, const char *name,
		     struct loaded_file *out);

#endif

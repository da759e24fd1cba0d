/*
 * files: the ESP (EFI system partition) as the loader sees it.
 *
 * BOOTX64.EFI was read by the firmware from some FAT volume; the same
 * volume carries nestor.cfg and the guest images.  We find it through the
 * Loaded Image protocol (UEFI 2.10 sec. 9.1: DeviceHandle is the device the
 * image came from, FilePath the file on it) and read it with the Simple File
 * System and File protocols (sec. 13.4, 13.5).
 */
#include <efi.h>
#include <efilib.h>

#include "boot/efi/files.h"

#define PATH_MAX_CHARS 256

/* Large reads are split: some firmware FAT drivers have been seen to fail
 * on single multi-megabyte reads (the Linux EFI stub reads 1 MiB at a time
 * for the same reason).  It costs nothing. */
#define READ_CHUNK (1024 * 1024)

/* Below 4 GiB first: an early kernel may only map the low 4 GiB. */
#define LOW_LIMIT 0xffffffffull

/*
 * The directory part of the image's own path, e.g. L"\\EFI\\BOOT" for
 * \EFI\BOOT\BOOTX64.EFI.  The path may be split over several file-path
 * nodes (UEFI 2.10 sec. 10.3.5.4), so the nodes are concatenated.
 * Returns FALSE if no usable path was found.
 */
static BOOLEAN image_dir_path(EFI_DEVICE_PATH *dp, CHAR16 *out, UINTN max)
{
	UINTN len = 0, last_sep = 0;

	for (; dp && !IsDevicePathEnd(dp); dp = NextDevicePathNode(dp)) {
		FILEPATH_DEVICE_PATH *fp = (FILEPATH_DEVICE_PATH *)dp;
		UINTN node_chars;

		if (DevicePathType(dp) != MEDIA_DEVICE_PATH ||
		    DevicePathSubType(dp) != MEDIA_FILEPATH_DP)
			continue;
		node_chars = (DevicePathNodeLength(dp) -
			      SIZE_OF_FILEPATH_DEVICE_PATH) / sizeof(CHAR16);
		if (len > 0 && out[len - 1] != L'\\' && node_chars > 0 &&
		    fp->PathName[0] != L'\\') {
			if (len + 1 >= max)
				return FALSE;
			out[len++] = L'\\';
		}
		for (UINTN i = 0; i < node_chars && fp->PathName[i]; i++) {
			if (len + 1 >= max)
				return FALSE;
			out[len++] = fp->PathName[i];
		}
	}
	/* cut at the last separator: the file name goes, the directory stays */
	for (UINTN i = 0; i < len; i++)
		if (out[i] == L'\\')
			last_sep = i;
	out[last_sep] = 0;
	return last_sep > 0;
}

EFI_STATUS esp_open(EFI_HANDLE image, struct esp *esp)
{
	EFI_LOADED_IMAGE *li;
	EFI_FILE_IO_INTERFACE *fs;
	CHAR16 dir[PATH_MAX_CHARS];
	EFI_STATUS st;

	esp->root = esp->image_dir = NULL;
	st = uefi_call_wrapper(BS->HandleProtocol, 3, image,
			       &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st))
		return st;
	st = uefi_call_wrapper(BS->HandleProtocol, 3, li->DeviceHandle,
			       &FileSystemProtocol, (void **)&fs);
	if (EFI_ERROR(st))
		return st;
	st = uefi_call_wrapper(fs->OpenVolume, 2, fs, &esp->root);
	if (EFI_ERROR(st))
		return st;

	esp->image_dir = esp->root;
	if (image_dir_path(li->FilePath, dir, PATH_MAX_CHARS)) {
		EFI_FILE_HANDLE d;

		st = uefi_call_wrapper(esp->root->Open, 5, esp->root, &d, dir,
				       EFI_FILE_MODE_READ, 0);
		if (!EFI_ERROR(st))
			esp->image_dir = d;
	}
	return EFI_SUCCESS;
}

void esp_close(struct esp *esp)
{
	if (esp->image_dir && esp->image_dir != esp->root)
		uefi_call_wrapper(esp->image_dir->Close, 1, esp->image_dir);
	if (esp->root)
		uefi_call_wrapper(esp->root->Close, 1, esp->root);
	esp->root = esp->image_dir = NULL;
}

/* ASCII config name -> UEFI path; '/' is accepted for convenience since the
 * config is written on Unix machines, UEFI wants '\\' (sec. 13.5.1). */
static BOOLEAN to_wide_path(const char *name, CHAR16 *out, UINTN max)
{
	UINTN i;

	for (i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i + 1 >= max || c < 0x20 || c > 0x7e)
			return FALSE;
		out[i] = c == '/' ? L'\\' : (CHAR16)c;
	}
	out[i] = 0;
	return i > 0;
}

EFI_STATUS file_load(EFI_FILE_HANDLE dir, const char *name,
		     struct loaded_file *out)
{
	CHAR16 path[PATH_MAX_CHARS];
	EFI_FILE_HANDLE fh;
	EFI_FILE_INFO *info;
	EFI_PHYSICAL_ADDRESS addr;
	UINT64 size, done = 0;
	UINTN pages;
	EFI_STATUS st;

	if (!to_wide_path(name, path, PATH_MAX_CHARS))
		return EFI_INVALID_PARAMETER;
	st = uefi_call_wrapper(dir->Open, 5, dir, &fh, path, EFI_FILE_MODE_READ,
			       0);
	if (EFI_ERROR(st))
		return st;

	info = LibFileInfo(fh); /* EFI_FILE_INFO, UEFI 2.10 sec. 13.5.16 */
	if (!info) {
		uefi_call_wrapper(fh->Close, 1, fh);
		return EFI_DEVICE_ERROR;
	}
	size = info->FileSize;
	if (info->Attribute & EFI_FILE_DIRECTORY)
		st = EFI_NOT_FOUND; /* a directory is not the file we want */
	FreePool(info);
	if (EFI_ERROR(st)) {
		uefi_call_wrapper(fh->Close, 1, fh);
		return st;
	}

	/* an empty file still gets a page, so it has a real address */
	pages = size ? EFI_SIZE_TO_PAGES(size) : 1;
	addr = LOW_LIMIT;
	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress,
			       EfiLoaderData, pages, &addr);
	if (EFI_ERROR(st))
		st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages,
				       EfiLoaderData, pages, &addr);
	if (EFI_ERROR(st)) {
		uefi_call_wrapper(fh->Close, 1, fh);
		return st;
	}

	while (done < size) {
		UINTN n = size - done > READ_CHUNK ? READ_CHUNK : size - done;

		st = uefi_call_wrapper(fh->Read, 3, fh, &n,
				       (void *)(UINTN)(addr + done));
		if (EFI_ERROR(st))
			break;
		if (n == 0) { /* shorter than its directory entry said */
			st = EFI_END_OF_FILE;
			break;
		}
		done += n;
	}
	uefi_call_wrapper(fh->Close, 1, fh);
	if (EFI_ERROR(st)) {
		uefi_call_wrapper(BS->FreePages, 2, addr, pages);
		return st;
	}
	out->addr = addr;
	out->size = size;
	return EFI_SUCCESS;
}

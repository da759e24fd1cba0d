/*
 * QEMU's firmware configuration device (fw_cfg) as a guest sees it through
 * x86 I/O ports: the "traditional" interface of QEMU's docs/specs/fw_cfg.rst.
 *
 *   port 0x510  selector, 16-bit write: picks an item by key and resets the
 *               data offset to 0
 *   port 0x511  data, 8-bit read: the next byte of the item; 0 once past its
 *               end, and 0 for a key that names no item
 *
 * Firmware (SeaBIOS, OVMF, qboot) and Linux's qemu_fw_cfg driver find the
 * device by selecting key 0 and reading "QEMU".
 *
 * Items:
 *   0x0000 SIGNATURE   "QEMU"
 *   0x0001 ID          u32 LE feature bits: 1 = traditional interface only
 *   0x0003 RAM_SIZE    u64 LE
 *   0x0005 NB_CPUS     u16 LE
 *   0x000f MAX_CPUS    u16 LE (= NB_CPUS: no CPU hotplug)
 *   0x0014 CMDLINE_SIZE u32 LE, strlen + 1 (0 with no command line)
 *   0x0015 CMDLINE_DATA the command line with its NUL
 *   0x0019 FILE_DIR    u32 BE count, then per file 64 bytes:
 *                      { u32 size BE, u16 select BE, u16 0, char name[56] }
 *   0x0020.. files, in the order fw_cfg_add_file() added them
 * plus any item a caller adds with fw_cfg_add_item() (e.g. 0x0007-0x0018
 * for a kernel/initrd, as QEMU's -kernel does).
 *
 * Not modelled, on purpose:
 *  - the DMA interface (ports 0x514-0x51b, ID bit 1).  ID does not
 *    advertise it, so a guest never touches those ports; fw_cfg_io()
 *    leaves them to the caller (-1), which treats them as absent.
 *  - writes to the data register: ignored, as in QEMU since v2.4.
 *  - the selector's bit 14 (write channel, ignored since v2.4) is masked
 *    off; bit 15 selects architecture-specific items, of which there are
 *    none here, so those keys read 0.
 *  - QEMU sorts files by name; here selectors follow insertion order
 *    (firmware looks files up by name, so either works).
 *
 * Data is referenced, not copied: the command line and every item or file
 * added must outlive the struct fw_cfg.  The small scalar items and the file
 * names are kept in the struct; the file directory is produced byte by byte
 * on read.  Pure: no allocation, no globals.
 */
#ifndef NESTOR_FW_CFG_H
#define NESTOR_FW_CFG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_CFG_PORT_SEL   0x510
#define FW_CFG_PORT_DATA  0x511

/* Keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h). */
#define FW_CFG_SIGNATURE    0x0000
#define FW_CFG_ID           0x0001
#define FW_CFG_RAM_SIZE     0x0003
#define FW_CFG_NB_CPUS      0x0005
#define FW_CFG_MAX_CPUS     0x000f
#define FW_CFG_CMDLINE_SIZE 0x0014
#define FW_CFG_CMDLINE_DATA 0x0015
#define FW_CFG_FILE_DIR     0x0019
#define FW_CFG_FILE_FIRST   0x0020

#define FW_CFG_KEY_MASK     0x3fff  /* bits 14 (write) and 15 (arch) off */
#define FW_CFG_ARCH_LOCAL   0x8000

#define FW_CFG_ID_TRADITIONAL 1u    /* ID bit 0; bit 1 would be DMA */

#define FW_CFG_MAX_ITEMS    16      /* non-file items, incl. the 7 built in */
#define FW_CFG_MAX_FILES    16
#define FW_CFG_NAME_LEN     56      /* incl. the NUL */
#define FW_CFG_DIR_ENTRY_LEN 64

struct fw_cfg_item {
	uint16_t key;
	uint32_t len;
	const uint8_t *data;   /* caller-owned bytes, or NULL: use value[] */
	uint8_t value[8];      /* a small scalar, little-endian */
};

struct fw_cfg_file {
	char name[FW_CFG_NAME_LEN];   /* NUL-padded, as in the directory */
	const uint8_t *data;          /* caller-owned */
	uint32_t len;
};

struct fw_cfg {
	uint16_t selector;     /* last value written to port 0x510 */
	uint32_t offset;       /* next byte of the selected item */
	unsigned n_items;
	struct fw_cfg_item items[FW_CFG_MAX_ITEMS];
	unsigned n_files;
	struct fw_cfg_file files[FW_CFG_MAX_FILES];
};

/* The built-in items; cmdline may be NULL.  Selector 0, offset 0. */
void fw_cfg_init(struct fw_cfg *f, unsigned ncpus, uint64_t ram_size, const char *cmdline);

/* A named file at the next selector from 0x0020: 0, or -1 when the name is
 * empty, longer than 55 characters or already present, or the table is full. */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, uint32_t len);

/* A raw item at a key below 0x0020 other than FILE_DIR: 0, or -1 when the
 * key is taken, out of that range, or the table is full. */
int fw_cfg_add_item(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len);

/* One guest I/O access of size 1, 2 or 4 bytes.  Reads return *val (only
 * the low size bytes meaningful).  0 when the port is one of ours (even if
 * the access itself does nothing), -1 when it is not.  Accesses a real
 * device would not act on (a read of the selector, a wide read of the data
 * port) read all-ones and change nothing. */
int fw_cfg_io(struct fw_cfg *f, uint16_t port, unsigned size, bool write, uint32_t *val);

#endif

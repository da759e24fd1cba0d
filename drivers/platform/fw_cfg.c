/*
 * QEMU fw_cfg, traditional I/O-port interface: see fw_cfg.h, and QEMU's
 * docs/specs/fw_cfg.rst for the guest-side contract this follows:
 *
 *   "Setting the selector register will cause the data offset to be set to
 *    zero."  "Each successful access to the data register will increment
 *    the data offset by the appropriate access width."  "After the data
 *    offset has passed the end of this maximum data length, then any reads
 *    will return a data value of 0x00, and all writes will be ignored."
 *
 * The device is three things: a table of items (key -> bytes), the current
 * selector, and the offset into the selected item.  Everything a guest can
 * observe is item_byte(selector, offset).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/platform/fw_cfg.h"

/* ---- the item table ----------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static struct fw_cfg_item *find_item(struct fw_cfg *f, uint16_t key)
{
	for (unsigned i = 0; i < f->n_items; i++)
		if (f->items[i].key == key)
			return &f->items[i];
	return NULL;
}

/* A scalar kept in the struct: width bytes of v, little-endian. */
static void add_scalar(struct fw_cfg *f, uint16_t key, uint64_t v, unsigned width)
{
	struct fw_cfg_item *it = &f->items[f->n_items++];

	it->key = key;
	it->len = width;
	it->data = NULL;
	put_le(it->value, v, width);
}

static int add_ref(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len)
{
	struct fw_cfg_item *it;

	if (f->n_items == FW_CFG_MAX_ITEMS || find_item(f, key) != NULL)
		return -1;
	if (data == NULL && len != 0)
		return -1;
	it = &f->items[f->n_items++];
	it->key = key;
	it->len = len;
	it->data = data;
	return 0;
}

void fw_cfg_init(struct fw_cfg *f, unsigned ncpus, uint64_t ram_size, const char *cmdline)
{
	static const uint8_t signature[4] = { 'Q', 'E', 'M', 'U' };
	uint32_t cmdline_len = 0;

	memset(f, 0, sizeof *f);
	if (ncpus > 0xffff)
		ncpus = 0xffff;                 /* the item is 16 bits wide */
	if (cmdline != NULL) {
		size_t n = strlen(cmdline) + 1; /* QEMU counts the NUL */
		cmdline_len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	}

	add_ref(f, FW_CFG_SIGNATURE, signature, sizeof signature);
	add_scalar(f, FW_CFG_ID, FW_CFG_ID_TRADITIONAL, 4);
	add_scalar(f, FW_CFG_RAM_SIZE, ram_size, 8);
	add_scalar(f, FW_CFG_NB_CPUS, ncpus, 2);
	add_scalar(f, FW_CFG_MAX_CPUS, ncpus, 2);
	add_scalar(f, FW_CFG_CMDLINE_SIZE, cmdline_len, 4);
	add_ref(f, FW_CFG_CMDLINE_DATA, cmdline, cmdline_len);
}

int fw_cfg_add_item(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len)
{
	if (key >= FW_CFG_FILE_FIRST || key == FW_CFG_FILE_DIR)
		return -1;
	return add_ref(f, key, data, len);
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, uint32_t len)
{
	struct fw_cfg_file *file;
	size_t n = 0;

	if (f->n_files == FW_CFG_MAX_FILES || name == NULL || (data == NULL && len != 0))
		return -1;
	while (n < FW_CFG_NAME_LEN && name[n] != '\0')
		n++;
	if (n == 0 || n == FW_CFG_NAME_LEN)     /* no room for the NUL */
		return -1;
	for (unsigned i = 0; i < f->n_files; i++)
		if (strcmp(f->files[i].name, name) == 0)
			return -1;

	file = &f->files[f->n_files++];
	memset(file->name, 0, sizeof file->name);
	memcpy(file->name, name, n);
	file->data = data;
	file->len = len;
	return 0;
}

/* ---- what a read sees --------------------------------------------------- */

/*
 * Byte `off` of the file directory (key 0x0019), built on the fly:
 *   0..3        count, big-endian
 *   4 + 64*i..  { u32 size BE, u16 select BE, u16 reserved, char name[56] }
 * Returns false past its end.
 */
static bool dir_byte(const struct fw_cfg *f, uint32_t off, uint8_t *out)
{
	const struct fw_cfg_file *file;
	uint32_t i, o, sel;

	if (off < 4) {
		*out = (uint8_t)(f->n_files >> (8 * (3 - off)));
		return true;
	}
	i = (off - 4) / FW_CFG_DIR_ENTRY_LEN;
	o = (off - 4) % FW_CFG_DIR_ENTRY_LEN;
	if (i >= f->n_files)
		return false;
	file = &f->files[i];
	sel = FW_CFG_FILE_FIRST + i;
	if (o < 4)
		*out = (uint8_t)(file->len >> (8 * (3 - o)));
	else if (o < 6)
		*out = (uint8_t)(sel >> (8 * (5 - o)));
	else if (o < 8)
		*out = 0;
	else
		*out = (uint8_t)file->name[o - 8];
	return true;
}

/* Byte `off` of the item the selector names; 0 for no item or past its end. */
static uint8_t item_byte(struct fw_cfg *f, uint16_t selector, uint32_t off)
{
	uint16_t key = selector & FW_CFG_KEY_MASK;
	const struct fw_cfg_item *it;
	uint8_t b;

	if (selector & FW_CFG_ARCH_LOCAL)
		return 0;                       /* no arch-specific items */
	if (key == FW_CFG_FILE_DIR)
		return dir_byte(f, off, &b) ? b : 0;
	if (key >= FW_CFG_FILE_FIRST) {
		unsigned i = key - FW_CFG_FILE_FIRST;
		if (i >= f->n_files || off >= f->files[i].len)
			return 0;
		return f->files[i].data[off];
	}
	it = find_item(f, key);
	if (it == NULL || off >= it->len)
		return 0;
	return it->data != NULL ? it->data[off] : it->value[off];
}

/* ---- the ports ---------------------------------------------------------- */

static uint32_t all_ones(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

int fw_cfg_io(struct fw_cfg *f, uint16_t port, unsigned size, bool write, uint32_t *val)
{
	if (port != FW_CFG_PORT_SEL && port != FW_CFG_PORT_DATA)
		return -1;

	if (port == FW_CFG_PORT_SEL && write && size == 2) {
		/* Select an item; the data offset starts over. */
		f->selector = (uint16_t)*val;
		f->offset = 0;
		return 0;
	}
	if (port == FW_CFG_PORT_DATA && !write && size == 1) {
		/* The next byte.  The offset stops counting once past the end
		 * (reads there are 0 anyway), so it can never wrap back into
		 * the item. */
		*val = item_byte(f, f->selector, f->offset);
		if (f->offset != UINT32_MAX)
			f->offset++;
		return 0;
	}
	/* Data writes are ignored (QEMU >= 2.4); other widths are not
	 * accesses the device answers: reads float high. */
	if (!write)
		*val = all_ones(size);
	return 0;
}

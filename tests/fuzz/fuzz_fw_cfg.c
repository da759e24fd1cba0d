/*
 * libFuzzer: drivers/platform/fw_cfg.c against a reference model.
 *
 * The input sets up a device, then drives its ports with a sequence of
 * random accesses; every byte the device returns is compared with a model
 * that keeps each item as a flat byte array (built here, independently,
 * from QEMU's docs/specs/fw_cfg.rst) plus its own selector and offset.
 *
 * Input layout (short inputs are padded with zeros):
 *   u16 ncpus, u64 ram_size,
 *   u8 cmdline length (0xff = no command line), that many bytes,
 *   u8 number of files, then per file:
 *     u8 name length, name bytes, u8 data length, data bytes
 *   then 3-byte operations until the end:
 *     u8 op: bits 2:0 port (0x50f 0x510 0x511 0x512 0x514 0x511 0x510 0x511),
 *            bits 4:3 size (1 2 4 3), bit 5 write
 *     u16 value (LE), for writes
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "drivers/platform/fw_cfg.h"

#include "tests/fuzz/fuzz_assert.h"

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* A run of len bytes of the input, or NULL (and len 0) if it runs out. */
static const uint8_t *take_bytes(struct input *in, size_t *len)
{
	const uint8_t *p = in->p;

	if (*len > in->n)
		*len = in->n;
	in->p += *len;
	in->n -= *len;
	return p;
}

/* ---- the model: one flat image per key ---------------------------------- */

#define MODEL_KEYS 0x40
static uint8_t img[MODEL_KEYS][4 + 64 * 32];
static size_t img_len[MODEL_KEYS];

static void img_le(uint16_t key, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		img[key][i] = (uint8_t)(v >> (8 * i));
	img_len[key] = n;
}

static void img_be(uint8_t *p, uint32_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint8_t model_byte(uint16_t selector, uint32_t off, const uint8_t **file_data,
			  const size_t *file_len)
{
	uint16_t key = selector & 0x3fff;

	if (selector & 0x8000)
		return 0;
	if (key >= 0x20 && key < 0x20 + FW_CFG_MAX_FILES) {
		unsigned i = key - 0x20;
		return file_data[i] && off < file_len[i] ? file_data[i][off] : 0;
	}
	if (key >= MODEL_KEYS)
		return 0;
	return off < img_len[key] ? img[key][off] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fw_cfg fw;
	static char cmdline[256];
	static char names[FW_CFG_MAX_FILES + 8][64];
	const uint8_t *file_data[FW_CFG_MAX_FILES] = { 0 };
	size_t file_len[FW_CFG_MAX_FILES] = { 0 };
	struct input in = { data, size };
	unsigned ncpus, nfiles, nadded = 0;
	uint64_t ram = 0;
	uint16_t m_sel = 0;
	uint32_t m_off = 0;
	uint8_t cl_len;
	const char *cl = NULL;

	memset(img_len, 0, sizeof img_len);
	ncpus = take(&in);
	ncpus |= (unsigned)take(&in) << 8;
	for (int i = 0; i < 8; i++)
		ram |= (uint64_t)take(&in) << (8 * i);
	cl_len = take(&in);
	if (cl_len != 0xff) {
		size_t n = cl_len;
		const uint8_t *p = take_bytes(&in, &n);
		memcpy(cmdline, p, n);
		cmdline[n] = 0;
		cl = cmdline;
	}
	fw_cfg_init(&fw, ncpus, ram, cl);

	/* model of the built-in items */
	memcpy(img[0x00], "QEMU", 4);
	img_len[0x00] = 4;
	img_le(0x01, 1, 4);
	img_le(0x03, ram, 8);
	img_le(0x05, ncpus > 0xffff ? 0xffff : ncpus, 2);
	img_le(0x0f, ncpus > 0xffff ? 0xffff : ncpus, 2);
	img_le(0x14, cl ? strlen(cl) + 1 : 0, 4);
	if (cl) {
		memcpy(img[0x15], cl, strlen(cl) + 1);
		img_len[0x15] = strlen(cl) + 1;
	}

	/* files: the model predicts which adds succeed */
	nfiles = take(&in) % (FW_CFG_MAX_FILES + 6);
	for (unsigned i = 0; i < nfiles; i++) {
		size_t nl = take(&in) % 60, dl;
		const uint8_t *np = take_bytes(&in, &nl), *dp;
		char *name = names[i];
		bool expect_ok;

		memcpy(name, np, nl);
		name[nl] = 0;
		dl = take(&in);
		dp = take_bytes(&in, &dl);
		expect_ok = nadded < FW_CFG_MAX_FILES && strlen(name) >= 1 && strlen(name) <= 55;
		for (unsigned j = 0; j < nadded && expect_ok; j++)
			if (strcmp((const char *)img[0x19] + 4 + 64 * j + 8, name) == 0)
				expect_ok = false;
		CHECK((fw_cfg_add_file(&fw, name, dp, (uint32_t)dl) == 0) == expect_ok);
		if (expect_ok) {
			uint8_t *e = img[0x19] + 4 + 64 * nadded;
			memset(e, 0, 64);
			img_be(e, (uint32_t)dl, 4);
			img_be(e + 4, 0x20 + nadded, 2);
			memcpy(e + 8, name, strlen(name));
			file_data[nadded] = dp;
			file_len[nadded] = dl;
			nadded++;
		}
	}
	img_be(img[0x19], nadded, 4);
	img_len[0x19] = 4 + 64 * nadded;

	/* the port accesses */
	while (in.n > 0) {
		static const uint16_t ports[8] = { 0x50f, 0x510, 0x511, 0x512,
						   0x514, 0x511, 0x510, 0x511 };
		static const unsigned sizes[4] = { 1, 2, 4, 3 };
		uint8_t op = take(&in);
		uint16_t port = ports[op & 7];
		unsigned sz = sizes[(op >> 3) & 3];
		bool write = op & 0x20;
		uint32_t val = take(&in);
		int rc;

		val |= (uint32_t)take(&in) << 8;
		rc = fw_cfg_io(&fw, port, sz, write, &val);
		if (port != 0x510 && port != 0x511) {
			CHECK(rc == -1);
			continue;
		}
		CHECK(rc == 0);
		if (port == 0x510 && write && sz == 2) {
			m_sel = (uint16_t)val;
			m_off = 0;
		} else if (port == 0x511 && !write && sz == 1) {
			CHECK(val == model_byte(m_sel, m_off, file_data, file_len));
			m_off++;
		} else if (!write) {
			CHECK(val == (sz >= 4 ? 0xffffffffu : (1u << (8 * sz)) - 1));
		}
	}
	return 0;
}

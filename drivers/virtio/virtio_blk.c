/*
 * virtio-blk over a RAM disk.  See virtio_blk.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/virtio/virtio_blk.h"

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static struct virtio_blk *blk_of(struct virtio_dev *vd)
{
	return (struct virtio_blk *)vd;         /* vd is the first member */
}

/* Is [sector, sector + count) on the disk?  Written so nothing overflows. */
static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t count)
{
	return sector <= b->capacity && count <= b->capacity - sector;
}

static uint8_t *disk_at(const struct virtio_blk *b, uint64_t sector)
{
	return b->disk + sector * VIRTIO_BLK_SECTOR;   /* sector <= capacity */
}

/* Count an event; true on its 1st, 2nd, 4th, 8th... occurrence, when it
 * is worth a log line (a guest repeating a mistake cannot flood the log). */
static bool count_and_log(uint64_t *counter)
{
	uint64_t n = ++*counter;

	return (n & (n - 1)) == 0;
}

/* Fail a request: count it, log it now and then, give the status. */
static uint8_t refuse(struct virtio_blk *b, uint8_t status, const char *why, uint64_t value)
{
	if (count_and_log(status == VIRTIO_BLK_S_UNSUPP ? &b->unsupp : &b->ioerr))
		virtio_log(&b->vd, why, value);
	return status;
}

/* ---- the requests (5.2.6) --------------------------------------------------- */

/* Transfer requests: IN (disk -> writable data) and OUT (readable data ->
 * disk).  *done counts writable data bytes written, for the caller. */
static uint8_t do_rw(struct virtio_blk *b, struct vq *vq, const struct vq_chain *c, bool out,
		     uint64_t sector, uint64_t data_out, uint64_t data_in, uint64_t *done)
{
	uint64_t len = out ? data_out : data_in;

	if (out && b->read_only)        /* 5.2.6.2: IOERR, write nothing */
		return refuse(b, VIRTIO_BLK_S_IOERR, "virtio-blk: write to a read-only disk", sector);
	if (out ? data_in != 0 : data_out != 0)
		return refuse(b, VIRTIO_BLK_S_IOERR,
			      "virtio-blk: data buffer of the wrong direction", sector);
	if (len % VIRTIO_BLK_SECTOR)
		return refuse(b, VIRTIO_BLK_S_IOERR,
			      "virtio-blk: length not a multiple of 512", len);
	if (!in_range(b, sector, len / VIRTIO_BLK_SECTOR))
		return refuse(b, VIRTIO_BLK_S_IOERR, "virtio-blk: sectors beyond the disk", sector);
	if (len == 0)
		return VIRTIO_BLK_S_OK;         /* (and the disk may be NULL) */
	if (out) {
		if (vq_read(vq, c, VIRTIO_BLK_HDR_BYTES, disk_at(b, sector), len) != len)
			return VIRTIO_BLK_S_IOERR;
		b->bytes_written += len;
	} else {
		*done = vq_write(vq, c, 0, disk_at(b, sector), len);
		if (*done != len)
			return VIRTIO_BLK_S_IOERR;
		b->bytes_read += len;
	}
	return VIRTIO_BLK_S_OK;
}

/* GET_ID: the ID, NUL-padded to 20 bytes, into as much of the data as
 * there is room for (QEMU does the same). */
static uint8_t do_get_id(struct virtio_blk *b, struct vq *vq, const struct vq_chain *c,
			 uint64_t data_out, uint64_t data_in, uint64_t *done)
{
	uint64_t n = data_in < VIRTIO_BLK_ID_BYTES ? data_in : VIRTIO_BLK_ID_BYTES;

	if (data_out != 0)
		return refuse(b, VIRTIO_BLK_S_IOERR,
			      "virtio-blk: GET_ID with device-readable data", data_out);
	*done = vq_write(vq, c, 0, b->id, n);
	return *done == n ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/*
 * DISCARD and WRITE_ZEROES: a list of segments.  All are checked before
 * any is carried out, so a bad request changes nothing.  DISCARD keeps the
 * data (the spec lets a device ignore it, and a RAM disk has nothing to
 * free); WRITE_ZEROES writes zeros whether or not "unmap" is set.
 */
static uint8_t do_discard_wz(struct virtio_blk *b, struct vq *vq, const struct vq_chain *c,
			     bool wz, uint64_t data_out, uint64_t data_in)
{
	unsigned feature = wz ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD;
	uint64_t nseg = data_out / 16;

	if (!virtio_has_feature(&b->vd, feature))
		return refuse(b, VIRTIO_BLK_S_UNSUPP, "virtio-blk: discard/write-zeroes not negotiated",
			      wz);
	if (b->read_only)
		return refuse(b, VIRTIO_BLK_S_IOERR, "virtio-blk: write to a read-only disk", 0);
	if (data_in != 0 || data_out % 16 || nseg == 0 || nseg > VIRTIO_BLK_DWZ_SEG_MAX)
		return refuse(b, VIRTIO_BLK_S_IOERR,
			      "virtio-blk: malformed discard/write-zeroes segments", data_out);

	for (int apply = 0; apply < 2; apply++) {
		for (uint64_t i = 0; i < nseg; i++) {
			uint8_t s[16];
			uint64_t sector, count;
			uint32_t flags;

			if (vq_read(vq, c, VIRTIO_BLK_HDR_BYTES + 16 * i, s, 16) != 16)
				return VIRTIO_BLK_S_IOERR;
			sector = get_le(s, 8);
			count = get_le(s + 8, 4);
			flags = (uint32_t)get_le(s + 12, 4);
			if (apply) {
				if (wz && count > 0)
					memset(disk_at(b, sector), 0, count * VIRTIO_BLK_SECTOR);
				continue;
			}
			/* 5.2.6.2: UNSUPP for unknown flags, and for unmap on
			 * a discard. */
			if ((flags & ~VIRTIO_BLK_WZ_F_UNMAP) || (!wz && flags))
				return refuse(b, VIRTIO_BLK_S_UNSUPP,
					      "virtio-blk: unsupported segment flags", flags);
			if (count > VIRTIO_BLK_DWZ_SECTORS_MAX || !in_range(b, sector, count))
				return refuse(b, VIRTIO_BLK_S_IOERR,
					      "virtio-blk: segment beyond the disk or too long", sector);
		}
	}
	return VIRTIO_BLK_S_OK;
}

/* Zeros into the writable part, [off, off + len): what a failed request
 * leaves in its data buffer. */
static void zero_fill(struct vq *vq, const struct vq_chain *c, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[512];

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);

		if (vq_write(vq, c, off, zeros, n) != n)
			return;
		off += n;
		len -= n;
	}
}

/* One request; returns the used length (bytes written into the chain). */
static uint32_t serve_request(struct virtio_blk *b, struct vq *vq, const struct vq_chain *c)
{
	uint8_t hdr[VIRTIO_BLK_HDR_BYTES], status;
	uint64_t data_in, data_out, done = 0;

	b->requests++;
	if (c->write_len == 0) {
		/* Nowhere to answer: hand it back empty (5.2.6: the status
		 * is the last byte the device writes). */
		if (count_and_log(&b->no_status))
			virtio_log(&b->vd, "virtio-blk: request without a status byte", c->id);
		return 0;
	}
	data_in = c->write_len - 1;     /* writable bytes before the status */

	if (c->read_len < VIRTIO_BLK_HDR_BYTES) {
		status = refuse(b, VIRTIO_BLK_S_IOERR, "virtio-blk: header shorter than 16 bytes",
				c->read_len);
	} else {
		uint32_t type;
		uint64_t sector;

		vq_read(vq, c, 0, hdr, sizeof(hdr));
		type = (uint32_t)get_le(hdr, 4);        /* hdr + 4: reserved */
		sector = get_le(hdr + 8, 8);
		data_out = c->read_len - VIRTIO_BLK_HDR_BYTES;

		switch (type) {
		case VIRTIO_BLK_T_IN:
		case VIRTIO_BLK_T_OUT:
			status = do_rw(b, vq, c, type == VIRTIO_BLK_T_OUT, sector,
				       data_out, data_in, &done);
			break;
		case VIRTIO_BLK_T_FLUSH:
			/* Nothing sits between the guest and the RAM store. */
			status = data_in == 0 && data_out == 0 ? VIRTIO_BLK_S_OK
				: refuse(b, VIRTIO_BLK_S_IOERR, "virtio-blk: FLUSH with data", 0);
			break;
		case VIRTIO_BLK_T_GET_ID:
			status = do_get_id(b, vq, c, data_out, data_in, &done);
			break;
		case VIRTIO_BLK_T_DISCARD:
		case VIRTIO_BLK_T_WRITE_ZEROES:
			status = do_discard_wz(b, vq, c, type == VIRTIO_BLK_T_WRITE_ZEROES,
					       data_out, data_in);
			break;
		default:
			status = refuse(b, VIRTIO_BLK_S_UNSUPP, "virtio-blk: unknown request type",
					type);
			break;
		}
	}
	if (done < data_in)
		zero_fill(vq, c, done, data_in - done);
	vq_write(vq, c, data_in, &status, 1);
	return c->write_len > UINT32_MAX ? UINT32_MAX : (uint32_t)c->write_len;
}

/* ---- device ops ------------------------------------------------------------- */

static uint32_t blk_serve(struct virtio_dev *vd, struct vq *vq, const struct vq_chain *c)
{
	return serve_request(blk_of(vd), vq, c);
}

/* A kick: requests until the queue is empty, at most two queues' worth
 * per call (virtio_serve_queue); the rest is left for virtio_dev_poll(). */
static bool blk_queue_notify(struct virtio_dev *vd, unsigned q)
{
	return virtio_serve_queue(vd, q, &blk_of(vd)->req, blk_serve);
}

static void blk_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *buf, unsigned len)
{
	memcpy(buf, blk_of(vd)->config + off, len);
}

static const struct virtio_device_ops blk_ops = {
	.config_read = blk_config_read,
	.config_write = NULL,           /* no CONFIG_WCE: all read-only */
	.queue_notify = blk_queue_notify,
	.reset = NULL,                  /* nothing outlives a kick */
};

int virtio_blk_init(struct virtio_blk *b, const struct virtio_blk_params *p)
{
	struct virtio_dev_params dp = {
		.ops = &blk_ops,
		.mem = p->mem,
		.device_id = VIRTIO_ID_BLOCK,
		.config_size = VIRTIO_BLK_CONFIG_SIZE,
		.num_queues = 1,
		.queue_num_max = VIRTIO_BLK_QUEUE_SIZE,
		.device_features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
				   (1ull << VIRTIO_BLK_F_FLUSH),
		.ring_features = p->ring_features,
	};
	const char *id = p->id != NULL ? p->id : "nestor-ramdisk";
	size_t id_len = 0;
	uint8_t *cfg;

	if (p->mem == NULL || (p->disk == NULL && p->disk_bytes != 0))
		return -1;
	while (id[id_len] != '\0' && id_len <= VIRTIO_BLK_ID_BYTES)
		id_len++;
	if (id_len > VIRTIO_BLK_ID_BYTES)
		return -1;
	if (p->read_only)
		dp.device_features |= 1ull << VIRTIO_BLK_F_RO;
	if (p->discard)
		dp.device_features |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (p->write_zeroes)
		dp.device_features |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;

	memset(b, 0, sizeof(*b));
	if (virtio_dev_init(&b->vd, &dp) != 0)
		return -1;
	b->disk = p->disk;
	b->capacity = p->disk_bytes / VIRTIO_BLK_SECTOR;
	b->read_only = p->read_only;
	memcpy(b->id, id, id_len);              /* NUL-padded (memset above) */

	cfg = b->config;
	put_le(cfg + VIRTIO_BLK_CFG_CAPACITY, b->capacity, 8);
	put_le(cfg + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX, 4);
	put_le(cfg + VIRTIO_BLK_CFG_BLK_SIZE, p->blk_size ? p->blk_size : VIRTIO_BLK_SECTOR, 4);
	put_le(cfg + VIRTIO_BLK_CFG_NUM_QUEUES, 1, 2);
	put_le(cfg + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_DWZ_SECTORS_MAX, 4);
	put_le(cfg + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_DWZ_SEG_MAX, 4);
	put_le(cfg + VIRTIO_BLK_CFG_DISCARD_ALIGN, 1, 4);
	put_le(cfg + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, VIRTIO_BLK_DWZ_SECTORS_MAX, 4);
	put_le(cfg + VIRTIO_BLK_CFG_MAX_WZ_SEG, VIRTIO_BLK_DWZ_SEG_MAX, 4);
	/* 5.2.6.2: 0 -- a write-zeroes never deallocates anything here. */
	cfg[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 0;
	return 0;
}

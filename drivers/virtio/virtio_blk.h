/*
 * virtio-blk (virtio 1.2, 5.2) over a RAM disk: a host buffer the kernel
 * fills from a disk image (a file on the ESP or a Multiboot module).
 *
 * The store is RAM.  Writes land in L0 memory and stay there exactly as
 * long as the machine stays up: nothing is ever written back to the image
 * file or to any real disk.  A guest's "flush" therefore completes at once
 * -- there is no cache between the guest and the store -- but a reboot or
 * power-off loses everything written since boot.  docs/virtio.md says so
 * for users.
 *
 * Offered: SEG_MAX (VQ_MAX_CHAIN - 2 data segments, so that header +
 * data + status fit the virtqueue's chain limit), BLK_SIZE, FLUSH, and on
 * request RO, DISCARD and WRITE_ZEROES.  Requests (5.2.6):
 *
 *   IN            header(R) | data(W, n*512) | status(W)  read sectors
 *   OUT           header(R) | data(R, n*512) | status(W)  write sectors
 *   FLUSH         header(R) | status(W)                   nothing to do
 *   GET_ID        header(R) | data(W) | status(W)         20-byte ID
 *   DISCARD,      header(R) | segments(R, 16 each) | status(W)
 *   WRITE_ZEROES    segment = { le64 sector, le32 num_sectors, le32 flags }
 *
 * The device reads the two parts of a chain as byte streams (2.7.4: the
 * framing is the driver's business): the header is the first 16 readable
 * bytes, the status byte the last writable one.  Answers:
 *   OK      done;
 *   IOERR   header shorter than 16 bytes; data in the wrong direction (a
 *           read whose buffer is device-readable, or the other way round);
 *           a length that is not a multiple of 512; a sector range beyond
 *           the disk; a write to a read-only disk; bad DISCARD/WRITE_ZEROES
 *           segments (count, length, range);
 *   UNSUPP  an unknown request type, DISCARD/WRITE_ZEROES not negotiated,
 *           unknown segment flags, or "unmap" on a DISCARD (5.2.6.2).
 * A chain with no writable byte has nowhere to put a status: it is handed
 * back with length 0 and logged.  The disk is touched only inside
 * [0, capacity * 512), checked before any copy.
 *
 * The device writes the whole writable part of every request: the data it
 * read (or zeros when the request failed), then the status byte, and
 * reports that length as used (2.7.8.2: "len" counts the bytes written
 * from the start of the writable part).
 *
 * Requests complete synchronously, in order, during the kick; hence
 * VIRTIO_F_IN_ORDER may be offered.
 */
#ifndef NESTOR_VIRTIO_BLK_H
#define NESTOR_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX       1
#define VIRTIO_BLK_F_SEG_MAX        2
#define VIRTIO_BLK_F_RO             5
#define VIRTIO_BLK_F_BLK_SIZE       6
#define VIRTIO_BLK_F_FLUSH          9
#define VIRTIO_BLK_F_DISCARD        13
#define VIRTIO_BLK_F_WRITE_ZEROES   14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN             0
#define VIRTIO_BLK_T_OUT            1
#define VIRTIO_BLK_T_FLUSH          4
#define VIRTIO_BLK_T_GET_ID         8
#define VIRTIO_BLK_T_DISCARD        11
#define VIRTIO_BLK_T_WRITE_ZEROES   13
#define VIRTIO_BLK_S_OK             0
#define VIRTIO_BLK_S_IOERR          1
#define VIRTIO_BLK_S_UNSUPP         2
#define VIRTIO_BLK_WZ_F_UNMAP       1u   /* segment flags bit 0 */

#define VIRTIO_BLK_SECTOR           512
#define VIRTIO_BLK_ID_BYTES         20
#define VIRTIO_BLK_HDR_BYTES        16
#define VIRTIO_BLK_QUEUE_SIZE       256              /* QueueNumMax     */
#define VIRTIO_BLK_SEG_MAX          (VQ_MAX_CHAIN - 2)
#define VIRTIO_BLK_DWZ_SEG_MAX      16               /* segments/request */
#define VIRTIO_BLK_DWZ_SECTORS_MAX  65536            /* per segment      */

/*
 * Config space layout (5.2.4, struct virtio_blk_config) up to the
 * write-zeroes fields; the secure-erase and zoned fields that follow are
 * not offered, so the space ends there.
 */
#define VIRTIO_BLK_CFG_CAPACITY             0   /* le64 */
#define VIRTIO_BLK_CFG_SIZE_MAX             8   /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX              12  /* le32 */
#define VIRTIO_BLK_CFG_GEOMETRY             16  /* le16 cyl, u8 heads, u8 sectors */
#define VIRTIO_BLK_CFG_BLK_SIZE             20  /* le32 */
#define VIRTIO_BLK_CFG_TOPOLOGY             24  /* 8 bytes */
#define VIRTIO_BLK_CFG_WRITEBACK            32  /* u8 (+ unused0) */
#define VIRTIO_BLK_CFG_NUM_QUEUES           34  /* le16 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS  36  /* le32 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG      40  /* le32 */
#define VIRTIO_BLK_CFG_DISCARD_ALIGN        44  /* le32 */
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS       48  /* le32 */
#define VIRTIO_BLK_CFG_MAX_WZ_SEG           52  /* le32 */
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP         56  /* u8 (+ unused1[3]) */
#define VIRTIO_BLK_CONFIG_SIZE              60

struct virtio_blk_params {
	const struct gmem *mem;     /* the VM's memory map               */
	uint8_t *disk;              /* the RAM disk (host memory)        */
	uint64_t disk_bytes;        /* its size; whole sectors are used  */
	bool read_only;             /* offer RO; writes give IOERR       */
	bool discard, write_zeroes; /* offer these requests              */
	const char *id;             /* GET_ID string, <= 20 bytes; NULL: */
				    /* "nestor-ramdisk"                  */
	uint32_t blk_size;          /* advertised block size; 0: 512     */
	uint64_t ring_features;     /* VIRTIO_RING_FEATURES or a subset  */
};

struct virtio_blk {
	struct virtio_dev vd;       /* first: the ops find the blk from it */
	uint8_t *disk;
	uint64_t capacity;          /* in 512-byte sectors */
	bool read_only;
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	struct vq_chain req;        /* the request being served */

	/* Counters for `make bench` and the tests. */
	uint64_t requests, bytes_read, bytes_written;
	uint64_t ioerr, unsupp, no_status;
};

/* 0, or -1 if the parameters are unusable (no memory map, a NULL disk
 * with a size, an ID longer than 20 bytes). */
int virtio_blk_init(struct virtio_blk *b, const struct virtio_blk_params *p);

#endif

/*
 * spool_rec.c - the spool's format on disk: segment names, and records of
 * a 12-byte header (magic "RDS1", payload length, CRC-32 of both) and a
 * payload (type length, type, JSON); reading one back, and finding the
 * next intact one after damage (spool.h has the whole format).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zlib.h>

#include "spool_int.h"
#include "relaydiag/text.h"

/*
 * spool_crc32 - continue crc (0 to start) over p[0..n): CRC-32 (IEEE
 * 802.3, reflected) as zlib computes it, which is what the record format
 * says; zlib is the reference, not a copy of it.
 */
uint32_t
spool_crc32(uint32_t crc, const void *p, size_t n)
{
	return ((uint32_t)crc32(crc, p, (uInt)n));
}

void
spool_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t
spool_get32(const unsigned char *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24);
}

/* spool_seg_name - "spool-<seq>.log" into buf (SPOOL_NAME_BUF bytes) */
void
spool_seg_name(uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "spool-%016" PRIu64 ".log", seq);
}

/* spool_parse_name - seq from a segment file name; 0, or -1: not ours */
int
spool_parse_name(const char *name, uint64_t *seq)
{
	uint64_t v = 0;
	size_t i;

	if (strlen(name) != SPOOL_NAME_LEN || strncmp(name, "spool-", 6) != 0 ||
	    strcmp(name + 22, ".log") != 0)
		return (-1);
	for (i = 6; i < 22; i++) {
		if (name[i] < '0' || name[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*seq = v;
	return (0);
}

/* spool_pread_all - exactly n bytes at off; 0, or -1 (error or EOF) */
static int
spool_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	unsigned char *p = buf;
	ssize_t r;

	while (n > 0) {
		r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return (-1);
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return (0);
}

/*
 * spool_rec_at - the record at off in a segment of size bytes.
 * 1: intact; *next is the offset after it, and rec (when not NULL) gets
 * it. 0: off is the end. -1: torn, damaged or unreadable. -2: no memory.
 */
int
spool_rec_at(int fd, uint64_t off, uint64_t size, struct rd_spool_rec *rec,
    uint64_t *next)
{
	unsigned char h[SPOOL_HDR], *p;
	uint32_t len, crc;
	size_t tlen;

	if (off >= size)
		return (0);
	if (size - off < SPOOL_HDR || spool_pread_all(fd, h, sizeof(h), off))
		return (-1);
	len = spool_get32(h + 4);
	if (spool_get32(h) != SPOOL_MAGIC || len < 2 ||
	    len > SPOOL_PAYLOAD_MAX || len > size - off - SPOOL_HDR)
		return (-1);
	if ((p = malloc((size_t)len + 1)) == NULL)
		return (-2);
	if (spool_pread_all(fd, p, len, off + SPOOL_HDR) != 0)
		goto bad;
	crc = spool_crc32(spool_crc32(0, h + 4, 4), p, len);
	tlen = p[0];
	if (crc != spool_get32(h + 8) || tlen == 0 ||
	    tlen >= RD_SPOOL_TYPE_MAX || 1 + tlen >= len ||
	    memchr(p + 1, '\0', tlen) != NULL)
		goto bad;
	*next = off + SPOOL_HDR + len;
	if (rec == NULL) {
		free(p);
		return (1);
	}
	memcpy(rec->type, p + 1, tlen);
	rec->type[tlen] = '\0';
	rec->len = len - 1 - tlen;
	memmove(p, p + 1 + tlen, rec->len);
	p[rec->len] = '\0';
	rec->json = (char *)p;
	return (1);
bad:
	free(p);
	return (-1);
}

/*
 * spool_resync - after damage at from - 1: the offset of the next intact
 * record in the segment, or size when there is none.
 */
uint64_t
spool_resync(int fd, uint64_t from, uint64_t size)
{
	unsigned char buf[16384];
	uint64_t off, next;
	size_t n, i;

	for (off = from; off < size && size - off >= SPOOL_HDR; off += n - 3) {
		n = size - off < sizeof(buf) ? (size_t)(size - off)
					     : sizeof(buf);
		if (spool_pread_all(fd, buf, n, off) != 0)
			return (size);
		for (i = 0; i + 4 <= n; i++)
			if (buf[i] == 'R' && buf[i + 1] == 'D' &&
			    buf[i + 2] == 'S' && buf[i + 3] == '1' &&
			    spool_rec_at(fd, off + i, size, NULL, &next) == 1)
				return (off + i);
	}
	return (size);
}

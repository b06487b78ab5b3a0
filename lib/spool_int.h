/*
 * spool_int.h - what the spool's files share: the state of an open spool
 * (spool.c: appends, reads, acknowledgements, the size cap), its segment
 * table and cursor (spool_seg.c), the record format on disk (spool_rec.c)
 * and the opening of an existing spool, which decides what to trust
 * (spool_load.c). Private to lib/.
 */
#ifndef RELAYDIAG_SPOOL_INT_H
#define RELAYDIAG_SPOOL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sys/uio.h>

#include "relaydiag/spool.h"

#define SPOOL_MAGIC 0x31534452u /* "RDS1" stored little-endian */
#define SPOOL_HDR 12            /* magic, length, crc */
#define SPOOL_PAYLOAD_MAX (1 + RD_SPOOL_TYPE_MAX + RD_SPOOL_JSON_MAX)
#define SPOOL_DEFAULT_MAX (256ull << 20)
#define SPOOL_SEG_MIN (64ull << 10)
#define SPOOL_SEG_MAX (16ull << 20)
#define SPOOL_NAME_LEN 26 /* spool-<16 digits>.log */
#define SPOOL_NAME_BUF 32 /* room for 20 digits */
#define SPOOL_CURSOR "cursor"
#define SPOOL_CURSOR_TMP "cursor.tmp"
#define SPOOL_LOCK "lock"
#define SPOOL_NOTES 8
#define SPOOL_NOTE_LEN 320
/* Every file of the spool is opened so: never a symlink, never blocking
   on a FIFO planted under a spool name. */
#define SPOOL_OPEN_RD (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

struct spool_seg {
	uint64_t seq;
	uint64_t size; /* bytes in the file */
	uint64_t nrec; /* intact records in it */
};

/* A place between records: segment, byte offset, records before it. */
struct spool_pos {
	uint64_t seq;
	uint64_t off;
	uint64_t idx;
};

struct rd_spool {
	pthread_mutex_t lock;
	char *dir;
	int dirfd;
	int lockfd;
	uint64_t max_bytes;
	uint64_t seg_bytes;
	enum rd_spool_policy policy;

	struct spool_seg *segs; /* oldest first; the last one is the
				   one appended to when wfd >= 0 */
	size_t nsegs;
	size_t segcap;
	int wfd;    /* -1: next append starts a segment */
	bool dirty; /* appended since the last sync */
	uint64_t next_seq;

	struct spool_pos commit; /* next record to deliver; with no
				    segment: (next_seq, 0, 0) */
	struct spool_pos rd;     /* next record to read */
	struct spool_pos *pend;  /* position after each record read
				    since the last ack */
	size_t npend;
	size_t pendcap;
	int rfd; /* open on segment rfd_seq, or -1 */
	uint64_t rfd_seq;
	struct spool_pos last_bad; /* last damage counted */

	uint64_t bytes;
	uint64_t pending;
	uint64_t appended;
	uint64_t dropped_oldest;
	uint64_t dropped_newest;
	uint64_t dropped_io;
	uint64_t corrupt;
	int last_errno;

	uid_t uid; /* who must own the directory and every file in it */
	char notes[SPOOL_NOTES][SPOOL_NOTE_LEN]; /* what rd_spool_open
						    found worth a log line */
	size_t nnotes;
};

/* spool_rec.c: the format on disk */
uint32_t spool_crc32(uint32_t crc, const void *p, size_t n);
void spool_put32(unsigned char *p, uint32_t v);
void spool_seg_name(uint64_t seq, char *buf, size_t len);
/* spool_parse_name - seq from a segment file name; 0, or -1: not ours */
int spool_parse_name(const char *name, uint64_t *seq);
/* spool_rec_at - 1 intact (*next after it), 0 the end, -1 damaged, -2 no memory
 */
int spool_rec_at(int fd, uint64_t off, uint64_t size, struct rd_spool_rec *rec,
    uint64_t *next);
/* spool_resync - the next intact record from "from", or size */
uint64_t spool_resync(int fd, uint64_t from, uint64_t size);

/* spool_load.c: opening an existing spool */
bool spool_file_ok(const struct rd_spool *sp, int fd, char *why, size_t len);
int spool_load(struct rd_spool *sp, struct rd_err *err);
int spool_dir_ok(struct rd_spool *sp, struct rd_err *err);

/* spool_seg.c: the segment table and the cursor */
ssize_t spool_find(const struct rd_spool *sp, uint64_t seq);
struct spool_pos spool_first_pos(const struct rd_spool *sp);
void spool_cursor_save(struct rd_spool *sp);
void spool_remove_first(struct rd_spool *sp);
void spool_trim(struct rd_spool *sp, bool moved);

#endif

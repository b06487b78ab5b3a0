/*
 * spool.c - the append-only event spool on disk: segments of CRC-checked
 * records, a persisted read cursor, a size cap with a drop policy.
 *
 * Owns struct rd_spool and every file in the spool directory (the format
 * is in spool.h). The spool only stores and counts: publish.c decides when
 * to append, read and acknowledge, and logs what the counters show.
 * Threads: one mutex per spool around every public function; the only
 * slow calls made under it are the writes themselves (page cache), the
 * fdatasync of a segment being sealed, and the reads of one batch.
 * Memory: the segment table and the table of read-but-unacknowledged
 * positions grow with realloc; records read are malloc'ed for the caller.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "relaydiag/spool.h"
#include "relaydiag/text.h"

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

/*
 * CRC-32 (IEEE 802.3, reflected, as zlib's crc32()), four bits at a time:
 * a 16-entry table is fast enough for event-sized records.
 */
static const uint32_t spool_crc_tab[16] = {
    0x00000000,
    0x1db71064,
    0x3b6e20c8,
    0x26d930ac,
    0x76dc4190,
    0x6b6b51f4,
    0x4db26158,
    0x5005713c,
    0xedb88320,
    0xf00f9344,
    0xd6d6a3e8,
    0xcb61b38c,
    0x9b64c2b0,
    0x86d3d2d4,
    0xa00ae278,
    0xbdbdf21c,
};

/* spool_crc32 - continue crc over p[0..n) (start with 0) */
static uint32_t
spool_crc32(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;

	crc = ~crc;
	while (n-- > 0) {
		crc ^= *b++;
		crc = (crc >> 4) ^ spool_crc_tab[crc & 15];
		crc = (crc >> 4) ^ spool_crc_tab[crc & 15];
	}
	return (~crc);
}

static void
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
static void
spool_seg_name(uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "spool-%016" PRIu64 ".log", seq);
}

/* spool_parse_name - seq from a segment file name; 0, or -1: not ours */
static int
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
static int
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
static uint64_t
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

/* spool_find - index of segment seq, or -1 */
static ssize_t
spool_find(const struct rd_spool *sp, uint64_t seq)
{
	size_t i;

	for (i = 0; i < sp->nsegs; i++)
		if (sp->segs[i].seq == seq)
			return ((ssize_t)i);
	return (-1);
}

/* spool_empty_pos - where the cursor points when there is no segment */
static struct spool_pos
spool_empty_pos(const struct rd_spool *sp)
{
	struct spool_pos p = {sp->next_seq, 0, 0};

	return (p);
}

/* spool_first_pos - the start of the oldest segment */
static struct spool_pos
spool_first_pos(const struct rd_spool *sp)
{
	struct spool_pos p = {0, 0, 0};

	if (sp->nsegs == 0)
		return (spool_empty_pos(sp));
	p.seq = sp->segs[0].seq;
	return (p);
}

/*
 * spool_cursor_save - write the cursor file: a new file renamed over the
 * old one, so a crash leaves either. Not fsync()ed: losing the newest
 * cursor only replays what was already delivered (at least once). Errors
 * are ignored for the same reason.
 */
static void
spool_cursor_save(struct rd_spool *sp)
{
	char buf[80];
	int fd, n;

	n = snprintf(buf, sizeof(buf), "RDSPOOL1 %" PRIu64 " %" PRIu64 "\n",
	    sp->commit.seq, sp->commit.off);
	fd = openat(sp->dirfd, SPOOL_CURSOR_TMP,
	    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		unlinkat(sp->dirfd, SPOOL_CURSOR_TMP, 0);
		return;
	}
	close(fd);
	renameat(sp->dirfd, SPOOL_CURSOR_TMP, sp->dirfd, SPOOL_CURSOR);
}

/* spool_note - one line for the log, kept until the publisher asks */
static void
spool_note(struct rd_spool *sp, const char *fmt, ...)
{
	va_list ap;

	if (sp->nnotes == SPOOL_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(sp->notes[sp->nnotes++], SPOOL_NOTE_LEN, fmt, ap);
	va_end(ap);
}

/*
 * spool_file_ok - fd is a regular file owned by the spool's user; else
 * false with why[] filled
 */
static bool
spool_file_ok(const struct rd_spool *sp, int fd, char *why, size_t len)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(why, len, "cannot stat it: %s", strerror(errno));
		return (false);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "not a regular file");
		return (false);
	}
	if (st.st_uid != sp->uid) {
		snprintf(why, len, "owned by uid %lu, not by uid %lu",
		    (unsigned long)st.st_uid, (unsigned long)sp->uid);
		return (false);
	}
	return (true);
}

/*
 * spool_cursor_load - the saved cursor into *c; 1: read and well-formed,
 * 0: there is none (a spool never acknowledged), -1: there is one, but it
 * is garbled or not ours (noted)
 */
static int
spool_cursor_load(struct rd_spool *sp, struct spool_pos *c)
{
	char buf[80], why[96], tail;
	ssize_t n;
	int fd;

	c->seq = c->off = c->idx = 0;
	if ((fd = openat(sp->dirfd, SPOOL_CURSOR, SPOOL_OPEN_RD)) < 0) {
		if (errno == ENOENT)
			return (0);
		spool_note(sp, "%s/%s: %s", sp->dir, SPOOL_CURSOR,
		    strerror(errno));
		return (-1);
	}
	if (!spool_file_ok(sp, fd, why, sizeof(why))) {
		close(fd);
		spool_note(sp, "%s/%s: %s", sp->dir, SPOOL_CURSOR, why);
		return (-1);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (n <= 0 || sscanf(buf, "RDSPOOL1 %" SCNu64 " %" SCNu64 "%c",
			  &c->seq, &c->off, &tail) != 3 || tail != '\n') {
		c->seq = c->off = 0;
		spool_note(sp, "%s/%s: garbled", sp->dir, SPOOL_CURSOR);
		return (-1);
	}
	return (1);
}

/* spool_remove_first - unlink the oldest segment and forget it */
static void
spool_remove_first(struct rd_spool *sp)
{
	char name[SPOOL_NAME_BUF];
	struct spool_seg *s = &sp->segs[0];

	if (sp->nsegs == 1 && sp->wfd >= 0) {
		close(sp->wfd);
		sp->wfd = -1;
		sp->dirty = false;
	}
	if (sp->rfd >= 0 && sp->rfd_seq == s->seq) {
		close(sp->rfd);
		sp->rfd = -1;
	}
	spool_seg_name(s->seq, name, sizeof(name));
	unlinkat(sp->dirfd, name, 0);
	sp->bytes -= s->size;
	memmove(
	    &sp->segs[0], &sp->segs[1], (sp->nsegs - 1) * sizeof(sp->segs[0]));
	sp->nsegs--;
}

/*
 * spool_trim - delete the segments the cursor has left behind, and the
 * last one too when the cursor is at its end (the spool is then empty);
 * persist the cursor when it moved or anything was deleted.
 */
static void
spool_trim(struct rd_spool *sp, bool moved)
{
	struct spool_seg *s;
	bool at_end;

	while (sp->nsegs > 0) {
		s = &sp->segs[0];
		if (sp->commit.seq < s->seq) {
			sp->commit = spool_first_pos(sp);
			moved = true;
			break;
		}
		if (sp->commit.seq == s->seq && sp->commit.off < s->size)
			break;
		at_end = sp->commit.seq == s->seq;
		spool_remove_first(sp);
		if (at_end)
			sp->commit = spool_first_pos(sp);
		moved = true;
	}
	if (sp->nsegs == 0)
		sp->pending = 0;
	if (moved)
		spool_cursor_save(sp);
}

/*
 * spool_drop_oldest - delete the oldest segment to make room; its records
 * not yet acknowledged are counted as dropped (some may be in a batch the
 * publisher is delivering right now).
 */
static void
spool_drop_oldest(struct rd_spool *sp)
{
	struct spool_seg *s = &sp->segs[0];
	uint64_t lost, seq = s->seq;

	lost = s->nrec;
	if (sp->commit.seq == seq)
		lost = lost > sp->commit.idx ? lost - sp->commit.idx : 0;
	sp->dropped_oldest += lost;
	sp->pending = sp->pending > lost ? sp->pending - lost : 0;
	spool_remove_first(sp);
	if (sp->commit.seq <= seq)
		sp->commit = spool_first_pos(sp);
	if (sp->rd.seq <= seq)
		sp->rd = sp->commit;
	spool_cursor_save(sp);
}

/*
 * spool_scan - count the intact records of a segment, and find the index
 * of the record at at->off when at is not NULL (*at_ok: it is a record
 * boundary, or the end). 0; 1: not a regular file of ours, refused
 * (noted); -1 with errno.
 */
static int
spool_scan(struct rd_spool *sp, struct spool_seg *sg,
    const struct spool_pos *at, uint64_t *idx_at, bool *at_ok)
{
	char name[SPOOL_NAME_BUF], why[96];
	struct stat st;
	uint64_t off = 0, next;
	int fd, r;

	spool_seg_name(sg->seq, name, sizeof(name));
	if ((fd = openat(sp->dirfd, name, SPOOL_OPEN_RD)) < 0) {
		if (errno != ELOOP)
			return (-1);
		spool_note(sp, "%s/%s: a symbolic link; refused, left in "
		    "place: remove it", sp->dir, name);
		return (1);
	}
	if (!spool_file_ok(sp, fd, why, sizeof(why))) {
		close(fd);
		spool_note(sp, "%s/%s: %s; refused, left in place: remove it",
		    sp->dir, name, why);
		return (1);
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return (-1);
	}
	sg->size = (uint64_t)st.st_size;
	sg->nrec = 0;
	for (;;) {
		if (at != NULL && off == at->off) {
			*idx_at = sg->nrec;
			*at_ok = true;
		}
		r = spool_rec_at(fd, off, sg->size, NULL, &next);
		if (r == 0)
			break;
		if (r == -2) {
			close(fd);
			errno = ENOMEM;
			return (-1);
		}
		if (r == 1) {
			sg->nrec++;
			off = next;
		} else
			off = spool_resync(fd, off + 1, sg->size);
	}
	close(fd);
	return (0);
}

/* spool_cmp_seq - qsort order of segment numbers */
static int
spool_cmp_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* spool_list - the segment numbers in the directory, sorted; -1: errno */
static int
spool_list(struct rd_spool *sp, uint64_t **out, size_t *n)
{
	struct dirent *de;
	uint64_t *v = NULL, *nv, seq;
	size_t cap = 0;
	DIR *d;
	int fd;

	*n = 0;
	if ((fd = fcntl(sp->dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return (-1);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return (-1);
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (spool_parse_name(de->d_name, &seq) != 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				errno = ENOMEM;
				return (-1);
			}
			v = nv;
		}
		v[(*n)++] = seq;
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), spool_cmp_seq);
	*out = v;
	return (0);
}

/*
 * spool_cursor_trusted - the cursor names a segment on disk and a record
 * boundary in it (or its end); *idx: the records before it there
 */
static bool
spool_cursor_trusted(const struct rd_spool *sp, const struct spool_pos *c,
    bool at_ok, uint64_t idx, struct spool_pos *out)
{
	if (!at_ok || spool_find(sp, c->seq) < 0)
		return (false);
	*out = *c;
	out->idx = idx;
	return (true);
}

/*
 * spool_load - find the segments and the cursor of an existing spool.
 * The cursor is trusted only when it names a segment on disk and a record
 * boundary in it: then the segments before it were delivered (a crash
 * came between the cursor's update and their unlink) and go now. A cursor
 * that contradicts the disk (garbled, not ours, a segment above every one
 * there, an offset inside a record) deletes nothing: everything on disk is
 * replayed (at least once: consumers drop duplicates by id), and noted. A
 * first segment with nothing left to deliver (delivered, or a torn tail
 * only) goes too, its damage counted.
 */
static int
spool_load(struct rd_spool *sp, struct rd_err *err)
{
	char ebuf[128];
	uint64_t *seqs = NULL, idx = 0, left, replay = 0;
	struct spool_pos cur, commit;
	struct spool_seg sg;
	bool at_ok = false, trusted;
	size_t n, i;
	int have, r;

	have = spool_cursor_load(sp, &cur);
	if (spool_list(sp, &seqs, &n) != 0) {
		rd_err_set(err, sp->dir, 0, "cannot list the spool: %s",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		return (-1);
	}
	if ((sp->segs = calloc(n + 1, sizeof(*sp->segs))) == NULL) {
		free(seqs);
		rd_err_set(err, sp->dir, 0, "out of memory");
		return (-1);
	}
	sp->segcap = n + 1;
	sp->next_seq = 1;
	for (i = 0; i < n; i++) {
		/* Never reuse a name on disk, even one refused. */
		if (seqs[i] >= sp->next_seq)
			sp->next_seq = seqs[i] + 1;
		sg.seq = seqs[i];
		r = spool_scan(sp, &sg, have > 0 && sg.seq == cur.seq ? &cur
								     : NULL,
		    &idx, &at_ok);
		if (r == 1)
			continue;
		if (r != 0) {
			rd_err_set(err, sp->dir, 0,
			    "cannot read spool segment "
			    "%016" PRIu64 ": %s",
			    sg.seq, strerror_r(errno, ebuf, sizeof(ebuf)));
			free(seqs);
			return (-1);
		}
		sp->segs[sp->nsegs++] = sg;
		sp->bytes += sg.size;
		sp->pending += sg.nrec;
	}
	free(seqs);

	trusted = have > 0 && spool_cursor_trusted(sp, &cur, at_ok, idx,
				  &commit);
	if (trusted) {
		while (sp->nsegs > 0 && sp->segs[0].seq < commit.seq) {
			sp->pending -= sp->segs[0].nrec;
			spool_remove_first(sp);
		}
		sp->pending -= commit.idx;
	} else {
		commit = spool_first_pos(sp);
		for (i = 0; i < sp->nsegs; i++)
			replay += sp->segs[i].nrec;
		/* A cursor behind every segment is what drops leave. */
		if (have > 0 && sp->nsegs > 0 && cur.seq >= sp->segs[0].seq)
			spool_note(sp, "%s/%s says segment %" PRIu64
			    " offset %" PRIu64 ", which is not a record "
			    "boundary of a segment on disk (%016" PRIu64
			    "..%016" PRIu64 "); cursor distrusted: replaying "
			    "all %" PRIu64 " records (duplicates carry the "
			    "same id)", sp->dir, SPOOL_CURSOR, cur.seq,
			    cur.off, sp->segs[0].seq,
			    sp->segs[sp->nsegs - 1].seq, replay);
		else if (have < 0 && replay > 0)
			spool_note(sp, "cursor distrusted: replaying all %"
			    PRIu64 " records (duplicates carry the same id)",
			    replay);
	}
	if (trusted && commit.seq >= sp->next_seq)
		sp->next_seq = commit.seq + 1;
	sp->commit = commit;
	/* A first segment with nothing left to deliver goes now. */
	while (sp->nsegs > 0 && sp->commit.seq == sp->segs[0].seq) {
		left = sp->segs[0].nrec - sp->commit.idx;
		if (left > 0 || sp->commit.off >= sp->segs[0].size)
			break;
		sp->corrupt++; /* a torn tail, or damage at its end */
		sp->commit.off = sp->segs[0].size;
		spool_trim(sp, true);
	}
	sp->rd = sp->commit;
	spool_trim(sp, !trusted && have != 0);
	return (0);
}

const char *
rd_spool_note(struct rd_spool *sp, size_t i)
{
	return (i < sp->nnotes ? sp->notes[i] : NULL);
}

/*
 * spool_dir_ok - the directory is ours, and only ours: owned by the
 * spool's user (refused otherwise), mode 0700 (tightened, and noted, when
 * it was wider: another user could have planted files, which the scan
 * then refuses)
 */
static int
spool_dir_ok(struct rd_spool *sp, struct rd_err *err)
{
	struct stat st;
	char ebuf[128];

	if (fstat(sp->dirfd, &st) != 0) {
		rd_err_set(err, sp->dir, 0, "cannot stat the spool "
		    "directory: %s", strerror_r(errno, ebuf, sizeof(ebuf)));
		return (-1);
	}
	if (st.st_uid != sp->uid) {
		rd_err_set(err, sp->dir, 0, "the spool directory is owned by "
		    "uid %lu, not by relaydiag's uid %lu: another user could "
		    "plant events in it; chown it, or set SpoolDir elsewhere",
		    (unsigned long)st.st_uid, (unsigned long)sp->uid);
		return (-1);
	}
	if ((st.st_mode & 077) != 0) {
		if (fchmod(sp->dirfd, 0700) != 0) {
			rd_err_set(err, sp->dir, 0, "the spool directory is "
			    "mode %04o and cannot be made 0700: %s",
			    (unsigned)(st.st_mode & 07777),
			    strerror_r(errno, ebuf, sizeof(ebuf)));
			return (-1);
		}
		spool_note(sp, "%s: the spool directory was mode %04o; made "
		    "0700 (files not relaydiag's are refused)", sp->dir,
		    (unsigned)(st.st_mode & 07777));
	}
	return (0);
}

struct rd_spool *
rd_spool_open(const struct rd_spool_params *p, struct rd_err *err)
{
	struct rd_spool *sp;
	char ebuf[128], why[96];

	if (p->dir == NULL || p->dir[0] == '\0') {
		rd_err_set(err, "SpoolDir", 0, "no spool directory given");
		return (NULL);
	}
	if ((sp = calloc(1, sizeof(*sp))) == NULL ||
	    (sp->dir = strdup(p->dir)) == NULL) {
		free(sp);
		rd_err_set(err, p->dir, 0, "out of memory");
		return (NULL);
	}
	pthread_mutex_init(&sp->lock, NULL);
	sp->dirfd = sp->lockfd = sp->wfd = sp->rfd = -1;
	sp->uid = geteuid();
	sp->policy = p->policy;
	sp->max_bytes = p->max_bytes ? p->max_bytes : SPOOL_DEFAULT_MAX;
	sp->seg_bytes = p->segment_bytes;
	if (sp->seg_bytes == 0) {
		sp->seg_bytes = sp->max_bytes / 16;
		if (sp->seg_bytes < SPOOL_SEG_MIN)
			sp->seg_bytes = SPOOL_SEG_MIN;
		if (sp->seg_bytes > SPOOL_SEG_MAX)
			sp->seg_bytes = SPOOL_SEG_MAX;
	}
	if (sp->seg_bytes > sp->max_bytes)
		sp->seg_bytes = sp->max_bytes;

	if (mkdir(p->dir, 0700) != 0 && errno != EEXIST) {
		rd_err_set(err, p->dir, 0,
		    "cannot create the spool directory: "
		    "%s; create its parent, or set SpoolDir elsewhere",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	if ((sp->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
	    0) {
		rd_err_set(err, p->dir, 0,
		    "cannot open the spool directory: %s",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (spool_dir_ok(sp, err) != 0)
		goto fail;
	sp->lockfd = openat(sp->dirfd, SPOOL_LOCK,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (sp->lockfd >= 0 && !spool_file_ok(sp, sp->lockfd, why,
	    sizeof(why))) {
		rd_err_set(err, p->dir, 0, "the spool lock is %s: remove it",
		    why);
		goto fail;
	}
	if (sp->lockfd < 0) {
		rd_err_set(err, p->dir, 0,
		    "cannot create the spool lock: %s; "
		    "the directory must be writable by the relaydiag user",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) != 0) {
		rd_err_set(err, p->dir, 0,
		    "spool in use by another process "
		    "(is another relaydiag running with this SpoolDir?)");
		goto fail;
	}
	unlinkat(sp->dirfd, SPOOL_CURSOR_TMP, 0);
	if (spool_load(sp, err) != 0)
		goto fail;
	return (sp);
fail:
	rd_spool_close(sp);
	return (NULL);
}

void
rd_spool_close(struct rd_spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->wfd >= 0) {
		if (sp->dirty)
			fdatasync(sp->wfd);
		close(sp->wfd);
	}
	if (sp->rfd >= 0)
		close(sp->rfd);
	if (sp->lockfd >= 0)
		close(sp->lockfd); /* releases the flock */
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	pthread_mutex_destroy(&sp->lock);
	free(sp->segs);
	free(sp->pend);
	free(sp->dir);
	free(sp);
}

/*
 * spool_new_segment - seal the segment being written (fdatasync, close)
 * and start the next one. 0, or -1 with errno.
 */
static int
spool_new_segment(struct rd_spool *sp)
{
	char name[SPOOL_NAME_BUF];
	struct spool_seg *ns;
	int fd;

	if (sp->wfd >= 0) {
		if (sp->dirty)
			fdatasync(sp->wfd);
		close(sp->wfd);
		sp->wfd = -1;
		sp->dirty = false;
	}
	if (sp->nsegs == sp->segcap) {
		ns = realloc(sp->segs, (sp->segcap * 2 + 4) * sizeof(*ns));
		if (ns == NULL) {
			errno = ENOMEM;
			return (-1);
		}
		sp->segs = ns;
		sp->segcap = sp->segcap * 2 + 4;
	}
	spool_seg_name(sp->next_seq, name, sizeof(name));
	fd = openat(sp->dirfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return (-1);
	fsync(sp->dirfd); /* make the new name durable */
	ns = &sp->segs[sp->nsegs++];
	ns->seq = sp->next_seq++;
	ns->size = ns->nrec = 0;
	if (sp->nsegs == 1 && sp->npend == 0)
		sp->commit = sp->rd = spool_first_pos(sp);
	sp->wfd = fd;
	return (0);
}

/* spool_writev_all - write all of iov[0..n); 0, or -1 with errno */
static int
spool_writev_all(int fd, struct iovec *iov, int n)
{
	ssize_t r;

	while (n > 0) {
		r = writev(fd, iov, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return (-1);
		if (r == 0) {
			errno = EIO;
			return (-1);
		}
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return (0);
}

/*
 * spool_write_failed - a write error at the end of the segment: cut the
 * partial record off; when even that fails, seal the segment (the reader
 * will skip the torn tail) and let the next append start a new one.
 */
static void
spool_write_failed(struct rd_spool *sp, int e)
{
	struct spool_seg *s = &sp->segs[sp->nsegs - 1];
	struct stat st;

	if (ftruncate(sp->wfd, (off_t)s->size) != 0) {
		if (fstat(sp->wfd, &st) == 0 &&
		    (uint64_t)st.st_size > s->size) {
			sp->bytes += (uint64_t)st.st_size - s->size;
			s->size = (uint64_t)st.st_size;
		}
		close(sp->wfd);
		sp->wfd = -1;
		sp->dirty = false;
	}
	sp->dropped_io++;
	sp->last_errno = e;
}

int
rd_spool_append(
    struct rd_spool *sp, const char *type, const char *json, size_t len)
{
	unsigned char h[SPOOL_HDR], tl, lenb[4];
	struct iovec iov[4];
	size_t tlen;
	uint64_t rsize;
	uint32_t plen, crc;
	int e;

	if (type == NULL || json == NULL || len == 0 ||
	    (tlen = strlen(type)) == 0 || tlen >= RD_SPOOL_TYPE_MAX) {
		errno = EINVAL;
		return (-1);
	}
	if (len > RD_SPOOL_JSON_MAX) {
		pthread_mutex_lock(&sp->lock);
		sp->dropped_newest++;
		pthread_mutex_unlock(&sp->lock);
		errno = EFBIG;
		return (-1);
	}
	/* The record is built outside the lock. */
	tl = (unsigned char)tlen;
	plen = (uint32_t)(1 + tlen + len);
	rsize = SPOOL_HDR + (uint64_t)plen;
	spool_put32(lenb, plen);
	crc = spool_crc32(0, lenb, 4);
	crc = spool_crc32(crc, &tl, 1);
	crc = spool_crc32(crc, type, tlen);
	crc = spool_crc32(crc, json, len);
	spool_put32(h, SPOOL_MAGIC);
	memcpy(h + 4, lenb, 4);
	spool_put32(h + 8, crc);
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = &tl;
	iov[1].iov_len = 1;
	iov[2].iov_base = (void *)(uintptr_t)type;
	iov[2].iov_len = tlen;
	iov[3].iov_base = (void *)(uintptr_t)json;
	iov[3].iov_len = len;

	pthread_mutex_lock(&sp->lock);
	if (rsize > sp->max_bytes) {
		sp->dropped_newest++;
		pthread_mutex_unlock(&sp->lock);
		errno = EFBIG;
		return (-1);
	}
	while (sp->bytes + rsize > sp->max_bytes && sp->nsegs > 0) {
		if (sp->policy == RD_SPOOL_DROP_NEWEST) {
			sp->dropped_newest++;
			pthread_mutex_unlock(&sp->lock);
			errno = ENOSPC;
			return (-1);
		}
		spool_drop_oldest(sp);
	}
	if (sp->wfd < 0 ||
	    (sp->segs[sp->nsegs - 1].size > 0 &&
		sp->segs[sp->nsegs - 1].size + rsize > sp->seg_bytes)) {
		if (spool_new_segment(sp) != 0) {
			e = errno;
			sp->dropped_io++;
			sp->last_errno = e;
			pthread_mutex_unlock(&sp->lock);
			errno = e;
			return (-1);
		}
	}
	if (spool_writev_all(sp->wfd, iov, 4) != 0) {
		e = errno;
		spool_write_failed(sp, e);
		pthread_mutex_unlock(&sp->lock);
		errno = e;
		return (-1);
	}
	sp->segs[sp->nsegs - 1].size += rsize;
	sp->segs[sp->nsegs - 1].nrec++;
	sp->bytes += rsize;
	sp->pending++;
	sp->appended++;
	sp->dirty = true;
	pthread_mutex_unlock(&sp->lock);
	return (0);
}

int
rd_spool_sync(struct rd_spool *sp)
{
	int fd, r, e;

	pthread_mutex_lock(&sp->lock);
	if (sp->wfd < 0 || !sp->dirty) {
		pthread_mutex_unlock(&sp->lock);
		return (0);
	}
	/* A duplicate descriptor lets appends go on while this one waits. */
	fd = fcntl(sp->wfd, F_DUPFD_CLOEXEC, 0);
	sp->dirty = false;
	pthread_mutex_unlock(&sp->lock);
	if (fd < 0)
		return (-1);
	r = fdatasync(fd);
	e = errno;
	close(fd);
	if (r != 0) {
		pthread_mutex_lock(&sp->lock);
		sp->last_errno = e;
		pthread_mutex_unlock(&sp->lock);
		errno = e;
		return (-1);
	}
	return (0);
}

/* spool_push_pend - remember the position after a record read */
static int
spool_push_pend(struct rd_spool *sp)
{
	struct spool_pos *np;

	if (sp->npend == sp->pendcap) {
		np = realloc(sp->pend, (sp->pendcap * 2 + 16) * sizeof(*np));
		if (np == NULL)
			return (-1);
		sp->pend = np;
		sp->pendcap = sp->pendcap * 2 + 16;
	}
	sp->pend[sp->npend++] = sp->rd;
	return (0);
}

/* spool_damaged - count damage at the read position once, then skip it */
static void
spool_damaged(struct rd_spool *sp, uint64_t size)
{
	if (sp->last_bad.seq != sp->rd.seq || sp->last_bad.off != sp->rd.off) {
		sp->corrupt++;
		sp->last_bad = sp->rd;
	}
	sp->rd.off =
	    sp->rfd < 0 ? size : spool_resync(sp->rfd, sp->rd.off + 1, size);
}

size_t
rd_spool_read(struct rd_spool *sp, struct rd_spool_rec *out, size_t max)
{
	char name[SPOOL_NAME_BUF];
	struct spool_seg *s;
	bool moved = false;
	uint64_t next;
	ssize_t i;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&sp->lock);
	while (n < max && sp->nsegs > 0) {
		if ((i = spool_find(sp, sp->rd.seq)) < 0) {
			/* its segment was dropped to make room */
			if (sp->rd.seq > sp->segs[0].seq)
				break;
			sp->rd = spool_first_pos(sp);
			continue;
		}
		s = &sp->segs[i];
		if (sp->rd.off >= s->size) {
			if ((size_t)i + 1 == sp->nsegs) {
				if (sp->npend == 0)
					sp->pending = 0;
				break;
			}
			sp->rd.seq = sp->segs[i + 1].seq;
			sp->rd.off = sp->rd.idx = 0;
		} else {
			if (sp->rfd < 0 || sp->rfd_seq != s->seq) {
				if (sp->rfd >= 0)
					close(sp->rfd);
				spool_seg_name(s->seq, name, sizeof(name));
				sp->rfd = openat(sp->dirfd, name, SPOOL_OPEN_RD);
				sp->rfd_seq = s->seq;
			}
			r = sp->rfd < 0 ? -1
					: spool_rec_at(sp->rfd, sp->rd.off,
					      s->size, &out[n], &next);
			if (r == -2)
				break;
			if (r == 1) {
				sp->rd.off = next;
				sp->rd.idx++;
				if (spool_push_pend(sp) != 0) {
					free(out[n].json);
					sp->rd = sp->npend
						     ? sp->pend[sp->npend - 1]
						     : sp->commit;
					break;
				}
				n++;
				continue;
			}
			spool_damaged(sp, s->size);
		}
		/* Skipped damage or a segment's end: nothing to deliver. */
		if (sp->npend == 0) {
			sp->commit = sp->rd;
			moved = true;
		}
	}
	if (moved)
		spool_trim(sp, true);
	pthread_mutex_unlock(&sp->lock);
	return (n);
}

void
rd_spool_ack(struct rd_spool *sp, size_t n)
{
	struct spool_pos last;
	uint64_t live = 0;
	size_t i;

	pthread_mutex_lock(&sp->lock);
	if (n > sp->npend)
		n = sp->npend;
	for (i = 0; i < n; i++)
		if (spool_find(sp, sp->pend[i].seq) >= 0)
			live++;
	if (n > 0) {
		last = sp->pend[n - 1];
		/* Segments only go away oldest first: if last's is gone,
		   so are all the others read, dropped to make room. */
		if (spool_find(sp, last.seq) >= 0)
			sp->commit = last;
		else
			sp->commit = spool_first_pos(sp);
		sp->pending = sp->pending > live ? sp->pending - live : 0;
	}
	sp->npend = 0;
	spool_trim(sp, n > 0);
	sp->rd = sp->commit;
	pthread_mutex_unlock(&sp->lock);
}

uint64_t
rd_spool_pending(struct rd_spool *sp)
{
	uint64_t n;

	pthread_mutex_lock(&sp->lock);
	n = sp->pending;
	pthread_mutex_unlock(&sp->lock);
	return (n);
}

void
rd_spool_stats(struct rd_spool *sp, struct rd_spool_stats *out)
{
	pthread_mutex_lock(&sp->lock);
	out->appended = sp->appended;
	out->pending = sp->pending;
	out->bytes = sp->bytes;
	out->segments = sp->nsegs;
	out->dropped_oldest = sp->dropped_oldest;
	out->dropped_newest = sp->dropped_newest;
	out->dropped_io = sp->dropped_io;
	out->corrupt = sp->corrupt;
	out->last_errno = sp->last_errno;
	pthread_mutex_unlock(&sp->lock);
}

int
rd_spool_policy_parse(const char *s, enum rd_spool_policy *out)
{
	if (s != NULL && rd_strcasecmp_ascii(s, "oldest") == 0)
		*out = RD_SPOOL_DROP_OLDEST;
	else if (s != NULL && rd_strcasecmp_ascii(s, "newest") == 0)
		*out = RD_SPOOL_DROP_NEWEST;
	else
		return (-1);
	return (0);
}

const char *
rd_spool_policy_name(enum rd_spool_policy policy)
{
	return (policy == RD_SPOOL_DROP_NEWEST ? "newest" : "oldest");
}

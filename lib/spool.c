/*
 * spool.c - the append-only event spool on disk: segments of CRC-checked
 * records, a persisted read cursor, a size cap with a drop policy.
 *
 * Owns struct rd_spool and every file in the spool directory (the format
 * is in spool.h; spool_rec.c reads and writes it, spool_seg.c keeps the
 * segment table and the cursor, spool_load.c opens an existing spool).
 * The spool only stores and counts: publish.c decides when
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "spool_int.h"
#include "relaydiag/text.h"
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
	if (sp->lockfd >= 0 &&
	    !spool_file_ok(sp, sp->lockfd, why, sizeof(why))) {
		rd_err_set(
		    err, p->dir, 0, "the spool lock is %s: remove it", why);
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
				sp->rfd =
				    openat(sp->dirfd, name, SPOOL_OPEN_RD);
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

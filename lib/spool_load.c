/*
 * spool_load.c - opening an existing spool: what on disk is trusted. The
 * directory must be ours (0700), every file a regular file of ours; the
 * cursor is believed only when it names a record boundary of a segment on
 * disk; segments are scanned and counted (spool.h).
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

/* spool_note - one line for the log, kept until the publisher asks */
static void spool_note(struct rd_spool *sp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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
bool
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
		spool_note(
		    sp, "%s/%s: %s", sp->dir, SPOOL_CURSOR, strerror(errno));
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
	if (n <= 0 ||
	    sscanf(buf, "RDSPOOL1 %" SCNu64 " %" SCNu64 "%c", &c->seq, &c->off,
		&tail) != 3 ||
	    tail != '\n') {
		c->seq = c->off = 0;
		spool_note(sp, "%s/%s: garbled", sp->dir, SPOOL_CURSOR);
		return (-1);
	}
	return (1);
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
		spool_note(sp,
		    "%s/%s: a symbolic link; refused, left in "
		    "place: remove it",
		    sp->dir, name);
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
int
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
		r = spool_scan(sp, &sg,
		    have > 0 && sg.seq == cur.seq ? &cur : NULL, &idx, &at_ok);
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

	trusted =
	    have > 0 && spool_cursor_trusted(sp, &cur, at_ok, idx, &commit);
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
			spool_note(sp,
			    "%s/%s says segment %" PRIu64 " offset %" PRIu64
			    ", which is not a record "
			    "boundary of a segment on disk (%016" PRIu64
			    "..%016" PRIu64 "); cursor distrusted: replaying "
			    "all %" PRIu64 " records (duplicates carry the "
			    "same id)",
			    sp->dir, SPOOL_CURSOR, cur.seq, cur.off,
			    sp->segs[0].seq, sp->segs[sp->nsegs - 1].seq,
			    replay);
		else if (have < 0 && replay > 0)
			spool_note(sp,
			    "cursor distrusted: replaying all %" PRIu64
			    " records (duplicates carry the same id)",
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
int
spool_dir_ok(struct rd_spool *sp, struct rd_err *err)
{
	struct stat st;
	char ebuf[128];

	if (fstat(sp->dirfd, &st) != 0) {
		rd_err_set(err, sp->dir, 0,
		    "cannot stat the spool "
		    "directory: %s",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		return (-1);
	}
	if (st.st_uid != sp->uid) {
		rd_err_set(err, sp->dir, 0,
		    "the spool directory is owned by "
		    "uid %lu, not by relaydiag's uid %lu: another user could "
		    "plant events in it; chown it, or set SpoolDir elsewhere",
		    (unsigned long)st.st_uid, (unsigned long)sp->uid);
		return (-1);
	}
	if ((st.st_mode & 077) != 0) {
		if (fchmod(sp->dirfd, 0700) != 0) {
			rd_err_set(err, sp->dir, 0,
			    "the spool directory is "
			    "mode %04o and cannot be made 0700: %s",
			    (unsigned)(st.st_mode & 07777),
			    strerror_r(errno, ebuf, sizeof(ebuf)));
			return (-1);
		}
		spool_note(sp,
		    "%s: the spool directory was mode %04o; made "
		    "0700 (files not relaydiag's are refused)",
		    sp->dir, (unsigned)(st.st_mode & 07777));
	}
	return (0);
}

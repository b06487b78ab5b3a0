/*
 * spool_seg.c - the spool's segment table and its cursor: finding a
 * segment, the first position, removing the oldest segment, trimming what
 * the cursor has left behind, and saving the cursor (spool.h).
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

/* spool_find - index of segment seq, or -1 */
ssize_t
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
struct spool_pos
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
void
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

/* spool_remove_first - unlink the oldest segment and forget it */
void
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
void
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

/*
 * test_spool.c - the on-disk spool: order, cursor across restarts, torn
 * and corrupt records, the size cap with both policies, write errors
 * (EFBIG through RLIMIT_FSIZE), permissions, locking, concurrent appends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relaydiag/spool.h"
#include "testutil.h"

struct fixture {
	char base[64]; /* tu_tmpdir */
	char dir[96];  /* base/spool: created by the spool */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return (-1);
	tu_tmpdir(f->base, sizeof(f->base), "test_spool");
	tu_path(f->dir, sizeof(f->dir), f->base, "spool");
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->base);
	free(f);
	return (0);
}

static struct rd_spool *
open_spool(
    const char *dir, uint64_t max, uint64_t seg, enum rd_spool_policy pol)
{
	struct rd_spool_params p = {dir, max, seg, pol};
	struct rd_spool *sp;
	struct rd_err err;

	memset(&err, 0, sizeof(err));
	if ((sp = rd_spool_open(&p, &err)) == NULL)
		fail_msg("rd_spool_open(%s): %s", dir, err.text);
	return (sp);
}

/* ev - the JSON of test event number i */
static void
ev(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "{\"id\":\"e%u\",\"pad\":\"%.*s\"}", i,
	    (int)(i % 40), "0123456789012345678901234567890123456789");
}

static const char *
type_of(unsigned i)
{
	static const char *t[] = {"rcpt", "message", "session", "alert"};

	return (t[i % 4]);
}

static void
append_range(struct rd_spool *sp, unsigned from, unsigned to)
{
	char j[128];
	unsigned i;

	for (i = from; i < to; i++) {
		ev(j, sizeof(j), i);
		if (rd_spool_append(sp, type_of(i), j, strlen(j)) != 0)
			fail_msg("append e%u: %s", i, strerror(errno));
	}
}

static bool
skipped(unsigned i, const unsigned *skip, size_t nskip)
{
	size_t s;

	for (s = 0; s < nskip; s++)
		if (skip[s] == i)
			return (true);
	return (false);
}

/*
 * read_expect - read everything (batches of batch), acknowledge it, and
 * check it is exactly events from..to-1 except those in skip[].
 */
static void
read_expect(struct rd_spool *sp, unsigned from, unsigned to,
    const unsigned *skip, size_t nskip, size_t batch)
{
	struct rd_spool_rec recs[64];
	unsigned want = from;
	char j[128];
	size_t n, k;

	while ((n = rd_spool_read(sp, recs, batch)) > 0) {
		for (k = 0; k < n; k++) {
			while (skipped(want, skip, nskip))
				want++;
			ev(j, sizeof(j), want);
			if (want >= to || strcmp(recs[k].json, j) != 0 ||
			    strcmp(recs[k].type, type_of(want)) != 0)
				fail_msg("record: got %s %s, want %s %s",
				    recs[k].type, recs[k].json, type_of(want),
				    want < to ? j : "(end)");
			assert_int_equal(recs[k].len, strlen(j));
			free(recs[k].json);
			want++;
		}
		rd_spool_ack(sp, n);
	}
	while (want < to && skipped(want, skip, nskip))
		want++;
	if (want != to)
		fail_msg("read stopped at e%u, want e%u", want, to);
}

static size_t
count_segments(const char *dir)
{
	char pat[160];
	glob_t g;
	size_t n;

	snprintf(pat, sizeof(pat), "%s/spool-*.log", dir);
	if (glob(pat, 0, NULL, &g) != 0)
		return (0);
	n = g.gl_pathc;
	globfree(&g);
	return (n);
}

/* last_segment - path of the newest segment file */
static void
last_segment(const char *dir, char *out, size_t len)
{
	char pat[160];
	glob_t g;

	snprintf(pat, sizeof(pat), "%s/spool-*.log", dir);
	if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc == 0)
		fail_msg("no segment in %s", dir);
	snprintf(out, len, "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
}

/* records come back in order with their types, and leave no file behind */
static void
test_roundtrip_in_order(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 100);
	assert_int_equal(rd_spool_sync(sp), 0);
	assert_int_equal(rd_spool_pending(sp), 100);
	read_expect(sp, 0, 100, NULL, 0, 7);
	rd_spool_stats(sp, &st);
	assert_int_equal(st.appended, 100);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(count_segments(f->dir), 0); /* empty: unlinked */
	/* and it keeps working after going empty */
	append_range(sp, 100, 110);
	read_expect(sp, 100, 110, NULL, 0, 64);
	rd_spool_close(sp);
}

/* the cursor survives a restart: replay resumes after the last ack */
static void
test_restart_resumes_at_cursor(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_rec recs[8];
	struct rd_spool *sp;
	size_t n, k;

	sp = open_spool(f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 40); /* several 1 KiB segments */
	assert_true(count_segments(f->dir) > 1);
	n = rd_spool_read(sp, recs, 8);
	assert_int_equal(n, 8);
	for (k = 0; k < n; k++)
		free(recs[k].json);
	rd_spool_ack(sp, 5);            /* e0..e4 delivered */
	n = rd_spool_read(sp, recs, 8); /* e5..e12, not acked */
	assert_int_equal(n, 8);
	assert_non_null(strstr(recs[0].json, "\"e5\""));
	for (k = 0; k < n; k++)
		free(recs[k].json);
	rd_spool_close(sp);

	sp = open_spool(f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST);
	assert_int_equal(rd_spool_pending(sp), 35);
	append_range(sp, 40, 45); /* behind the old ones */
	read_expect(sp, 5, 45, NULL, 0, 8);
	rd_spool_close(sp);

	sp = open_spool(f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST);
	assert_int_equal(rd_spool_pending(sp), 0);
	read_expect(sp, 0, 0, NULL, 0, 8);
	rd_spool_close(sp);
	assert_int_equal(count_segments(f->dir), 0);
}

/* what was read but not acknowledged is read again (at least once) */
static void
test_unacked_is_read_again(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_rec recs[8];
	struct rd_spool *sp;
	size_t n, k;

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 10);
	n = rd_spool_read(sp, recs, 4);
	for (k = 0; k < n; k++)
		free(recs[k].json);
	n = rd_spool_read(sp, recs, 4); /* e4..e7: reads go on */
	assert_non_null(strstr(recs[0].json, "\"e4\""));
	for (k = 0; k < n; k++)
		free(recs[k].json);
	rd_spool_ack(sp, 6); /* e0..e5 went */
	read_expect(sp, 6, 10, NULL, 0, 3);
	append_range(sp, 10, 12);
	n = rd_spool_read(sp, recs, 8);
	for (k = 0; k < n; k++)
		free(recs[k].json);
	rd_spool_ack(sp, 0); /* none went: rewind */
	read_expect(sp, 10, 12, NULL, 0, 8);
	rd_spool_close(sp);
}

/* a record torn by a crash is skipped and counted; nothing else is lost */
static void
test_torn_last_record_skipped(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;
	char path[200];
	struct stat sb;

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 6);
	rd_spool_close(sp);
	last_segment(f->dir, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size - 7), 0); /* e5 torn */

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	assert_int_equal(rd_spool_pending(sp), 5);
	append_range(sp, 6, 9); /* into a new segment */
	read_expect(sp, 0, 9, (const unsigned[]){5}, 1, 4);
	rd_spool_stats(sp, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.pending, 0);
	rd_spool_close(sp);
	assert_int_equal(count_segments(f->dir), 0);
}

/* half a header at the end (a crash right after the write began) */
static void
test_torn_header_skipped(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;
	char path[200];
	int fd;

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 3);
	rd_spool_close(sp);
	last_segment(f->dir, path, sizeof(path));
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "RDS1\x40", 5), 5);
	close(fd);
	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	read_expect(sp, 0, 3, NULL, 0, 64);
	rd_spool_stats(sp, &st);
	assert_int_equal(st.corrupt, 1);
	rd_spool_close(sp);
}

/* flip_byte - xor one byte of the file at off */
static void
flip_byte(const char *path, off_t off)
{
	unsigned char c;
	int fd;

	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

/* record_offset - where record i starts in a segment holding 0..i */
static off_t
record_offset(unsigned i)
{
	char j[128];
	off_t off = 0;
	unsigned k;

	for (k = 0; k < i; k++) {
		ev(j, sizeof(j), k);
		off += 12 + 1 + (off_t)strlen(type_of(k)) + (off_t)strlen(j);
	}
	return (off);
}

/* a CRC mismatch in the middle skips that record only */
static void
test_crc_corruption_skips_one_record(void **state)
{
	static const struct {
		const char *name;
		off_t where; /* into record 3 */
	} cases[] = {
	    {"payload byte", 12 + 10},
	    {"length field", 5},
	    {"magic", 1},
	    {"crc field", 9},
	};
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;
	char path[200];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
		append_range(sp, 0, 10);
		rd_spool_close(sp);
		last_segment(f->dir, path, sizeof(path));
		flip_byte(path, record_offset(3) + cases[i].where);

		sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
		if (rd_spool_pending(sp) != 9)
			fail_msg("%s: pending %llu, want 9", cases[i].name,
			    (unsigned long long)rd_spool_pending(sp));
		read_expect(sp, 0, 10, (const unsigned[]){3}, 1, 4);
		rd_spool_stats(sp, &st);
		if (st.corrupt != 1)
			fail_msg("%s: corrupt %llu, want 1", cases[i].name,
			    (unsigned long long)st.corrupt);
		rd_spool_close(sp);
		assert_int_equal(count_segments(f->dir), 0);
	}
}

/* full with policy newest: new records are refused and counted */
static void
test_cap_newest_refuses(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;
	unsigned i, ok = 0, skip[200], nskip = 0;
	char j[128];

	sp = open_spool(f->dir, 4096, 1024, RD_SPOOL_DROP_NEWEST);
	for (i = 0; i < 200; i++) {
		ev(j, sizeof(j), i);
		if (rd_spool_append(sp, type_of(i), j, strlen(j)) == 0)
			ok++; /* a shorter one may still fit */
		else {
			assert_int_equal(errno, ENOSPC);
			skip[nskip++] = i;
		}
	}
	rd_spool_stats(sp, &st);
	assert_true(ok > 20 && ok < 200);
	assert_int_equal(st.dropped_newest, nskip);
	assert_int_equal(st.dropped_oldest, 0);
	assert_true(st.bytes <= 4096);
	assert_true(st.bytes > 4096 - 100);       /* refused only when full */
	read_expect(sp, 0, 200, skip, nskip, 16); /* the oldest kept */
	rd_spool_close(sp);
}

/* full with policy oldest: whole oldest segments go, the newest stay */
static void
test_cap_oldest_drops_segments(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;

	sp = open_spool(f->dir, 4096, 1024, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 200);
	rd_spool_stats(sp, &st);
	assert_true(st.bytes <= 4096);
	assert_int_equal(st.dropped_newest, 0);
	assert_true(st.dropped_oldest > 0);
	assert_int_equal(st.dropped_oldest + st.pending, 200);
	assert_true(count_segments(f->dir) <= 5);
	read_expect(sp, (unsigned)st.dropped_oldest, 200, NULL, 0, 16);
	rd_spool_close(sp);
}

/* a drop while a batch is being read: the reader moves on to what is left */
static void
test_cap_oldest_while_reading(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_rec recs[4];
	struct rd_spool_stats st;
	struct rd_spool *sp;
	size_t n, k;

	sp = open_spool(f->dir, 4096, 1024, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 40);
	n = rd_spool_read(sp, recs, 4); /* e0..e3 in flight */
	assert_int_equal(n, 4);
	append_range(sp, 40, 120); /* drops their segment */
	rd_spool_ack(sp, n);       /* they went anyway */
	for (k = 0; k < n; k++)
		free(recs[k].json);
	rd_spool_stats(sp, &st);
	assert_int_equal(st.dropped_oldest + st.pending, 120);
	read_expect(sp, (unsigned)st.dropped_oldest, 120, NULL, 0, 4);
	rd_spool_close(sp);
}

/* a record bigger than the whole cap is refused, whatever the policy */
static void
test_record_bigger_than_cap(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;
	char big[2048];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sp = open_spool(f->dir, 1024, 0, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 3);
	assert_int_equal(rd_spool_append(sp, "rcpt", big, strlen(big)), -1);
	rd_spool_stats(sp, &st);
	assert_int_equal(st.dropped_newest, 1);
	read_expect(sp, 0, 3, NULL, 0, 16); /* the others untouched */
	errno = 0;
	assert_int_equal(rd_spool_append(sp, "", "{}", 2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rd_spool_append(sp, "rcpt", "{}", 0), -1);
	rd_spool_close(sp);
}

/*
 * a write error (here EFBIG from RLIMIT_FSIZE, as ENOSPC would be) drops
 * the record, counts it, cuts the partial write, and the spool goes on
 */
static void
test_write_error_counted_not_fatal(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;
	struct rlimit old, lim;
	unsigned i, ok = 0, failed = 0, first_fail = 0;
	char j[128];

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 2000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 0; i < 60; i++) {
		ev(j, sizeof(j), i);
		if (rd_spool_append(sp, type_of(i), j, strlen(j)) == 0)
			ok++;
		else {
			if (failed++ == 0)
				first_fail = i;
			assert_int_equal(errno, EFBIG);
		}
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	rd_spool_stats(sp, &st);
	assert_true(failed > 0 && ok > 0);
	assert_int_equal(ok, first_fail); /* fails from the limit on */
	assert_int_equal(st.dropped_io, failed);
	assert_int_equal(st.last_errno, EFBIG);
	assert_true(st.bytes <= 2000);
	append_range(sp, 60, 65); /* room again */
	rd_spool_close(sp);

	/* no torn record left by the failed writes */
	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	{
		unsigned skip[60], n = 0;

		for (i = first_fail; i < 60; i++)
			skip[n++] = i;
		read_expect(sp, 0, 65, skip, n, 16);
	}
	rd_spool_stats(sp, &st);
	assert_int_equal(st.corrupt, 0);
	rd_spool_close(sp);
}

/* write_cursor - replace the cursor file with text */
static void
write_cursor(const char *dir, const char *text)
{
	char path[200];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/cursor", dir);
	if ((fp = fopen(path, "w")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fputs(text, fp);
	fclose(fp);
}

/* has_note - one of the spool's open notes contains what */
static bool
has_note(struct rd_spool *sp, const char *what)
{
	const char *n;
	size_t i;

	for (i = 0; (n = rd_spool_note(sp, i)) != NULL; i++)
		if (strstr(n, what) != NULL)
			return (true);
	return (false);
}

/*
 * A cursor that contradicts the segments on disk (a segment above every
 * one there, 2^64-1, an offset inside a record, garbage) deletes nothing:
 * everything on disk is replayed, and the spool says so.
 */
static void
test_corrupt_cursor_replays_everything(void **state)
{
	static const char *const bad[] = {
	    "RDSPOOL1 7000 0\n",
	    "RDSPOOL1 18446744073709551615 0\n",
	    "RDSPOOL1 1 3\n", /* inside e0 */
	    "RDSPOOL1 1\n",
	    "garbage",
	};
	struct fixture *f = *state;
	struct rd_spool_stats st;
	struct rd_spool *sp;
	size_t i, segs;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_rmtree(f->dir); /* segments from 1 again */
		sp = open_spool(f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST);
		append_range(sp, 0, 60); /* segments 1.. of 1 KiB */
		rd_spool_close(sp);
		segs = count_segments(f->dir);
		assert_true(segs > 2);
		write_cursor(f->dir, bad[i]);

		sp = open_spool(f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST);
		if (!has_note(sp, "distrusted"))
			fail_msg("cursor %s: no note that it was distrusted",
			    bad[i]);
		assert_int_equal(count_segments(f->dir), segs);
		assert_int_equal(rd_spool_pending(sp), 60);
		read_expect(sp, 0, 60, NULL, 0, 16);
		rd_spool_stats(sp, &st);
		assert_int_equal(st.dropped_oldest + st.dropped_newest, 0);
		rd_spool_close(sp);
		assert_int_equal(count_segments(f->dir), 0);
		/* and the next open starts clean, with no note */
		sp = open_spool(f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST);
		assert_null(rd_spool_note(sp, 0));
		assert_int_equal(rd_spool_pending(sp), 0);
		rd_spool_close(sp);
	}
}

/*
 * A segment delivered up to a torn tail (the crash came mid-write) has
 * nothing left to deliver: it goes at open, its damage counted, instead of
 * staying on disk and counting toward the cap for good.
 */
static void
test_torn_tail_segment_goes(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_rec recs[8];
	struct rd_spool_stats st;
	struct rd_spool *sp;
	char path[200];
	struct stat sb;
	size_t n, k;

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 6);
	n = rd_spool_read(sp, recs, 5);
	assert_int_equal(n, 5);
	for (k = 0; k < n; k++)
		free(recs[k].json);
	rd_spool_ack(sp, 5); /* e0..e4 delivered, e5 not */
	rd_spool_close(sp);
	last_segment(f->dir, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size - 7), 0); /* e5 torn */

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	rd_spool_stats(sp, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(count_segments(f->dir), 0);
	rd_spool_close(sp);
}

/*
 * The directory is trusted only when it is ours: a wider mode is made
 * 0700 (noted); a segment that is a FIFO, a symlink or another user's is
 * refused, never read, never replaced, left in place; a directory owned
 * by another user is refused outright.
 */
static void
test_directory_and_files_must_be_ours(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_params p = {f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST};
	struct rd_spool *sp;
	struct rd_err err;
	char path[200], planted[200];
	struct stat sb;
	int fd;

	if (geteuid() != 0)
		fail_msg("this test plants another user's file: run as root");
	sp = open_spool(f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST);
	append_range(sp, 0, 3);
	rd_spool_close(sp);
	assert_int_equal(chmod(f->dir, 0777), 0);
	/* another user's segment, a FIFO and a symlink under spool names */
	snprintf(
	    planted, sizeof(planted), "%s/spool-0000000000000500.log", f->dir);
	assert_true((fd = open(planted, O_WRONLY | O_CREAT, 0644)) >= 0);
	assert_int_equal(write(fd, "RDS1", 4), 4);
	close(fd);
	assert_int_equal(chown(planted, 65534, 65534), 0);
	snprintf(path, sizeof(path), "%s/spool-0000000000000600.log", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/spool-0000000000000700.log", f->dir);
	assert_int_equal(symlink("/etc/passwd", path), 0);

	sp = open_spool(f->dir, 0, 1024, RD_SPOOL_DROP_OLDEST);
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_true(has_note(sp, "made 0700"));
	assert_true(has_note(sp, "spool-0000000000000500.log: owned by uid "
				 "65534"));
	assert_true(has_note(sp, "spool-0000000000000600.log: not a regular"));
	assert_true(has_note(sp, "spool-0000000000000700.log: a symbolic"));
	assert_int_equal(rd_spool_pending(sp), 3);
	append_range(sp, 3, 5); /* a new segment, numbered past them all */
	read_expect(sp, 0, 5, NULL, 0, 8);
	rd_spool_close(sp);
	assert_int_equal(lstat(planted, &sb), 0); /* left in place */
	assert_int_equal(sb.st_uid, 65534);
	assert_int_equal(count_segments(f->dir), 3);

	assert_int_equal(chown(f->dir, 65534, 65534), 0);
	memset(&err, 0, sizeof(err));
	assert_null(rd_spool_open(&p, &err));
	assert_non_null(strstr(err.text, "owned by uid 65534"));
}

/* the directory is created 0700 and every file 0600, whatever the umask */
static void
test_permissions(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_rec recs[1];
	struct rd_spool *sp;
	char path[200];
	struct stat sb;
	mode_t old;

	old = umask(0);
	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	umask(old);
	append_range(sp, 0, 2);
	assert_int_equal(rd_spool_read(sp, recs, 1), 1);
	free(recs[0].json);
	rd_spool_ack(sp, 1); /* writes the cursor */
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	last_segment(f->dir, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/cursor", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/lock", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	rd_spool_close(sp);
}

/* a spool in use is refused; a missing parent is a clear error */
static void
test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct rd_spool_params p = {f->dir, 0, 0, RD_SPOOL_DROP_OLDEST};
	struct rd_spool *sp;
	struct rd_err err;
	char path[160];

	sp = open_spool(f->dir, 0, 0, RD_SPOOL_DROP_OLDEST);
	memset(&err, 0, sizeof(err));
	assert_null(rd_spool_open(&p, &err));
	assert_non_null(strstr(err.text, "in use"));
	rd_spool_close(sp);

	snprintf(path, sizeof(path), "%s/no/such/dir", f->base);
	p.dir = path;
	memset(&err, 0, sizeof(err));
	assert_null(rd_spool_open(&p, &err));
	assert_non_null(strstr(err.text, "cannot create the spool directory"));
	p.dir = "";
	assert_null(rd_spool_open(&p, &err));
	rd_spool_close(NULL);
}

static void
test_policy_names(void **state)
{
	static const struct {
		const char *in;
		int ret;
		enum rd_spool_policy want;
	} cases[] = {
	    {"oldest", 0, RD_SPOOL_DROP_OLDEST},
	    {"NEWEST", 0, RD_SPOOL_DROP_NEWEST},
	    {"near miss: newest ", -1, 0},
	    {"near miss: old", -1, 0},
	    {"", -1, 0},
	};
	enum rd_spool_policy got;
	const char *in;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in = strncmp(cases[i].in, "near miss: ", 11) == 0
			 ? cases[i].in + 11
			 : cases[i].in;
		got = RD_SPOOL_DROP_OLDEST;
		if (rd_spool_policy_parse(in, &got) != cases[i].ret ||
		    (cases[i].ret == 0 && got != cases[i].want))
			fail_msg("\"%s\": wrong result", cases[i].in);
	}
	assert_int_equal(rd_spool_policy_parse(NULL, &got), -1);
	assert_string_equal(
	    rd_spool_policy_name(RD_SPOOL_DROP_NEWEST), "newest");
	assert_string_equal(
	    rd_spool_policy_name(RD_SPOOL_DROP_OLDEST), "oldest");
}

#define WRITERS 4
#define PER_WRITER 1500

struct writer {
	struct rd_spool *sp;
	unsigned id;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	char j[64];
	unsigned i;

	for (i = 0; i < PER_WRITER; i++) {
		snprintf(j, sizeof(j), "%u %u", w->id, i);
		if (rd_spool_append(w->sp, "rcpt", j, strlen(j)) != 0)
			return ((void *)1);
		if (i % 100 == 0)
			rd_spool_sync(w->sp);
	}
	return (NULL);
}

/* appends from many threads while one reads: each writer's order holds */
static void
test_concurrent_appends_and_reads(void **state)
{
	struct fixture *f = *state;
	struct writer w[WRITERS];
	struct rd_spool_rec recs[32];
	unsigned next[WRITERS] = {0}, id, seq, total = 0, spins = 0;
	pthread_t t[WRITERS];
	struct rd_spool *sp;
	void *rv;
	size_t n, k;

	sp = open_spool(f->dir, 0, 8192, RD_SPOOL_DROP_NEWEST);
	for (id = 0; id < WRITERS; id++) {
		w[id].sp = sp;
		w[id].id = id;
		pthread_create(&t[id], NULL, writer_main, &w[id]);
	}
	while (total < WRITERS * PER_WRITER) {
		n = rd_spool_read(sp, recs, 32);
		if (n == 0) {
			if (++spins > 200000)
				fail_msg("reader starved at %u", total);
			sched_yield();
			continue;
		}
		for (k = 0; k < n; k++) {
			if (sscanf(recs[k].json, "%u %u", &id, &seq) != 2 ||
			    id >= WRITERS || seq != next[id])
				fail_msg("out of order: %s", recs[k].json);
			next[id]++;
			total++;
			free(recs[k].json);
		}
		/* now and then acknowledge all but the last: it is read
		   again (id still holds its writer) */
		if (total % 7 == 3 && n > 1) {
			rd_spool_ack(sp, n - 1);
			total--;
			next[id]--;
		} else
			rd_spool_ack(sp, n);
	}
	for (id = 0; id < WRITERS; id++) {
		pthread_join(t[id], &rv);
		assert_null(rv);
	}
	assert_int_equal(rd_spool_pending(sp), 0);
	rd_spool_close(sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_roundtrip_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_restart_resumes_at_cursor, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_unacked_is_read_again, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_torn_last_record_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_torn_header_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_crc_corruption_skips_one_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_cap_newest_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_cap_oldest_drops_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_cap_oldest_while_reading, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_record_bigger_than_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_write_error_counted_not_fatal, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_corrupt_cursor_replays_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_torn_tail_segment_goes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_directory_and_files_must_be_ours, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	    cmocka_unit_test(test_policy_names),
	    cmocka_unit_test_setup_teardown(
		test_concurrent_appends_and_reads, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

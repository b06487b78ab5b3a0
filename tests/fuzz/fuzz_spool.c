/*
 * fuzz_spool.c - the on-disk spool (spool.c) driven by a program of
 * operations, against a model: the record reader with torn, flipped and
 * planted bytes, and the cursor with any text in it.
 *
 * Input: one operation per byte (the low 3 bits), some taking an argument
 * byte or a NUL-terminated field:
 *   0 append ARG   record number n (the next), JSON padded by ARG bytes
 *   1 read ARG     read up to ARG % 8 + 1 records
 *   2 ack ARG      acknowledge ARG % 9 of those read (may be more: cut)
 *   3 reopen       close and open again (a restart)
 *   4 cursor STR   close, write STR as the cursor file, open again
 *   5 flip ARG ARG close, xor a byte of the newest segment, open again
 *   6 cut ARG      close, cut ARG bytes off the newest segment, open again
 *   7 plant STR    close, write STR as a new segment file, open again
 * then everything left is read and acknowledged.
 * Each run uses a fresh directory (under /dev/shm when it exists).
 *
 * Invariants (at least once, in order): every record read is one that was
 * appended, byte for byte, with its type; within one run of reads (no
 * reopen or rewind between them) numbers only grow; and when no byte was
 * flipped, cut or planted, every record appended is read at least once by
 * the end, whatever the cursor said, and nothing is counted dropped. At
 * the end nothing is pending, and a reopen finds nothing to read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relaydiag/spool.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NREC_MAX 300

static char base[256];
static const char *const types[] = {"rcpt", "message", "session", "alert"};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
			  : getenv("TMPDIR") != NULL    ? getenv("TMPDIR")
							: "/tmp";

	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "%s/fuzz_spool.XXXXXX", tmp);
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	return (0);
}

struct model {
	char dir[300];
	struct rd_spool *sp;
	unsigned nrec; /* appended */
	unsigned char pad[NREC_MAX];
	unsigned char seen[NREC_MAX];
	long last;    /* number of the last read in this run */
	bool damaged; /* bytes changed behind the spool's back */
};

static void
rec_json(char *buf, size_t len, unsigned n, unsigned pad)
{
	snprintf(buf, len, "{\"id\":\"e%u\",\"pad\":\"%.*s\"}", n, (int)pad,
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static void
sp_open(struct model *m)
{
	struct rd_spool_params p = {
	    m->dir, 8u << 20, 512, RD_SPOOL_DROP_OLDEST};
	struct rd_err err;

	memset(&err, 0, sizeof(err));
	if ((m->sp = rd_spool_open(&p, &err)) == NULL)
		fz_fail("spool: open: %s", err.text);
	m->last = -1;
}

static void
sp_close(struct model *m)
{
	rd_spool_close(m->sp);
	m->sp = NULL;
}

/* newest - path of the newest segment file, "" if none */
static void
newest(const struct model *m, char *out, size_t len)
{
	struct dirent *de;
	char best[64] = "";
	DIR *d;

	out[0] = '\0';
	if ((d = opendir(m->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "spool-", 6) == 0 &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	closedir(d);
	if (best[0] != '\0')
		snprintf(out, len, "%s/%s", m->dir, best);
}

static void
write_at(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || (n > 0 && write(fd, s, n) != (ssize_t)n))
		fz_fail("spool: write %s: %s", path, strerror(errno));
	close(fd);
}

/* check_rec - a record read is one appended, in order within a run */
static void
check_rec(struct model *m, const struct rd_spool_rec *r)
{
	char want[256];
	unsigned long n;
	char *end;

	if (strncmp(r->json, "{\"id\":\"e", 8) != 0)
		fz_fail("spool: a record not appended: %.60s", r->json);
	n = strtoul(r->json + 8, &end, 10);
	if (n >= m->nrec)
		fz_fail("spool: record e%lu never appended", n);
	rec_json(want, sizeof(want), (unsigned)n, m->pad[n]);
	if (r->len != strlen(want) || memcmp(r->json, want, r->len) != 0 ||
	    strcmp(r->type, types[n % 4]) != 0)
		fz_fail("spool: e%lu: got %s %.80s, want %s %s", n, r->type,
		    r->json, types[n % 4], want);
	if ((long)n <= m->last)
		fz_fail(
		    "spool: e%lu after e%ld in one run of reads", n, m->last);
	m->last = (long)n;
	m->seen[n] = 1;
}

static size_t
do_read(struct model *m, size_t max)
{
	struct rd_spool_rec recs[8];
	size_t n, i;

	n = rd_spool_read(m->sp, recs, max);
	for (i = 0; i < n; i++) {
		check_rec(m, &recs[i]);
		free(recs[i].json);
	}
	return (n);
}

static void
rmdir_all(const char *dir)
{
	struct dirent *de;
	char path[400];
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct rd_spool_stats st;
	char json[256], path[400];
	const char *s;
	struct fz f;
	unsigned op, a, b, i;
	size_t nread = 0;
	struct stat sb;
	int fd;

	memset(&m, 0, sizeof(m));
	snprintf(m.dir, sizeof(m.dir), "%s/s", base);
	rmdir_all(m.dir);
	fz_init(&f, data, size);
	sp_open(&m);
	while (!fz_empty(&f)) {
		op = fz_byte(&f) & 7;
		switch (op) {
		case 0:
			a = fz_byte(&f) % 120;
			if (m.nrec == NREC_MAX)
				break;
			m.pad[m.nrec] = (unsigned char)a;
			rec_json(json, sizeof(json), m.nrec, a);
			if (rd_spool_append(m.sp, types[m.nrec % 4], json,
				strlen(json)) != 0)
				fz_fail("spool: append e%u: %s", m.nrec,
				    strerror(errno));
			m.nrec++;
			break;
		case 1:
			nread += do_read(&m, fz_byte(&f) % 8 + 1);
			break;
		case 2:
			rd_spool_ack(m.sp, fz_byte(&f) % 9);
			m.last = -1; /* the next read starts after the ack */
			break;
		case 3:
			sp_close(&m);
			sp_open(&m);
			break;
		case 4:
			s = fz_str(&f);
			sp_close(&m);
			snprintf(path, sizeof(path), "%s/cursor", m.dir);
			write_at(path, s, strlen(s));
			sp_open(&m);
			break;
		case 5:
		case 6:
			a = fz_byte(&f);
			b = fz_byte(&f);
			sp_close(&m);
			newest(&m, path, sizeof(path));
			if (path[0] != '\0' && stat(path, &sb) == 0 &&
			    sb.st_size > 0 && (fd = open(path, O_RDWR)) >= 0) {
				off_t off = (off_t)((a * 256 + b) %
						    (unsigned)sb.st_size);
				unsigned char c;

				if (op == 5 && pread(fd, &c, 1, off) == 1) {
					c ^= (unsigned char)(b | 1);
					if (pwrite(fd, &c, 1, off) == 1)
						m.damaged = true;
				} else if (op == 6 &&
					   ftruncate(fd, sb.st_size - off) == 0)
					m.damaged = true;
				close(fd);
			}
			sp_open(&m);
			break;
		case 7:
			s = fz_str(&f);
			sp_close(&m);
			snprintf(path, sizeof(path), "%s/spool-%016u.log",
			    m.dir, 9000 + fz_byte(&f));
			write_at(path, s, strlen(s));
			m.damaged = true;
			sp_open(&m);
			break;
		}
	}
	/* Drain: read and acknowledge everything (an ack of more than was
	   read is cut to what was read). */
	rd_spool_ack(m.sp, (size_t)-1);
	m.last = -1;
	for (i = 0; i < 10000 && do_read(&m, 8) > 0; i++) {
		rd_spool_ack(m.sp, (size_t)-1);
		m.last = -1;
	}
	rd_spool_ack(m.sp, (size_t)-1);
	rd_spool_stats(m.sp, &st);
	if (st.pending != 0)
		fz_fail("spool: %llu pending after the drain",
		    (unsigned long long)st.pending);
	if (!m.damaged) {
		if (st.dropped_oldest + st.dropped_newest + st.dropped_io)
			fz_fail("spool: records dropped with room to spare");
		for (i = 0; i < m.nrec; i++)
			if (!m.seen[i])
				fz_fail("spool: e%u appended, never read "
					"(%u appended, %zu reads before the "
					"drain)",
				    i, m.nrec, nread);
	}
	sp_close(&m);
	sp_open(&m);
	if (do_read(&m, 8) != 0)
		fz_fail("spool: records again after a full drain and reopen");
	sp_close(&m);
	rmdir_all(m.dir);
	fz_done(&f);
	return (0);
}

/*
 * sink.c - the event sink interface, and the JSON Lines file sink.
 *
 * Owns the dispatch through struct rd_sink_ops and the file sink: one event
 * object per line, appended with a single write(2) to a file opened
 * O_APPEND (so lines of concurrent writers, even other processes, never
 * interleave), or to stdout; rd_sink_reopen opens the path again after
 * logrotate has moved the file away. A failed write is counted as dropped and
 * logged once per state change by the caller through the stats.
 * Threads: the file sink serializes writes with a mutex; counters are atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relaydiag/sink.h"

int
rd_sink_emit_take(struct rd_sink *sk, const char *type, char *json)
{
	if (sk == NULL || json == NULL) {
		free(json);
		return (-1);
	}
	return (sk->ops->emit_take(sk, type, json));
}

void
rd_sink_stats(struct rd_sink *sk, struct rd_sink_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->redis_up = -1;
	if (sk != NULL)
		sk->ops->stats(sk, out);
}

int
rd_sink_reopen(struct rd_sink *sk, struct rd_err *err)
{
	if (sk == NULL || sk->ops->reopen == NULL)
		return (0);
	return (sk->ops->reopen(sk, err));
}

void
rd_sink_close(struct rd_sink *sk)
{
	if (sk != NULL)
		sk->ops->close(sk);
}

struct sink_file {
	struct rd_sink base; /* first: the struct rd_sink * */
	int fd;
	bool own_fd;
	char *path; /* NULL for stdout */
	pthread_mutex_t lock;
	atomic_ullong emitted, delivered, dropped;
};

/* sink_file_write_all - write n bytes, retrying short writes and EINTR */
static int
sink_file_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

static int
sink_file_emit_take(struct rd_sink *sk, const char *type, char *json)
{
	struct sink_file *f = (struct sink_file *)sk;
	size_t n = strlen(json);
	char *line;
	int rc;

	(void)type;
	atomic_fetch_add(&f->emitted, 1);
	/* The newline goes into the same write, so a line is never torn. */
	if ((line = realloc(json, n + 2)) == NULL) {
		free(json);
		atomic_fetch_add(&f->dropped, 1);
		return (-1);
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	pthread_mutex_lock(&f->lock);
	rc = sink_file_write_all(f->fd, line, n + 1);
	pthread_mutex_unlock(&f->lock);
	free(line);
	atomic_fetch_add(rc == 0 ? &f->delivered : &f->dropped, 1);
	return (rc);
}

static void
sink_file_stats(struct rd_sink *sk, struct rd_sink_stats *out)
{
	struct sink_file *f = (struct sink_file *)sk;

	out->emitted = atomic_load(&f->emitted);
	out->delivered = atomic_load(&f->delivered);
	out->dropped = atomic_load(&f->dropped);
}

static void
sink_file_close(struct rd_sink *sk)
{
	struct sink_file *f = (struct sink_file *)sk;

	if (f->own_fd)
		close(f->fd);
	pthread_mutex_destroy(&f->lock);
	free(f->path);
	free(f);
}

static int
sink_file_open_path(const char *path, struct rd_err *err)
{
	int fd;

	if ((fd = open(path,
		 O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
		     O_NONBLOCK,
		 0640)) < 0) {
		rd_err_set(
		    err, path, 0, "cannot open event log: %s", strerror(errno));
		return (-1);
	}
	return (fd);
}

static int
sink_file_reopen(struct rd_sink *sk, struct rd_err *err)
{
	struct sink_file *f = (struct sink_file *)sk;
	int fd, old;

	if (f->path == NULL)
		return (0);
	if ((fd = sink_file_open_path(f->path, err)) < 0)
		return (-1);
	pthread_mutex_lock(&f->lock);
	old = f->fd;
	f->fd = fd;
	pthread_mutex_unlock(&f->lock);
	close(old);
	return (0);
}

static const struct rd_sink_ops sink_file_ops = {
    .emit_take = sink_file_emit_take,
    .stats = sink_file_stats,
    .close = sink_file_close,
    .reopen = sink_file_reopen,
};

struct rd_sink *
rd_sink_file_open(const char *path, struct rd_err *err)
{
	struct sink_file *f;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDOUT_FILENO;
	else if ((fd = sink_file_open_path(path, err)) < 0)
		return (NULL);
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (fd != STDOUT_FILENO && (f->path = strdup(path)) == NULL)) {
		if (fd != STDOUT_FILENO)
			close(fd);
		free(f);
		rd_err_set(err, path, 0, "out of memory");
		return (NULL);
	}
	f->base.ops = &sink_file_ops;
	f->fd = fd;
	f->own_fd = fd != STDOUT_FILENO;
	pthread_mutex_init(&f->lock, NULL);
	return (&f->base);
}

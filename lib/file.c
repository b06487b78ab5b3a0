/*
 * file.c - opening the files relaydiag reads as data: regular files only,
 * without ever blocking on a FIFO (file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "relaydiag/file.h"

int
rd_file_open(const char *path, struct stat *st)
{
	struct stat sb;
	int fd, flags;

	if (st == NULL)
		st = &sb;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return (-1);
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		errno = EFTYPE_RD;
		return (-1);
	}
	/* Regular files ignore O_NONBLOCK; clear it all the same. */
	if ((flags = fcntl(fd, F_GETFL)) >= 0)
		(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return (fd);
}

FILE *
rd_file_fopen(const char *path, struct stat *st)
{
	FILE *fp;
	int fd, e;

	if ((fd = rd_file_open(path, st)) < 0)
		return (NULL);
	if ((fp = fdopen(fd, "re")) == NULL) {
		e = errno;
		close(fd);
		errno = e;
	}
	return (fp);
}

const char *
rd_file_strerror(int e, char *buf, size_t len)
{
	if (e == EFTYPE_RD) {
		snprintf(buf, len,
		    "not a regular file (a FIFO, device or "
		    "directory is refused)");
		return (buf);
	}
	return (strerror_r(e, buf, len));
}

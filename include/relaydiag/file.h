/*
 * file.h - opening a file that relaydiag reads as data: a configuration,
 * a "file:" list, a reply-rules file, a key, a Postfix file.
 * Owns the one rule for all of them: only a regular file is read. The open
 * never blocks (O_NONBLOCK: a FIFO planted under the name answers at once,
 * then is refused), never takes a controlling terminal, and a device such
 * as /dev/zero or a directory is refused before a byte is read.
 * Threads: pure.
 */
#ifndef RELAYDIAG_FILE_H
#define RELAYDIAG_FILE_H

#include <stdio.h>
#include <sys/stat.h>

/*
 * rd_file_open - open path for reading; the fd, with *st (may be NULL)
 * filled. -1 with errno: open's, or EFTYPE_RD when it is not a regular
 * file (a FIFO, socket, device or directory).
 */
#define EFTYPE_RD EINVAL
int rd_file_open(const char *path, struct stat *st);

/* rd_file_fopen - as rd_file_open, as a stdio stream ("re") */
FILE *rd_file_fopen(const char *path, struct stat *st);

/* rd_file_strerror - errno of rd_file_open as text */
const char *rd_file_strerror(int e, char *buf, size_t len);

#endif

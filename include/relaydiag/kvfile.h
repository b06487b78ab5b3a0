/*
 * kvfile.h - the reader of "Key value" files: lines checked (length,
 * control characters, UTF-8, CR at the end), '#' comments and white space
 * taken off, list entries cut at commas and white space, and the known
 * name closest to a misspelt one ("did you mean"). Every error names the
 * file and the line.
 * Owns the syntax of such a file, not its keys: config.c has the key table
 * and the value grammars belong to their modules. Only regular files are
 * read (file.c), a line no further than RD_KV_LINE_MAX bytes.
 * Threads: a reader belongs to its caller; the rest is pure.
 */
#ifndef RELAYDIAG_KVFILE_H
#define RELAYDIAG_KVFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "relaydiag/err.h"

#define RD_KV_LINE_MAX 4096 /* bytes per line, without the '\n' */

struct rd_kv_reader {
	FILE *fp;
	const char *source; /* the path, for errors */
	unsigned line;      /* of the line last read */
	char buf[RD_KV_LINE_MAX + 1];
};

/* rd_kv_open - open path (a regular file) for reading; 0, or -1 with errno */
int rd_kv_open(struct rd_kv_reader *r, const char *path);
void rd_kv_close(struct rd_kv_reader *r);

/*
 * rd_kv_next - the next line of r, checked, without its comment and
 * surrounding white space (it may be empty): 1 with *out set, 0 at the
 * end, -1 with err (source and line) filled
 */
int rd_kv_next(struct rd_kv_reader *r, char **out, struct rd_err *err);

/* rd_kv_word - cut the next list entry from *sp (commas, white space) */
char *rd_kv_word(char **sp);

/* rd_kv_is_space - a space or a tab: what separates a key and its value */
int rd_kv_is_space(int c);

/* rd_kv_prefix - whether s starts with w, ASCII case folded */
int rd_kv_prefix(const char *s, const char *w);

/*
 * rd_kv_number - s[0..len) as a decimal number of at most max, digits
 * only (no sign, no white space); 0, or -1 when it is not one
 */
int rd_kv_number(
    const char *s, size_t len, unsigned long max, unsigned long *out);

/*
 * rd_kv_suggest - the index of the name (of n, name(i) each) closest to
 * word[0..wlen): equal but for case, '_' and '-', or within two edits;
 * (size_t)-1 when none is close
 */
size_t rd_kv_suggest(
    const char *word, size_t wlen, const char *(*name)(size_t), size_t n);

#endif

/*
 * milterwire.c - the MTA's side of the milter wire protocol (milterwire.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfdef.h>

#include "milterwire.h"

const char *mw_prog = "milterwire";

void
mw_put(struct mw_buf *b, const void *d, size_t n)
{
	unsigned char *p;
	size_t cap;

	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			fprintf(stderr, "%s: out of memory\n", mw_prog);
			exit(2);
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

void
mw_putc(struct mw_buf *b, unsigned char c)
{
	mw_put(b, &c, 1);
}

void
mw_u32(struct mw_buf *b, uint32_t v)
{
	uint32_t be = htonl(v);

	mw_put(b, &be, 4);
}

void
mw_str(struct mw_buf *b, const char *s)
{
	mw_put(b, s, strlen(s) + 1);
}

size_t
mw_pkt_begin(struct mw_buf *b, char cmd)
{
	size_t off = b->len;

	mw_u32(b, 0);
	mw_put(b, &cmd, 1);
	return (off);
}

void
mw_pkt_end(struct mw_buf *b, size_t off)
{
	uint32_t be = htonl((uint32_t)(b->len - off - 4));

	memcpy(b->p + off, &be, 4);
}

void
mw_pkt(struct mw_buf *b, char cmd, const void *data, size_t n)
{
	size_t off = mw_pkt_begin(b, cmd);

	mw_put(b, data, n);
	mw_pkt_end(b, off);
}

void
mw_optneg(
    struct mw_buf *b, uint32_t version, uint32_t actions, uint32_t protocol)
{
	size_t off = mw_pkt_begin(b, SMFIC_OPTNEG);

	mw_u32(b, version);
	mw_u32(b, actions);
	mw_u32(b, protocol);
	mw_pkt_end(b, off);
}

int
mw_optneg_parse(const unsigned char *d, size_t n, uint32_t *version,
    uint32_t *actions, uint32_t *protocol)
{
	uint32_t v[3];

	if (n < sizeof(v))
		return (-1);
	memcpy(v, d, sizeof(v));
	*version = ntohl(v[0]);
	*actions = ntohl(v[1]);
	*protocol = ntohl(v[2]);
	return (0);
}

int
mw_hdr(const unsigned char hdr[5], size_t max, char *cmd, size_t *len)
{
	uint32_t be, n;

	memcpy(&be, hdr, 4);
	n = ntohl(be);
	*cmd = (char)hdr[4];
	*len = n > 0 ? (size_t)n - 1 : 0;
	if (n == 0 || n > max) {
		*len = n;
		return (-1);
	}
	return (0);
}

int
mw_strs(
    const unsigned char *d, size_t n, const char **out, size_t min, size_t max)
{
	size_t i = 0, k = 0;

	if (n == 0 || d[n - 1] != '\0')
		return (min == 0 && n == 0 ? 0 : -1);
	while (i < n) {
		if (k == max)
			return (-1);
		out[k++] = (const char *)d + i;
		i += strlen((const char *)d + i) + 1;
	}
	return (k >= min ? (int)k : -1);
}

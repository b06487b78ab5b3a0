/*
 * milterwire.h - the MTA's side of the milter wire protocol, for the
 * tools that play an MTA: the load generator (bench/mload) and the
 * hostile-input driver (tests/e2e/milterdrive). Packets are a 4-byte
 * length (network order, counting the command byte), a command byte and
 * the data (libmilter/mfdef.h names the commands and flags).
 * Owns the packet framing, the option negotiation's packet, the split of
 * NUL-terminated strings and a growable buffer; I/O stays with each tool
 * (mload polls many sessions, milterdrive blocks on one).
 * Out of memory: the message "<prog>: out of memory", then exit(2).
 */
#ifndef RELAYDIAG_MILTERWIRE_H
#define RELAYDIAG_MILTERWIRE_H

#include <stddef.h>
#include <stdint.h>

struct mw_buf {
	unsigned char *p;
	size_t len, cap;
};

void mw_put(struct mw_buf *b, const void *d, size_t n);
void mw_putc(struct mw_buf *b, unsigned char c);
void mw_u32(struct mw_buf *b, uint32_t v);    /* network order */
void mw_str(struct mw_buf *b, const char *s); /* with its NUL */

/* mw_pkt_begin - a packet header whose length mw_pkt_end fills in */
size_t mw_pkt_begin(struct mw_buf *b, char cmd);
void mw_pkt_end(struct mw_buf *b, size_t off);

/* mw_pkt - a whole packet: cmd and data[0..n) */
void mw_pkt(struct mw_buf *b, char cmd, const void *data, size_t n);

/* mw_optneg - the SMFIC_OPTNEG request: version, actions, protocol */
void mw_optneg(
    struct mw_buf *b, uint32_t version, uint32_t actions, uint32_t protocol);

/* mw_optneg_parse - the filter's SMFIC_OPTNEG reply data; 0, or -1 if short */
int mw_optneg_parse(const unsigned char *d, size_t n, uint32_t *version,
    uint32_t *actions, uint32_t *protocol);

/*
 * mw_hdr - a packet's first 5 bytes: its command and data length; 0, or
 * -1 when the length is 0 or more than max (then *len is that length)
 */
int mw_hdr(const unsigned char hdr[5], size_t max, char *cmd, size_t *len);

/*
 * mw_strs - d[0..n) split into NUL-terminated strings, into out; their
 * count, or -1 unless min <= count <= max (n == 0 is 0 strings)
 */
int mw_strs(
    const unsigned char *d, size_t n, const char **out, size_t min, size_t max);

/* mw_prog - the name out-of-memory messages give (default "milterwire") */
extern const char *mw_prog;

#endif

/*
 * pseudo.h - keyed pseudonyms for the personal data in events
 * (HashPersonalData, HashKeyFile; docs/events.md, "Privacy").
 *
 * An address or a user name becomes "h:" and 16 lower-case hex digits: the
 * 64-bit SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF", 2012) of its bytes under a secret 128-bit key. The same input and
 * key give the same pseudonym, so dashboards can still group and count;
 * without the key nobody can test a guess against it. Domains are never
 * hashed (events keep them in their own members).
 *
 * Owns struct rd_pseudo_key and the process-wide installed key: the daemon
 * reads HashKeyFile once at start (as root: the file may be root-only) and
 * on reload, and installs it; each session copies it when it starts, so a
 * session never mixes two keys.
 * Threads: rd_siphash24, rd_pseudo_hash and rd_pseudo_replace are pure;
 * rd_pseudo_install and rd_pseudo_current lock. Errors fill struct rd_err
 * (source "HashKeyFile"); nothing here logs.
 */
#ifndef RELAYDIAG_PSEUDO_H
#define RELAYDIAG_PSEUDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relaydiag/err.h"

#define RD_PSEUDO_KEY_LEN 16
#define RD_PSEUDO_LEN 19          /* "h:" + 16 hex digits + NUL */
#define RD_PSEUDO_NOKEY "h:nokey" /* hashing on, no key installed */

struct rd_pseudo_key {
	uint8_t k[RD_PSEUDO_KEY_LEN];
};

/*
 * rd_siphash24 - SipHash-2-4 of in[0..len) under key (k0 = bytes 0-7, k1 =
 * bytes 8-15, little-endian, as in the paper's reference code).
 */
uint64_t rd_siphash24(
    const uint8_t key[RD_PSEUDO_KEY_LEN], const void *in, size_t len);

/*
 * rd_pseudo_key_parse - a key from the contents of a key file: 32 hex
 * digits (surrounding white space ignored; "openssl rand -hex 16"), else
 * the first 16 bytes as they are ("head -c 16 /dev/urandom"). -1 with err
 * (source = source) when the data is shorter, or is hex with fewer than 32
 * digits.
 */
int rd_pseudo_key_parse(const void *data, size_t len, const char *source,
    struct rd_pseudo_key *out, struct rd_err *err);

/*
 * rd_pseudo_key_read - read and parse the key file path (a regular file;
 * its first 4 KiB are looked at). 0, or -1 with err naming the file and
 * the fix.
 */
int rd_pseudo_key_read(
    const char *path, struct rd_pseudo_key *out, struct rd_err *err);

/*
 * rd_pseudo_hash - the pseudonym of s (NULL reads as "") into out. key
 * NULL: RD_PSEUDO_NOKEY, never the input. Returns out.
 */
const char *rd_pseudo_hash(
    const struct rd_pseudo_key *key, const char *s, char out[RD_PSEUDO_LEN]);

/*
 * rd_pseudo_replace - copy text into out (size outlen, cut to fit) with
 * every occurrence of each non-empty secrets[i] replaced by its pseudonym.
 * Matching ignores ASCII case (an MTA may echo an address as the client
 * typed it) and needs a boundary on both sides: the neighbours must not be
 * letters, digits or one of "@_-+=" (a '.' may end a sentence). Longer
 * secrets are replaced first, so a user name inside an address never
 * leaves the rest of it in clear. Returns out.
 */
char *rd_pseudo_replace(const struct rd_pseudo_key *key, const char *text,
    const char *const *secrets, size_t nsecrets, char *out, size_t outlen);

/*
 * rd_pseudo_install - make *key the process-wide key (copied); NULL
 * forgets it. rd_pseudo_current - copy it into *out; false when none is
 * installed (*out is then zeroed).
 */
void rd_pseudo_install(const struct rd_pseudo_key *key);
bool rd_pseudo_current(struct rd_pseudo_key *out);

#endif

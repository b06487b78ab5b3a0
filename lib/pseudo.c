/*
 * pseudo.c - keyed pseudonyms ("h:" + 16 hex digits of SipHash-2-4) for
 * addresses and user names in events, and the key they are made with.
 *
 * Owns the SipHash-2-4 code (written from the paper: 2 compression rounds
 * per 8-byte word, 4 finalization rounds, the length in the top byte of
 * the last word), the key file format, and the one process-wide key.
 * Why not libsodium's crypto_shorthash (the same function): it would be
 * the daemon's only use of a crypto library, for 40 lines that the
 * paper's reference vectors pin down (test_pseudo checks all 64); a
 * consumer can recompute a pseudonym with either.
 * Where the pseudonyms go is session.c's decision; the MTA's reply to the
 * client and the log never see them.
 * Threads: see pseudo.h. Memory: nothing is allocated.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relaydiag/file.h"
#include "relaydiag/pseudo.h"
#include "relaydiag/text.h"

#define PSEUDO_FILE_MAX 4096 /* a key file longer than this is cut */

static pthread_mutex_t pseudo_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rd_pseudo_key pseudo_live;
static bool pseudo_have;

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

/* pseudo_le64 - the little-endian 64-bit word at p */
static uint64_t
pseudo_le64(const uint8_t *p)
{
	return ((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
		(uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
		(uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
		(uint64_t)p[7] << 56);
}

uint64_t
rd_siphash24(const uint8_t key[RD_PSEUDO_KEY_LEN], const void *in, size_t len)
{
	const uint8_t *p = in;
	uint64_t k0 = pseudo_le64(key), k1 = pseudo_le64(key + 8);
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);
	uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = pseudo_le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	/* The last 0-7 bytes, under the length byte (paper, section 2). */
	switch (left) {
	case 7:
		b |= (uint64_t)p[i + 6] << 48; /* FALLTHROUGH */
	case 6:
		b |= (uint64_t)p[i + 5] << 40; /* FALLTHROUGH */
	case 5:
		b |= (uint64_t)p[i + 4] << 32; /* FALLTHROUGH */
	case 4:
		b |= (uint64_t)p[i + 3] << 24; /* FALLTHROUGH */
	case 3:
		b |= (uint64_t)p[i + 2] << 16; /* FALLTHROUGH */
	case 2:
		b |= (uint64_t)p[i + 1] << 8; /* FALLTHROUGH */
	case 1:
		b |= (uint64_t)p[i]; /* FALLTHROUGH */
	case 0:
		break;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return (v0 ^ v1 ^ v2 ^ v3);
}

int
rd_pseudo_key_parse(const void *data, size_t len, const char *source,
    struct rd_pseudo_key *out, struct rd_err *err)
{
	const uint8_t *p = data, *end = p + len;
	size_t i, nhex;
	uint8_t any = 0;

	memset(out, 0, sizeof(*out));
	while (p < end && isspace(*p))
		p++;
	while (end > p && isspace(end[-1]))
		end--;
	for (nhex = 0; p + nhex < end && rd_hex_value(p[nhex]) >= 0; nhex++)
		continue;
	if (nhex > 0 && p + nhex == end) {
		/* Text of hex digits only: a hex key, whatever its length. */
		if (nhex < 2 * RD_PSEUDO_KEY_LEN) {
			rd_err_set(err, source, 0,
			    "HashKeyFile: %zu hex "
			    "digits; a hex key needs 32 (make one with: "
			    "openssl rand -hex 16 > FILE)",
			    nhex);
			return (-1);
		}
		for (i = 0; i < RD_PSEUDO_KEY_LEN; i++)
			out->k[i] = (uint8_t)(rd_hex_value(p[2 * i]) << 4 |
					      rd_hex_value(p[2 * i + 1]));
	} else {
		if (len < RD_PSEUDO_KEY_LEN) {
			rd_err_set(err, source, 0,
			    "HashKeyFile: %zu bytes; "
			    "the key needs at least 16 (make one with: "
			    "head -c 16 /dev/urandom > FILE)",
			    len);
			return (-1);
		}
		memcpy(out->k, data, RD_PSEUDO_KEY_LEN);
	}
	for (i = 0; i < RD_PSEUDO_KEY_LEN; i++)
		any |= out->k[i];
	if (any == 0) {
		rd_err_set(err, source, 0,
		    "HashKeyFile: the key is all "
		    "zero; make a random one (head -c 16 /dev/urandom > FILE)");
		return (-1);
	}
	return (0);
}

int
rd_pseudo_key_read(
    const char *path, struct rd_pseudo_key *out, struct rd_err *err)
{
	uint8_t buf[PSEUDO_FILE_MAX];
	char ebuf[128];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	if (path == NULL || *path == '\0') {
		rd_err_set(err, "HashKeyFile", 0,
		    "HashPersonalData needs "
		    "HashKeyFile (a file of 16 random bytes or 32 hex digits)");
		return (-1);
	}
	if ((fd = rd_file_open(path, &st)) < 0) {
		rd_err_set(err, path, 0,
		    "HashKeyFile: cannot open: %s "
		    "(relaydiag reads it as root at start)",
		    rd_file_strerror(errno, ebuf, sizeof(ebuf)));
		return (-1);
	}
	/* The pseudonyms are only as secret as the key (as OpenDKIM with
	   its private keys): no one but its owner may read or change it. */
	if ((st.st_mode & 077) != 0) {
		rd_err_set(err, path, 0,
		    "HashKeyFile: mode %04o lets group or "
		    "others read or change the key; chmod 600 it (and make a "
		    "new key if others could read it)",
		    (unsigned)(st.st_mode & 07777));
		close(fd);
		return (-1);
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rd_err_set(err, path, 0, "HashKeyFile: read: %s",
			    strerror(errno));
			close(fd);
			explicit_bzero(buf, sizeof(buf));
			return (-1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	rc = rd_pseudo_key_parse(buf, len, path, out, err);
	explicit_bzero(buf, sizeof(buf));
	return (rc);
}

const char *
rd_pseudo_hash(
    const struct rd_pseudo_key *key, const char *s, char out[RD_PSEUDO_LEN])
{
	if (key == NULL) {
		memcpy(out, RD_PSEUDO_NOKEY, sizeof(RD_PSEUDO_NOKEY));
		return (out);
	}
	if (s == NULL)
		s = "";
	snprintf(out, RD_PSEUDO_LEN, "h:%016llx",
	    (unsigned long long)rd_siphash24(key->k, s, strlen(s)));
	return (out);
}

/* pseudo_token - a byte that continues a word or an address */
static bool
pseudo_token(unsigned char c)
{
	return (c >= 0x80 || isalnum(c) || strchr("@_-+=", c) != NULL);
}

/* pseudo_match - secret s (length n) at text + i, with its boundaries */
static bool
pseudo_match(const char *text, size_t i, size_t tlen, const char *s, size_t n)
{
	size_t j;

	if (n == 0 || i + n > tlen)
		return (false);
	if (i > 0 && pseudo_token((unsigned char)text[i - 1]))
		return (false);
	if (i + n < tlen && pseudo_token((unsigned char)text[i + n]))
		return (false);
	for (j = 0; j < n; j++)
		if (tolower((unsigned char)text[i + j]) !=
		    tolower((unsigned char)s[j]))
			return (false);
	return (true);
}

char *
rd_pseudo_replace(const struct rd_pseudo_key *key, const char *text,
    const char *const *secrets, size_t nsecrets, char *out, size_t outlen)
{
	char h[RD_PSEUDO_LEN];
	size_t i = 0, o = 0, k, n, best, tlen;

	if (outlen == 0)
		return (out);
	if (text == NULL)
		text = "";
	tlen = strlen(text);
	while (i < tlen && o + 1 < outlen) {
		/* The longest secret that starts here wins. */
		for (best = 0, k = 0; k < nsecrets; k++) {
			if (secrets[k] == NULL)
				continue;
			n = strlen(secrets[k]);
			if (n > best &&
			    pseudo_match(text, i, tlen, secrets[k], n)) {
				best = n;
				rd_pseudo_hash(key, secrets[k], h);
			}
		}
		if (best == 0) {
			out[o++] = text[i++];
			continue;
		}
		for (n = 0; h[n] != '\0' && o + 1 < outlen; n++)
			out[o++] = h[n];
		i += best;
	}
	out[o] = '\0';
	return (out);
}

void
rd_pseudo_install(const struct rd_pseudo_key *key)
{
	pthread_mutex_lock(&pseudo_lock);
	if (key != NULL)
		pseudo_live = *key;
	else
		explicit_bzero(&pseudo_live, sizeof(pseudo_live));
	pseudo_have = key != NULL;
	pthread_mutex_unlock(&pseudo_lock);
}

bool
rd_pseudo_current(struct rd_pseudo_key *out)
{
	bool have;

	pthread_mutex_lock(&pseudo_lock);
	have = pseudo_have;
	if (have)
		*out = pseudo_live;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&pseudo_lock);
	return (have);
}

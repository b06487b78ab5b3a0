/*
 * spool.h - the on-disk, append-only spool that keeps events while Redis
 * is unreachable, and gives them back in order.
 *
 * Owns struct rd_spool and the files in its directory:
 *   spool-<seq>.log   segments (seq: 16 decimal digits, so that names sort
 *                     as numbers); records are appended to the newest one
 *   cursor            "RDSPOOL1 <seq> <offset>": the next record to
 *                     deliver, replaced atomically (rename) on each ack
 *   lock              flock()ed while open: one process per spool
 * A record is a 12-byte header (magic "RDS1", payload length, CRC-32 of
 * the length and the payload, little-endian) and the payload (type length,
 * type, JSON). A record that is torn (crash mid-write) or fails its CRC is
 * skipped, counted in corrupt, and reading goes on at the next intact
 * record: never fatal. Each open starts a new segment, so that a segment
 * left torn by a crash is never appended to.
 *
 * Delivery is at least once: records read and not yet acknowledged are
 * read again after rd_spool_ack(sp, 0) or a restart; the cursor file is
 * not fsync()ed, so a crash may also replay the last acknowledged batch.
 * Consumers drop duplicates by the event's "id".
 *
 * Size cap: the segments together stay within max_bytes. A record that
 * would cross it is refused (policy newest) or makes room by deleting whole
 * segments, oldest first (policy oldest); every record lost either way is
 * counted. A write error (ENOSPC, EFBIG, EIO) loses only the record being
 * written: the partial record is cut off, the error counted, and the next
 * append tries again.
 *
 * Durability: appends go to the page cache; rd_spool_sync() (the
 * publisher calls it once per batch) fdatasync()s them.
 * Threads: every function locks the spool, so appends may come from any
 * thread while the publisher reads; rd_spool_sync does its fdatasync
 * outside that lock. rd_spool_open/close: one thread, once.
 * Trust: the directory must be owned by the process's user (refused
 * otherwise) and is made 0700; a segment, cursor or lock that is not a
 * regular file owned by that user is refused (segments: left in place,
 * never read, never reused; noted). Files are created 0600.
 * A cursor is believed only when it names a record boundary of a segment
 * on disk; any other cursor deletes nothing and everything is replayed.
 */
#ifndef RELAYDIAG_SPOOL_H
#define RELAYDIAG_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relaydiag/err.h"

#define RD_SPOOL_TYPE_MAX 32          /* longest type, with its NUL */
#define RD_SPOOL_JSON_MAX (16u << 20) /* longest JSON accepted */

enum rd_spool_policy {
	RD_SPOOL_DROP_OLDEST, /* delete the oldest segments */
	RD_SPOOL_DROP_NEWEST, /* refuse new records */
};

struct rd_spool_params {
	const char *dir;        /* created 0700 if missing (not parents) */
	uint64_t max_bytes;     /* cap on all segments; 0: 256 MiB */
	uint64_t segment_bytes; /* 0: max_bytes / 16, within
				   [64 KiB, 16 MiB] and <= max_bytes */
	enum rd_spool_policy policy;
};

struct rd_spool_stats {
	uint64_t appended;       /* records written since open */
	uint64_t pending;        /* records written, not yet acknowledged */
	uint64_t bytes;          /* size of the segments on disk */
	uint64_t segments;       /* segment files */
	uint64_t dropped_oldest; /* records deleted to make room */
	uint64_t dropped_newest; /* records refused: spool full/too big */
	uint64_t dropped_io;     /* records lost to a write error */
	uint64_t corrupt;        /* damaged stretches skipped on read */
	int last_errno;          /* of the last write error; 0: none */
};

struct rd_spool_rec {
	char type[RD_SPOOL_TYPE_MAX];
	char *json; /* malloc'ed, NUL-terminated; caller frees */
	size_t len; /* strlen(json) */
};

/*
 * rd_spool_open - open (or create) the spool in p->dir, lock it, check
 * every segment and find the read cursor. NULL with err when the directory
 * cannot be created or opened, is locked by another process, or the
 * parameters are invalid.
 */
struct rd_spool *rd_spool_open(
    const struct rd_spool_params *p, struct rd_err *err);

/*
 * rd_spool_note - the i-th thing rd_spool_open found worth a log line
 * (a distrusted cursor, a refused file, a directory made 0700), or NULL
 * past the last; the caller logs them, the spool has no log of its own
 */
const char *rd_spool_note(struct rd_spool *sp, size_t i);

/* rd_spool_close - sync, unlock and free; NULL is a no-op */
void rd_spool_close(struct rd_spool *sp);

/*
 * rd_spool_append - append one record (json[0..len), type as in
 * evqueue.h). 0: written. -1: not written, and counted as dropped (full
 * with policy newest, too big, write error) or type/len invalid (EINVAL,
 * not counted); errno says which.
 */
int rd_spool_append(
    struct rd_spool *sp, const char *type, const char *json, size_t len);

/*
 * rd_spool_sync - fdatasync the records appended since the last sync.
 * 0, or -1 with errno.
 */
int rd_spool_sync(struct rd_spool *sp);

/*
 * rd_spool_read - read up to max records, oldest first, starting after the
 * last one read (or at the cursor after an ack). Does not consume them:
 * see rd_spool_ack. Returns the number read; out[i].json belongs to the
 * caller. 0: nothing more to read now.
 */
size_t rd_spool_read(struct rd_spool *sp, struct rd_spool_rec *out, size_t max);

/*
 * rd_spool_ack - the first n records read since the last ack were
 * delivered: move the cursor past them, persist it, delete segments left
 * behind, and make the next read start right after them (so n = 0 rewinds
 * to the cursor). n larger than the number read is cut to it.
 */
void rd_spool_ack(struct rd_spool *sp, size_t n);

/* rd_spool_pending - records written and not yet acknowledged */
uint64_t rd_spool_pending(struct rd_spool *sp);

void rd_spool_stats(struct rd_spool *sp, struct rd_spool_stats *out);

/*
 * rd_spool_policy_parse - "oldest" or "newest" (ASCII case ignored) into
 * *out; 0, or -1 for anything else.
 */
int rd_spool_policy_parse(const char *s, enum rd_spool_policy *out);

/* rd_spool_policy_name - "oldest" or "newest" */
const char *rd_spool_policy_name(enum rd_spool_policy policy);

#endif

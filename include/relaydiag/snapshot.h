/*
 * snapshot.h - the live configuration, shared by every session and
 * swapped whole on reload.
 *
 * A session acquires the live snapshot at connect and releases it at close;
 * a reload installs a new snapshot and never edits the one sessions hold.
 * The old one is freed when its last holder releases it.
 * Threads: every function is safe from any thread.
 */
#ifndef RELAYDIAG_SNAPSHOT_H
#define RELAYDIAG_SNAPSHOT_H

#include "relaydiag/config.h"

/* rd_snapshot_install_take - make cfg live; the previous one is released */
void rd_snapshot_install_take(struct rd_config *cfg);

/* rd_snapshot_acquire - the live config, with a reference (NULL: none) */
struct rd_config *rd_snapshot_acquire(void);

/* rd_snapshot_release - drop a reference; NULL: no-op */
void rd_snapshot_release(struct rd_config *cfg);

/* rd_snapshot_clear - release the live snapshot (at exit) */
void rd_snapshot_clear(void);

#endif

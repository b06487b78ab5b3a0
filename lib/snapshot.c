/*
 * snapshot.c - the live configuration, reference counted.
 *
 * Owns the one process-wide pointer to the live struct rd_config and its
 * lock. The live pointer itself holds one reference; each session holds one
 * from connect to close. Nothing edits a config once installed.
 */
#include <pthread.h>
#include <stddef.h>

#include "relaydiag/snapshot.h"

static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rd_config *snapshot_live;

void
rd_snapshot_release(struct rd_config *cfg)
{
	if (cfg != NULL && atomic_fetch_sub(&cfg->refs, 1) == 1)
		rd_config_free(cfg);
}

void
rd_snapshot_install_take(struct rd_config *cfg)
{
	struct rd_config *old;

	atomic_store(&cfg->refs, 1); /* the live pointer's own */
	pthread_mutex_lock(&snapshot_lock);
	old = snapshot_live;
	snapshot_live = cfg;
	pthread_mutex_unlock(&snapshot_lock);
	rd_snapshot_release(old);
}

struct rd_config *
rd_snapshot_acquire(void)
{
	struct rd_config *c;

	pthread_mutex_lock(&snapshot_lock);
	c = snapshot_live;
	if (c != NULL)
		atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&snapshot_lock);
	return (c);
}

void
rd_snapshot_clear(void)
{
	struct rd_config *old;

	pthread_mutex_lock(&snapshot_lock);
	old = snapshot_live;
	snapshot_live = NULL;
	pthread_mutex_unlock(&snapshot_lock);
	rd_snapshot_release(old);
}

/*
 * explained.c - what another front end already published (explained.h): a
 * ring of entries under one mutex (Postfix asks and then tells the milter
 * within one SMTP command, so the newest go last), found through a hash
 * index of its slots (ringidx.c): every refused recipient looks here, and
 * a scan of the ring cost 4096 entries of ~900 bytes each time.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/explained.h"
#include "relaydiag/hash.h"
#include "relaydiag/ringidx.h"
#include "relaydiag/text.h"

#define EXPLAINED_IP_MAX 64
#define EXPLAINED_RCPT_MAX 520

struct explained_entry {
	time_t when; /* 0: empty */
	unsigned port;
	char ip[EXPLAINED_IP_MAX];
	char rcpt[EXPLAINED_RCPT_MAX];
	char id[RD_EXPLAINED_ID_MAX];
	char eid[RD_EID_MAX];
};

struct rd_explained {
	struct rd_ring r;
	struct explained_entry *v; /* r.v */
};

/* explained_hash - the key: address, port, recipient in lower case */
static uint64_t
explained_hash(const char *ip, unsigned port, const char *rcpt)
{
	uint64_t h = rd_fnv1a(RD_FNV1A_INIT, ip, strlen(ip) + 1);

	h = rd_fnv1a(h, &port, sizeof(port));
	return (rd_fnv1a_lower(h, rcpt, strlen(rcpt)));
}

struct rd_explained *
rd_explained_new(size_t cap)
{
	struct rd_explained *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return (NULL);
	if (rd_ring_init(&x->r, cap, sizeof(*x->v)) != 0) {
		free(x);
		return (NULL);
	}
	x->v = x->r.v;
	return (x);
}

void
rd_explained_free(struct rd_explained *x)
{
	if (x == NULL)
		return;
	rd_ring_free(&x->r);
	free(x);
}

void
rd_explained_note(struct rd_explained *x, const char *ip, unsigned port,
    const char *rcpt, const char *id, const char *eid, time_t now)
{
	struct explained_entry e;
	uint64_t h;

	if (x == NULL || ip == NULL || rcpt == NULL || id == NULL ||
	    eid == NULL)
		return;
	memset(&e, 0, sizeof(e));
	/* Too long for a slot: not noted; the milter publishes its own. */
	if (rd_strlcpy(e.ip, ip, sizeof(e.ip)) >= sizeof(e.ip) ||
	    rd_strlcpy(e.rcpt, rcpt, sizeof(e.rcpt)) >= sizeof(e.rcpt) ||
	    rd_strlcpy(e.id, id, sizeof(e.id)) >= sizeof(e.id) ||
	    rd_strlcpy(e.eid, eid, sizeof(e.eid)) >= sizeof(e.eid))
		return;
	e.port = port;
	e.when = now > 0 ? now : 1;
	h = explained_hash(e.ip, e.port, e.rcpt);
	pthread_mutex_lock(&x->r.lock);
	x->v[rd_ring_claim(&x->r, h)] = e;
	pthread_mutex_unlock(&x->r.lock);
}

bool
rd_explained_take(struct rd_explained *x, const char *ip, unsigned port,
    const char *rcpt, time_t now, char id[RD_EXPLAINED_ID_MAX],
    char eid[RD_EID_MAX])
{
	struct explained_entry *e;
	bool found = false;
	uint64_t h;
	size_t k;

	if (x == NULL || ip == NULL || rcpt == NULL)
		return (false);
	h = explained_hash(ip, port, rcpt);
	pthread_mutex_lock(&x->r.lock);
	for (k = rd_ringidx_first(&x->r.idx, h); k != RD_RINGIDX_END && !found;
	     k = rd_ringidx_next(&x->r.idx, k, h)) { /* newest first */
		e = &x->v[k];
		if (e->when == 0 || e->port != port ||
		    now - e->when > RD_EXPLAINED_TTL || now < e->when - 5 ||
		    strcmp(e->ip, ip) != 0 ||
		    rd_strcasecmp_ascii(e->rcpt, rcpt) != 0)
			continue;
		memcpy(id, e->id, RD_EXPLAINED_ID_MAX);
		memcpy(eid, e->eid, RD_EID_MAX);
		e->when = 0;
		rd_ringidx_unlink(&x->r.idx, k);
		found = true;
	}
	pthread_mutex_unlock(&x->r.lock);
	return (found);
}

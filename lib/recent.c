/*
 * recent.c - what the log front end saw lately (recent.h): a ring under
 * one mutex, searched from the newest entry.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/recent.h"
#include "relaydiag/text.h"

struct recent_entry {
	time_t when; /* 0: empty */
	char key[RD_RECENT_VALUE_MAX];
	char value[RD_RECENT_VALUE_MAX];
};

struct rd_recent {
	pthread_mutex_t lock;
	struct recent_entry *v;
	size_t cap, next;
	time_t alerted; /* the last outage alert; 0: none */
};

struct rd_recent *
rd_recent_new(size_t cap)
{
	struct rd_recent *x;

	if (cap == 0 || (x = calloc(1, sizeof(*x))) == NULL)
		return (NULL);
	if ((x->v = calloc(cap, sizeof(*x->v))) == NULL) {
		free(x);
		return (NULL);
	}
	x->cap = cap;
	pthread_mutex_init(&x->lock, NULL);
	return (x);
}

void
rd_recent_free(struct rd_recent *x)
{
	if (x == NULL)
		return;
	pthread_mutex_destroy(&x->lock);
	free(x->v);
	free(x);
}

/* recent_distinct - distinct non-empty values noted within window */
static unsigned
recent_distinct(const struct rd_recent *x, time_t now, unsigned window)
{
	unsigned n = 0;
	size_t i, k;

	for (i = 0; i < x->cap; i++) {
		const struct recent_entry *e = &x->v[i];

		if (e->when == 0 || now - e->when > (time_t)window ||
		    e->value[0] == '\0')
			continue;
		/* counted once: the first (lowest index) of its name */
		for (k = 0; k < i; k++)
			if (x->v[k].when != 0 &&
			    now - x->v[k].when <= (time_t)window &&
			    rd_strcasecmp_ascii(x->v[k].value, e->value) == 0)
				break;
		if (k == i)
			n++;
	}
	return (n);
}

bool
rd_recent_note(struct rd_recent *x, const char *key, const char *value,
    time_t now, unsigned window, unsigned limit, unsigned *distinct)
{
	struct recent_entry e;
	bool alert = false;

	*distinct = 0;
	if (x == NULL || key == NULL)
		return (false);
	memset(&e, 0, sizeof(e));
	e.when = now > 0 ? now : 1;
	/* A cut key or value would match wrongly: not noted. */
	if (rd_strlcpy(e.key, key, sizeof(e.key)) >= sizeof(e.key) ||
	    rd_strlcpy(e.value, value != NULL ? value : "", sizeof(e.value)) >=
		sizeof(e.value))
		return (false);
	pthread_mutex_lock(&x->lock);
	x->v[x->next] = e;
	x->next = (x->next + 1) % x->cap;
	*distinct = recent_distinct(x, now, window);
	if (limit > 0 && *distinct >= limit &&
	    (x->alerted == 0 || now - x->alerted > (time_t)window)) {
		x->alerted = now;
		alert = true;
	}
	pthread_mutex_unlock(&x->lock);
	return (alert);
}

bool
rd_recent_find(struct rd_recent *x, const char *key, time_t now,
    unsigned window, char value[RD_RECENT_VALUE_MAX])
{
	bool found = false;
	size_t i, k;

	value[0] = '\0';
	if (x == NULL || key == NULL)
		return (false);
	pthread_mutex_lock(&x->lock);
	for (i = 0; i < x->cap && !found; i++) {
		const struct recent_entry *e;

		k = (x->next + x->cap - 1 - i) % x->cap; /* newest first */
		e = &x->v[k];
		if (e->when == 0 || now - e->when > (time_t)window ||
		    now < e->when - 5 || strcmp(e->key, key) != 0)
			continue;
		memcpy(value, e->value, RD_RECENT_VALUE_MAX);
		found = true;
	}
	pthread_mutex_unlock(&x->lock);
	return (found);
}

/*
 * config_int.h - what config.c (the file, its lines, the config's life)
 * and config_keys.c (the key table and its setters, the glue to each
 * value's grammar) share. Private to lib/.
 */
#ifndef RELAYDIAG_CONFIG_INT_H
#define RELAYDIAG_CONFIG_INT_H

#include <stddef.h>

#include "relaydiag/config.h"
#include "relaydiag/err.h"

#define CONFIG_PORT_MAX 65535
#define CONFIG_KEYS_MAX 64 /* room in config_parse.seen */

/* Where a value came from: the file and line its errors name. */
struct config_at {
	const char *source; /* the config file or a "file:" list */
	unsigned line;
	const char *key;  /* canonical key name, for messages */
	int in_list_file; /* 1 inside a "file:" list */
};

struct config_parse;
struct config_key;

/*
 * A scalar key's setter gets the whole (one word) value; a list key's
 * setter gets one entry at a time. Both return 0, or -1 with p->err set.
 */
typedef int config_setter(struct config_parse *, const struct config_key *,
    const struct config_at *, const char *);
/* A list key's reset drops the default at the key's first line. */
typedef int config_reset(struct config_parse *);

enum config_kind {
	CONFIG_SCALAR,
	CONFIG_LIST,
	CONFIG_LINE, /* repeatable; the setter gets each line's whole value */
};

struct config_key {
	const char *name;
	enum config_kind kind;
	config_setter *set;
	config_reset *reset;    /* lists only; may be NULL */
	size_t off;             /* offsetof the field (string, bool, number) */
	unsigned long min, max; /* numbers: the range */
	unsigned flags;         /* CONFIG_RESTART, CONFIG_SECRET */
};

/* The key takes effect only at the next start (a reload keeps the old
   value and says so: rd_config_restart_changes). */
#define CONFIG_RESTART 1u
/* The value may hold a password (RedisURL): no error repeats it, since
   errors end up in logs. */
#define CONFIG_SECRET 2u

/* The key table (config_keys.c), in the order of relaydiag.conf(5). */
extern const struct config_key config_keys[];
extern const size_t config_nkeys;

struct config_parse {
	struct rd_config *cfg;
	const char *path;               /* the config file, as given */
	struct rd_err *err;             /* the caller's; may be NULL */
	unsigned seen[CONFIG_KEYS_MAX]; /* line of a key's first use */
	bool log_format_set;            /* LogFormat replaced its default */
};

/* config_error - fill p->err at source:line, always return -1 */
int config_error(struct config_parse *p, const char *source, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * config_listener_take - append *l to cfg->listeners; what l held is
 * cfg's now (l is zeroed). -1 when out of memory (l untouched).
 */
int config_listener_take(struct rd_config *cfg, struct rd_listener *l);

/* config_dup - strdup into *slot; -1 when out of memory */
int config_dup(char **slot, const char *s);

#endif

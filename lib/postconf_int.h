/*
 * postconf_int.h - what ImportPostfix's three files share: postconf.c
 * (main.cf's lists, the merge into the configuration), postconf_run.c
 * (running postconf) and postconf_master.c (master.cf's listeners).
 * Private to lib/.
 */
#ifndef RELAYDIAG_POSTCONF_INT_H
#define RELAYDIAG_POSTCONF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/buf.h"
#include "relaydiag/domainset.h"
#include "relaydiag/mtaview.h"
#include "relaydiag/netset.h"

#define PC_KEY "ImportPostfix"
#define PC_TIMEOUT_MS 10000    /* per postconf run */
#define PC_OUT_MAX (4u << 20)  /* postconf's stdout */
#define PC_ERR_MAX 8192u       /* postconf's stderr, for the error text */
#define PC_FILE_MAX (1u << 20) /* a "/file/name" list */
#define PC_FILE_DEPTH 4        /* files naming files */
#define PC_ARGS_MAX 32
#define PC_SEP ", \t\r\n"

/* The main.cf parameters we read, in the order asked. */
enum pc_param {
	PC_MYDEST = 0,
	PC_VMBOX,
	PC_VALIAS,
	PC_RELAY,
	PC_MYNET,
	PC_TLSAUTH,
	PC_MYHOST,
	PC_PARENT,
	PC_SASL,      /* smtpd_sasl_auth_enable */
	PC_TLSLEVEL,  /* smtpd_tls_security_level */
	PC_WRAPPER,   /* smtpd_tls_wrappermode */
	PC_CLIENTR,   /* smtpd_client_restrictions */
	PC_RELAYR,    /* smtpd_relay_restrictions */
	PC_RCPTR,     /* smtpd_recipient_restrictions */
	PC_RELAYHOST, /* relayhost */
	PC_HDRCHK,    /* header_checks (cleanup's) */
	PC_RECVOVR,   /* receive_override_options */
	PC_MILTERS,   /* smtpd_milters */
	PC_CLEANUP,   /* cleanup_service_name */
	PC_NPARAMS
};

extern const char *const pc_names[PC_NPARAMS];

/* One list parameter and where its entries go. */
struct pc_list {
	enum pc_param idx;        /* PC_MYDEST */
	const char *param;        /* "mydestination" */
	const char *key;          /* relaydiag's key, for the hint */
	const char *what;         /* "domains", "networks" */
	struct rd_domainset *dom; /* one of dom, net */
	struct rd_netset *net;
	bool parent_matches; /* also add ".domain" (relay_domains) */
};

struct pc_ctx {
	struct rd_mta_view *view; /* what the import fills */
	const char
	    *bin;  /* postconf; NULL: run nothing (rd_postconf_view_text) */
	char *raw; /* with bin NULL: postconf's unexpanded output */
	const char *dir; /* -c DIR, or NULL */
	struct rd_err *err;
};

/* pc_warn - append one warning (made safe to log) to cfg->warnings */
void pc_warn(struct pc_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * pc_run - run postconf with args (and -c DIR); its stdout into out, its
 * stderr into err (may be NULL); 0, or -1 with x->err (postconf_run.c)
 */
int pc_run(struct pc_ctx *x, const char *const *args, size_t nargs,
    struct rd_buf *out, struct rd_buf *err);

/*
 * pc_run_status - pc_run of x->bin, where an exit status other than 0 is
 * an answer, not an error (postmap -q: 1 = not found): into *status
 */
int pc_run_status(struct pc_ctx *x, const char *const *args, size_t nargs,
    struct rd_buf *out, struct rd_buf *err, int *status);

/*
 * pc_services - the smtpd listeners from postconf -M and -P -x output into
 * x->view, each with main.cf's values (vals) overridden by its -o options
 * (postconf_master.c)
 */
void pc_services(
    struct pc_ctx *x, char *mtext, char *ptext, char *vals[PC_NPARAMS]);

/*
 * pc_client_tables - the check_client_access tables before l's relay
 * check, read into l->client_permits (postconf_access.c)
 */
void pc_client_tables(struct pc_ctx *x, struct rd_listener *l);

/* pc_list_value - every entry of value into l's set (a copy is cut) */
int pc_list_value(struct pc_ctx *x, const struct pc_list *l, const char *value);

/* pc_has_word - value (a list) has word as one of its entries */
bool pc_has_word(const char *value, const char *word);

/* pc_line, pc_token, pc_split - cutting postconf's output (postconf.c) */
char *pc_line(char **pp);
char *pc_token(char **pp);
int pc_split(char *line, char **value);

#endif

/*
 * pubbench.c - events/s through the Redis publisher (publish.h) into a
 * Redis of your choosing, for issue 6's "publisher >= 100,000 events/s to
 * a local Redis".
 *
 *     pubbench -u redis://127.0.0.1:PORT -n 200000 [-p producers]
 *              [-s stream] [-e event.json] [-q queue_size] [-b batch]
 *     pubbench -d          # print the built-in event and exit
 *
 * P producer threads (default 1) hand N events in all to one sink through
 * rd_sink_emit_take(), as session threads do. The publisher must not
 * drop: producers keep at most half the queue in flight (they watch
 * rd_sink_stats), so what is measured is the publisher thread's rate, not
 * the queue's overflow policy. The clock runs from the first emit until
 * every event is delivered (rd_sink_stats().delivered == N); then
 * rd_sink_close(). The event is a real rcpt event (about 1 KB) unless -e
 * names a file holding one JSON object.
 * Prints "result events=N seconds=S rate=R delivered=D dropped=X
 * spooled=Y"; exit 1 if anything was dropped or spooled, or not all
 * delivered within 60 s.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relaydiag/publish.h"
#include "relaydiag/sink.h"

static const char pb_default_event[] =
    "{\"v\":1,\"type\":\"rcpt\",\"id\":\"M84W0AM4Z5KY.3\","
    "\"ts\":\"2026-11-23T18:51:58.469Z\",\"host\":\"mx.relaydiag.test\","
    "\"session\":\"M84W0AM4Z5KY\",\"queue_id\":\"4B0000002A\","
    "\"client\":{\"ip\":\"198.51.100.77\",\"port\":40112,\"name\":"
    "\"unknown\",\"helo\":\"host77.spam.test\",\"trusted\":false},"
    "\"server\":{\"daemon\":\"mx.relaydiag.test\",\"port\":25,"
    "\"submission\":false},\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":"
    "\"TLS_AES_256_GCM_SHA384\",\"bits\":256},\"auth\":null,"
    "\"sender\":{\"addr\":\"x@spam77.test\",\"domain\":\"spam77.test\","
    "\"local\":false},\"rcpt\":{\"addr\":\"victim77@gmail.test\","
    "\"domain\":\"gmail.test\",\"class\":\"external\",\"class_source\":"
    "\"domain-lists\",\"authorized\":\"none\"},\"mta\":{\"verdict\":"
    "\"reject\",\"dsn\":\"5.7.1\",\"text\":\"Relay access denied\"},"
    "\"diagnosis\":{\"id\":\"relay.unauthorized\",\"severity\":\"error\","
    "\"summary\":\"The client is not allowed to relay: it did not "
    "authenticate and its address is not in the trusted networks.\","
    "\"remedies\":[\"If this is your user: configure the mail client to "
    "authenticate (SMTP AUTH) on the submission port 587 with TLS.\","
    "\"If this is a server of yours: add its address to mynetworks / "
    "TrustedNetworks.\",\"If this is a stranger: nothing to do; the "
    "refusal is correct.\"]},\"action\":\"none\"}";

static struct rd_sink *pb_sink;
static const char *pb_event = pb_default_event;
static size_t pb_event_len;
static unsigned long pb_total;
static size_t pb_window;
static atomic_ulong pb_next;
static atomic_ulong pb_failed;

static double
pb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
pb_log(int prio, const char *msg)
{
	fprintf(stderr, "pubbench: publisher[%d]: %s\n", prio, msg);
}

/* pb_producer - emit events while fewer than pb_window are in flight */
static void *
pb_producer(void *arg)
{
	struct rd_sink_stats st;
	unsigned long i;
	char *json;

	(void)arg;
	for (;;) {
		i = atomic_fetch_add(&pb_next, 1);
		if (i >= pb_total)
			break;
		if (i % 64 == 0) {
			for (;;) {
				rd_sink_stats(pb_sink, &st);
				if (st.emitted - st.delivered - st.dropped -
					st.spooled <
				    pb_window)
					break;
				usleep(50);
			}
		}
		if ((json = malloc(pb_event_len + 1)) == NULL) {
			atomic_fetch_add(&pb_failed, 1);
			continue;
		}
		memcpy(json, pb_event, pb_event_len + 1);
		if (rd_sink_emit_take(pb_sink, "rcpt", json) != 0)
			atomic_fetch_add(&pb_failed, 1);
	}
	return (NULL);
}

static char *
pb_read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL) {
		fprintf(stderr, "pubbench: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		fprintf(stderr, "pubbench: %s: short read\n", path);
		exit(2);
	}
	fclose(fp);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return (buf);
}

int
main(int argc, char **argv)
{
	struct rd_redis_params p;
	struct rd_sink_stats st;
	struct rd_err err;
	pthread_t *tids;
	unsigned nprod = 1, i;
	double t0, t1, deadline;
	int c, rc = 0;

	memset(&p, 0, sizeof(p));
	p.url = "redis://127.0.0.1:6379";
	p.stream = "relaydiag:bench";
	p.queue_size = 20000;
	p.log = pb_log;
	pb_total = 200000;
	while ((c = getopt(argc, argv, "u:n:p:s:e:q:b:d")) != -1) {
		switch (c) {
		case 'd': /* the built-in event, for redis-benchmark */
			printf("%s\n", pb_default_event);
			return (0);
		case 'u':
			p.url = optarg;
			break;
		case 'n':
			pb_total = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			nprod = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			p.stream = optarg;
			break;
		case 'e':
			pb_event = pb_read_file(optarg);
			break;
		case 'q':
			p.queue_size = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			p.batch_size = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			    "usage: pubbench -u URL [-n events] "
			    "[-p producers] [-s stream] [-e event.json] "
			    "[-q queue] [-b batch]\n");
			return (2);
		}
	}
	if (pb_total == 0 || nprod == 0 || p.queue_size < 2) {
		fprintf(stderr, "pubbench: -n, -p and -q must be positive\n");
		return (2);
	}
	pb_event_len = strlen(pb_event);
	pb_window = p.queue_size / 2;
	if ((pb_sink = rd_sink_redis_open(&p, &err)) == NULL) {
		fprintf(stderr, "pubbench: rd_sink_redis_open: %s\n", err.text);
		return (1);
	}
	/* Let the publisher connect first: its connect is not the rate. */
	usleep(200 * 1000);
	if ((tids = calloc(nprod, sizeof(*tids))) == NULL)
		return (2);
	t0 = pb_now();
	for (i = 0; i < nprod; i++)
		if (pthread_create(&tids[i], NULL, pb_producer, NULL) != 0) {
			fprintf(stderr, "pubbench: pthread_create failed\n");
			return (2);
		}
	for (i = 0; i < nprod; i++)
		pthread_join(tids[i], NULL);
	deadline = pb_now() + 60;
	for (;;) {
		rd_sink_stats(pb_sink, &st);
		if (st.delivered + st.dropped + st.spooled >= pb_total ||
		    pb_now() > deadline)
			break;
		usleep(100);
	}
	t1 = pb_now();
	rd_sink_close(pb_sink);
	printf("result events=%lu seconds=%.3f rate=%.0f delivered=%" PRIu64
	       " dropped=%" PRIu64 " spooled=%" PRIu64 " emit_failed=%lu "
	       "event_bytes=%zu producers=%u\n",
	    pb_total, t1 - t0, (double)st.delivered / (t1 - t0), st.delivered,
	    st.dropped, st.spooled, atomic_load(&pb_failed), pb_event_len,
	    nprod);
	if (st.delivered != pb_total || st.dropped != 0 || st.spooled != 0)
		rc = 1;
	free(tids);
	return (rc);
}

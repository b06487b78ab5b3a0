/*
 * json_roundtrip.c - rd-json-roundtrip FILE: every line of a JSON Lines
 * event file, read by jansson and written again with json_dumps(
 * JSON_COMPACT | JSON_PRESERVE_ORDER), must come out byte for byte as it
 * went in. relaydiag writes its events with its own streaming writer
 * (lib/jsonw.c); this holds every event of an end-to-end run to jansson's
 * output (tests/e2e/lib/tap.sh, rd_e2e_finish).
 * Prints "N events as jansson writes them"; exit 0, 1 on the first line
 * that differs (both versions printed), 2 on a usage or read error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int
main(int argc, char **argv)
{
	char *line = NULL, *again;
	size_t cap = 0, n = 0;
	ssize_t len;
	json_error_t je;
	json_t *o;
	FILE *fp;

	if (argc != 2) {
		fprintf(stderr, "usage: rd-json-roundtrip FILE.jsonl\n");
		return (2);
	}
	if ((fp = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return (2);
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		n++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &je);
		if (o == NULL) {
			fprintf(stderr, "%s:%zu: not JSON: %s\n", argv[1], n,
			    je.text);
			return (1);
		}
		again = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (again == NULL || strcmp(again, line) != 0) {
			fprintf(stderr,
			    "%s:%zu: not as jansson writes it\n"
			    "  relaydiag: %s\n  jansson:   %s\n",
			    argv[1], n, line, again != NULL ? again : "(null)");
			return (1);
		}
		free(again);
	}
	free(line);
	fclose(fp);
	printf("%zu events as jansson writes them\n", n);
	return (0);
}

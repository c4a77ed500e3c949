/* cli.h — the upkeep command line's commands, one file per component they drive: cli-graph.c (graph build
 * and query), cli-lock.c (upkeep-lock's admin API), cli-agent.c (this node's upkeep-agent). upkeep.c is
 * main(). Each returns 0 or a negative errno after printing what went wrong. */
#pragma once

#include <stdio.h>

#define CLI_MAX_DOCUMENT (64u * 1024u * 1024u)

/* A document from a file or an http(s):// URL (at most CLI_MAX_DOCUMENT), in *data (NUL-terminated,
 * freed by the caller); the error printed otherwise. (cli-graph.c) */
int cli_fetch(const char *spec, char **data, size_t *len);

void graph_usage(FILE *f);
int graph_build_cmd(int argc, char **argv);
int graph_query_cmd(int argc, char **argv);
int lock_cmd(int argc, char **argv);
int agent_cmd(int argc, char **argv);
/* `upkeep release ...` (cli-release.c): argv[0] is "release". Returns the exit status itself: 0, 1 (failed,
 * or `validate` found errors), 2 (usage, or `validate` could not check). */
void release_usage(FILE *f);
int release_cmd(int argc, char **argv);

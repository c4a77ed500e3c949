/* graph-query.h — parsing of a Cincinnati graph request: the raw query string of GET /v1/graph and the
 * Accept header. Pure; the server maps the results to the protocol's error kinds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define GRAPH_QUERY_MAX_LEN 4096
#define GRAPH_QUERY_MAX_PARAMS 64
#define GRAPH_QUERY_MAX_VALUE 256

typedef struct GraphQuery {
        char *basearch; /* NULL when absent or empty */
        char *stream;
        char *node_uuid; /* NULL when absent; may be "" */
        bool has_wariness;
        double wariness; /* clamped to [0, 1] */
        bool oci;
} GraphQuery;

typedef enum GraphQueryError {
        GRAPH_QUERY_OK = 0,
        GRAPH_QUERY_MISSING, /* missing_params: e->message lists them */
        GRAPH_QUERY_INVALID, /* invalid_params: e->message says which and why */
} GraphQueryError;

/* Parses the raw (still percent-encoded) query. Unknown parameters are ignored; a known parameter given
 * twice, a malformed escape, a value longer than GRAPH_QUERY_MAX_VALUE or a bad number is invalid.
 * Returns 0 with *ret filled, or -EINVAL with *ret_kind and e set, or -ENOMEM. */
int graph_query_parse(const char *query, GraphQuery *ret, GraphQueryError *ret_kind, Error *e);
void graph_query_done(GraphQuery *q);

/* Whether an Accept header value admits application/json (absent or empty header: yes). */
bool accept_allows_json(const char *accept);

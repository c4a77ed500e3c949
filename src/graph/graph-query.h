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
        char *node_uuid;   /* NULL when absent; may be "" */
        bool has_wariness; /* a rollout_wariness that parses; else the node_uuid decides */
        double wariness;   /* clamped to [0, 1], or NaN (which hides no rollout), as upstream */
        bool oci;
} GraphQuery;

typedef enum GraphQueryError {
        GRAPH_QUERY_OK = 0,
        GRAPH_QUERY_MISSING, /* missing_params: e->message lists them */
        GRAPH_QUERY_INVALID, /* invalid_params: e->message says which and why */
} GraphQueryError;

/* Parses the raw (still percent-encoded) query. Unknown parameters are ignored; a known parameter given
 * twice, a malformed escape, a value longer than GRAPH_QUERY_MAX_VALUE or a bad oci is invalid. A
 * rollout_wariness that is not a number is ignored, as fedora-coreos-cincinnati ignores it.
 * Returns 0 with *ret filled, or -EINVAL with *ret_kind and e set, or -ENOMEM. */
int graph_query_parse(const char *query, GraphQuery *ret, GraphQueryError *ret_kind, Error *e);
void graph_query_done(GraphQuery *q);

/* A rollout_wariness as fedora-coreos-cincinnati reads it (Rust's f64 syntax: optional sign, then digits
 * with an optional '.' and exponent, or inf, infinity, nan in any case; no spaces, no hex), clamped to
 * [0, 1]; NaN stays NaN. -EINVAL when it is not that syntax. */
int wariness_parse_lenient(const char *s, double *ret);

/* Whether a JSON answer suits an Accept header value: yes when it is absent, empty or names no media
 * range, or when a range with q > 0 is one of the wildcards (any type, any application type),
 * application/json or another +json type, or any text type (a browser shows JSON as text); no only when
 * the client accepts something else entirely (e.g. "image/png" alone). fedora-coreos-cincinnati ignores
 * Accept altogether. */
bool accept_allows_json(const char *accept);

/* graph-view.h — one servable graph (a stream × basearch × scheme) with its answers cached.
 *
 * For a fixed graph, an answer depends only on which rollout nodes are hidden from the client, so there
 * are at most 2^k distinct answers (k = rollout nodes), and at any one moment at most k+1 of them. Each
 * is serialized once, on first use, and then served as shared bytes until the graph is replaced. The
 * nodes part of the JSON is serialized once per graph. Thread-safe.
 *
 * An answer blob carries its strong ETag (graph_answer_etag()), computed once when it is built; an
 * encoded answer (gzip) is derived from it once, on first demand, and cached beside it. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "graph.h"

/* The longest ETag: '"', 16 hex digits, a suffix such as "-gz", '"'. */
#define GRAPH_ETAG_MAX 32

/* Derives another encoding of an answer (gzip, say) as a blob made with graph_answer_new(); NULL when out
 * of memory. Must be pure. */
typedef Blob *(*GraphAnswerEncoder)(const Blob *answer);

typedef struct AnswerSlot {
        uint64_t mask;
        Blob *blob;    /* NULL = empty slot */
        Blob *encoded; /* the encoder's answer for blob, once asked for */
} AnswerSlot;

typedef struct GraphView {
        Graph *graph;
        char *nodes_json; /* "{"nodes":[...],"edges":[" */
        size_t nodes_len;
        pthread_mutex_t lock;
        AnswerSlot *slots; /* open addressing, n_slots a power of two */
        size_t n_slots, n_used, max_answers;
        uint64_t hits, misses; /* atomic */
} GraphView;

/* Takes ownership of g. max_answers = 0 disables the cache (every answer is serialized anew). */
int graph_view_new(Graph *g, size_t max_answers, GraphView **ret);
GraphView *graph_view_free(GraphView *v);
/* The answer for a client of this wariness at time now: a new reference the caller owns. */
int graph_view_answer(GraphView *v, double wariness, int64_t now, Blob **ret);
/* The same, with more rollouts hidden: also_hidden[k] true hides g->rollouts[k] (NULL: none), and encoded
 * by encoder unless it is NULL (the encoding is cached with the answer: pass the same encoder, or NULL,
 * on every call for a view). */
int graph_view_answer_hiding(GraphView *v, double wariness, int64_t now, const bool *also_hidden,
                             GraphAnswerEncoder encoder, Blob **ret);

/* A new answer blob of len bytes of body and an ETag: etag, or when NULL the body's own strong ETag,
 * '"' + 16 hex digits of its SipHash-1-3 + '"'. The ETag (at most GRAPH_ETAG_MAX - 1 characters, else
 * NULL is returned) is stored after the body's NUL. NULL when out of memory. */
Blob *graph_answer_new(const void *body, size_t len, const char *etag);
/* The ETag of a blob made by graph_answer_new(). */
const char *graph_answer_etag(const Blob *answer);

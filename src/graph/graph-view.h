/* graph-view.h — one servable graph (a stream × basearch × scheme) with its answers cached.
 *
 * For a fixed graph, an answer depends only on which rollout nodes are hidden from the client, so there
 * are at most 2^k distinct answers (k = rollout nodes), and at any one moment at most k+1 of them. Each
 * is serialized once, on first use, and then served as shared bytes until the graph is replaced. The
 * nodes part of the JSON is serialized once per graph. Thread-safe. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "graph.h"

typedef struct AnswerSlot {
        uint64_t mask;
        Blob *blob; /* NULL = empty slot */
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
/* The same, with more rollouts hidden: also_hidden[k] true hides g->rollouts[k] (NULL: none). */
int graph_view_answer_hiding(GraphView *v, double wariness, int64_t now, const bool *also_hidden,
                             Blob **ret);

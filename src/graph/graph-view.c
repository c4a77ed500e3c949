/* graph-view.c — cached serialized answers for one graph (see graph-view.h). */
#include "graph-view.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "graph-build.h"
#include "macros.h"
#include "siphash13.h"

#define ANSWER_MAX_BYTES (256u * 1024u * 1024u)

int graph_view_new(Graph *g, size_t max_answers, GraphView **ret)
{
        Buf b = BUF_INIT(ANSWER_MAX_BYTES);
        GraphView *v;
        int r;

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        pthread_mutex_init(&v->lock, NULL);
        v->graph = g;
        r = graph_write_json_nodes(g, &b);
        if (r < 0) {
                buf_free(&b);
                graph_view_free(v);
                return r;
        }
        v->nodes_json = buf_steal(&b, &v->nodes_len);
        if (!v->nodes_json) {
                graph_view_free(v);
                return -ENOMEM;
        }
        v->max_answers = g->n_rollouts <= 64 ? max_answers : 0;
        if (v->max_answers) {
                v->n_slots = 4;
                while (v->n_slots < v->max_answers * 2)
                        v->n_slots *= 2;
                v->slots = calloc(v->n_slots, sizeof(AnswerSlot));
                if (!v->slots) {
                        graph_view_free(v);
                        return -ENOMEM;
                }
        }
        *ret = v;
        return 0;
}

Blob *graph_answer_new(const void *body, size_t len, const char *etag)
{
        char own[GRAPH_ETAG_MAX];
        size_t n;
        char *p;
        Blob *b;

        if (!etag) {
                snprintf(own, sizeof(own), "\"%016llx\"", (unsigned long long)siphash13(0, 0, body, len));
                etag = own;
        }
        n = strlen(etag);
        if (n >= GRAPH_ETAG_MAX || len > ANSWER_MAX_BYTES)
                return NULL;
        p = malloc(len + 1 + n);
        if (!p)
                return NULL;
        memcpy(p, body, len);
        p[len] = 0;
        memcpy(p + len + 1, etag, n);
        b = blob_new(p, len + 1 + n);
        free(p);
        if (b)
                b->len = len; /* not shared yet: the ETag stays after the body's NUL */
        return b;
}

const char *graph_answer_etag(const Blob *answer)
{
        return answer->data + answer->len + 1;
}

static void clear_slots(GraphView *v)
{
        for (size_t i = 0; i < v->n_slots; i++) {
                v->slots[i].blob = blob_unref(v->slots[i].blob);
                v->slots[i].encoded = blob_unref(v->slots[i].encoded);
        }
        v->n_used = 0;
}

GraphView *graph_view_free(GraphView *v)
{
        if (!v)
                return NULL;
        clear_slots(v);
        free(v->slots);
        free(v->nodes_json);
        graph_free(v->graph);
        pthread_mutex_destroy(&v->lock);
        free(v);
        return NULL;
}

static size_t slot_of(const GraphView *v, uint64_t mask)
{
        return (size_t)((mask * 0x9E3779B97F4A7C15ULL) >> 32) & (v->n_slots - 1);
}

static int serialize(GraphView *v, const bool *hidden, Blob **ret)
{
        Buf b = BUF_INIT(ANSWER_MAX_BYTES);
        Blob *blob;
        int r;

        r = buf_append(&b, v->nodes_json, v->nodes_len);
        if (r >= 0)
                r = graph_write_json_edges(v->graph, hidden, &b);
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        blob = graph_answer_new(b.data, b.len, NULL);
        buf_free(&b);
        if (!blob)
                return -ENOMEM;
        *ret = blob;
        return 0;
}

static void mask_to_hidden(const Graph *g, uint64_t mask, bool *hidden)
{
        memset(hidden, 0, g->n_nodes * sizeof(bool));
        for (size_t k = 0; k < g->n_rollouts && k < 64; k++)
                if (mask & (UINT64_C(1) << k))
                        hidden[g->rollouts[k]] = true;
}

int graph_view_answer(GraphView *v, double wariness, int64_t now, Blob **ret)
{
        return graph_view_answer_hiding(v, wariness, now, NULL, NULL, ret);
}

/* The slot holding mask, or the empty slot where it would go. Called with the lock held. */
static AnswerSlot *find_slot(GraphView *v, uint64_t mask)
{
        size_t i;

        for (i = slot_of(v, mask); v->slots[i].blob; i = (i + 1) & (v->n_slots - 1))
                if (v->slots[i].mask == mask)
                        break;
        return &v->slots[i];
}

/* A new reference to what the cache holds for mask (encoded or not), or NULL. *ret_plain gets the plain
 * answer when only that is cached and an encoding is asked for. */
static Blob *cache_lookup(GraphView *v, uint64_t mask, bool encoded, Blob **ret_plain)
{
        AnswerSlot *slot;
        Blob *blob = NULL;

        *ret_plain = NULL;
        pthread_mutex_lock(&v->lock);
        slot = find_slot(v, mask);
        if (slot->blob && !encoded)
                blob = blob_ref(slot->blob);
        else if (slot->blob && slot->encoded)
                blob = blob_ref(slot->encoded);
        else if (slot->blob)
                *ret_plain = blob_ref(slot->blob);
        pthread_mutex_unlock(&v->lock);
        return blob;
}

/* Stores plain (and encoded, when not NULL) for mask unless another thread got there first: then
 * replaces plain and encoded by what the cache holds, so every client sees the same bytes and ETag. */
static void cache_store(GraphView *v, uint64_t mask, Blob **plain, Blob **encoded)
{
        AnswerSlot *slot;

        pthread_mutex_lock(&v->lock);
        slot = find_slot(v, mask);
        if (!slot->blob && v->n_used >= v->max_answers) {
                clear_slots(v); /* over time the hidden sets drift; start afresh rather than grow */
                slot = find_slot(v, mask);
        }
        if (!slot->blob) {
                slot->mask = mask;
                slot->blob = blob_ref(*plain);
                v->n_used++;
        } else if (slot->blob != *plain) {
                blob_unref(*plain);
                *plain = blob_ref(slot->blob);
        }
        if (encoded && *encoded && !slot->encoded)
                slot->encoded = blob_ref(*encoded);
        else if (encoded && *encoded && slot->encoded != *encoded) {
                blob_unref(*encoded);
                *encoded = blob_ref(slot->encoded);
        }
        pthread_mutex_unlock(&v->lock);
}

static int answer_uncached(GraphView *v, double wariness, int64_t now, const bool *also_hidden,
                           GraphAnswerEncoder encoder, Blob **ret)
{
        _cleanup_free_ bool *hidden = NULL;
        Blob *plain, *enc;
        int r;

        hidden = calloc(v->graph->n_nodes + 1, sizeof(bool));
        if (!hidden)
                return -ENOMEM;
        graph_hidden_nodes(v->graph, wariness, now, hidden);
        for (size_t k = 0; also_hidden && k < v->graph->n_rollouts; k++)
                hidden[v->graph->rollouts[k]] |= also_hidden[k];
        r = serialize(v, hidden, &plain);
        if (r < 0 || !encoder) {
                if (r >= 0)
                        *ret = plain;
                return r;
        }
        enc = encoder(plain);
        blob_unref(plain);
        if (!enc)
                return -ENOMEM;
        *ret = enc;
        return 0;
}

int graph_view_answer_hiding(GraphView *v, double wariness, int64_t now, const bool *also_hidden,
                             GraphAnswerEncoder encoder, Blob **ret)
{
        _cleanup_free_ bool *hidden = NULL;
        Blob *blob, *plain = NULL, *enc = NULL;
        uint64_t mask;
        int r;

        if (!v->max_answers)
                return answer_uncached(v, wariness, now, also_hidden, encoder, ret);

        mask = graph_hidden_mask(v->graph, wariness, now);
        for (size_t k = 0; also_hidden && k < v->graph->n_rollouts; k++) /* cached: at most 64 */
                if (also_hidden[k])
                        mask |= UINT64_C(1) << k;
        blob = cache_lookup(v, mask, encoder, &plain);
        if (blob) {
                __atomic_add_fetch(&v->hits, 1, __ATOMIC_RELAXED);
                *ret = blob;
                return 0;
        }

        if (!plain) {
                __atomic_add_fetch(&v->misses, 1, __ATOMIC_RELAXED);
                hidden = calloc(v->graph->n_nodes + 1, sizeof(bool));
                if (!hidden)
                        return -ENOMEM;
                mask_to_hidden(v->graph, mask, hidden);
                r = serialize(v, hidden, &plain);
                if (r < 0)
                        return r;
        } else
                __atomic_add_fetch(&v->hits, 1, __ATOMIC_RELAXED);
        if (encoder) {
                enc = encoder(plain);
                if (!enc) {
                        blob_unref(plain);
                        return -ENOMEM;
                }
        }
        cache_store(v, mask, &plain, encoder ? &enc : NULL);
        if (encoder) {
                blob_unref(plain);
                *ret = enc;
        } else
                *ret = plain;
        return 0;
}

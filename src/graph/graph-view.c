/* graph-view.c — cached serialized answers for one graph (see graph-view.h). */
#include "graph-view.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "graph-build.h"
#include "macros.h"

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

static void clear_slots(GraphView *v)
{
        for (size_t i = 0; i < v->n_slots; i++)
                v->slots[i].blob = blob_unref(v->slots[i].blob);
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
        blob = blob_new(b.data, b.len);
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
        return graph_view_answer_hiding(v, wariness, now, NULL, ret);
}

int graph_view_answer_hiding(GraphView *v, double wariness, int64_t now, const bool *also_hidden, Blob **ret)
{
        _cleanup_free_ bool *hidden = NULL;
        Blob *blob = NULL;
        uint64_t mask;
        size_t i;
        int r;

        if (!v->max_answers) {
                hidden = calloc(v->graph->n_nodes + 1, sizeof(bool));
                if (!hidden)
                        return -ENOMEM;
                graph_hidden_nodes(v->graph, wariness, now, hidden);
                for (size_t k = 0; also_hidden && k < v->graph->n_rollouts; k++)
                        hidden[v->graph->rollouts[k]] |= also_hidden[k];
                return serialize(v, hidden, ret);
        }

        mask = graph_hidden_mask(v->graph, wariness, now);
        for (size_t k = 0; also_hidden && k < v->graph->n_rollouts; k++) /* cached: at most 64 */
                if (also_hidden[k])
                        mask |= UINT64_C(1) << k;
        pthread_mutex_lock(&v->lock);
        for (i = slot_of(v, mask); v->slots[i].blob; i = (i + 1) & (v->n_slots - 1))
                if (v->slots[i].mask == mask) {
                        blob = blob_ref(v->slots[i].blob);
                        break;
                }
        pthread_mutex_unlock(&v->lock);
        if (blob) {
                __atomic_add_fetch(&v->hits, 1, __ATOMIC_RELAXED);
                *ret = blob;
                return 0;
        }

        __atomic_add_fetch(&v->misses, 1, __ATOMIC_RELAXED);
        hidden = calloc(v->graph->n_nodes + 1, sizeof(bool));
        if (!hidden)
                return -ENOMEM;
        mask_to_hidden(v->graph, mask, hidden);
        r = serialize(v, hidden, &blob);
        if (r < 0)
                return r;

        pthread_mutex_lock(&v->lock);
        if (v->n_used >= v->max_answers)
                clear_slots(v); /* over time the hidden sets drift; start afresh rather than grow */
        for (i = slot_of(v, mask); v->slots[i].blob; i = (i + 1) & (v->n_slots - 1))
                if (v->slots[i].mask == mask)
                        break;
        if (!v->slots[i].blob) { /* else another thread got here first: keep theirs */
                v->slots[i].mask = mask;
                v->slots[i].blob = blob_ref(blob);
                v->n_used++;
        }
        pthread_mutex_unlock(&v->lock);
        *ret = blob;
        return 0;
}

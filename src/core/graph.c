/* graph.c — the Cincinnati update graph model: nodes with their metadata in upstream's order, edges,
 * serialization (the protocol's JSON, and text and dot for people), client wariness, and the parser of a
 * served graph document. */
#include "graph.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "siphash13.h"
#include "strutil.h"

void graph_free(Graph *g)
{
        if (!g)
                return;
        for (size_t i = 0; i < g->n_nodes; i++) {
                free(g->nodes[i].version);
                free(g->nodes[i].payload);
                for (size_t k = 0; k < g->nodes[i].n_meta; k++)
                        free(g->nodes[i].meta_values[k]);
        }
        free(g->nodes);
        free(g->edges);
        free(g->rollouts);
        free(g);
}

/* The canonical order of metadata keys (upstream inserts them in this order into its map). */
static const char *const meta_order[] = {
        META_AGE_INDEX,      META_SCHEME,  META_DEADEND,     META_DEADEND_REASON, META_BARRIER,
        META_BARRIER_REASON, META_ROLLOUT, META_START_EPOCH, META_START_VALUE,    META_DURATION,
};
static_assert(ELEMENTSOF(meta_order) == GRAPH_NODE_MAX_META, "a node has room for every metadata key");

int graph_node_set_meta(GraphNode *n, const char *key, const char *value)
{
        size_t pos, k;
        char *v;

        assert(n);
        assert(value);
        /* Insert keeping meta_order; key must be one of its META_* strings. */
        for (pos = 0; pos < ELEMENTSOF(meta_order) && !streq(meta_order[pos], key); pos++)
                ;
        assert(pos < ELEMENTSOF(meta_order));
        v = strdup(value);
        if (!v)
                return -ENOMEM;
        for (k = 0; k < n->n_meta; k++)
                if (streq(n->meta_keys[k], key)) {
                        free(n->meta_values[k]);
                        n->meta_values[k] = v;
                        return 0;
                }
        for (k = n->n_meta; k > 0; k--) {
                size_t kpos;
                for (kpos = 0; !streq(meta_order[kpos], n->meta_keys[k - 1]); kpos++)
                        ;
                if (kpos < pos)
                        break;
                n->meta_keys[k] = n->meta_keys[k - 1];
                n->meta_values[k] = n->meta_values[k - 1];
        }
        n->meta_keys[k] = key;
        n->meta_values[k] = v;
        n->n_meta++;
        return 0;
}

int graph_add_edge(Graph *g, size_t *cap, size_t from, size_t to, Error *e)
{
        if (g->n_edges >= GRAPH_MAX_EDGES)
                return error_setf(e, -E2BIG, "graph: more than %u edges", GRAPH_MAX_EDGES);
        if (g->n_edges == *cap) {
                size_t ncap = *cap ? *cap * 2 : 64;
                GraphEdge *n = realloc(g->edges, ncap * sizeof(GraphEdge));
                if (!n)
                        return -ENOMEM;
                g->edges = n;
                *cap = ncap;
        }
        g->edges[g->n_edges++] = (GraphEdge){ (uint32_t)from, (uint32_t)to };
        return 0;
}

/* ---- serialization ---- */

static bool edge_visible(const Graph *g, const GraphEdge *ed, const bool *hidden)
{
        return !g->nodes[ed->from].deadend && !(hidden && hidden[ed->to]);
}

int graph_write_json_nodes(const Graph *g, Buf *out)
{
        int r = buf_puts(out, "{\"nodes\":[");
        for (size_t i = 0; r >= 0 && i < g->n_nodes; i++) {
                const GraphNode *n = &g->nodes[i];
                r = buf_puts(out, i ? ",{\"version\":" : "{\"version\":");
                if (r >= 0)
                        r = buf_put_json_string(out, n->version, strlen(n->version));
                if (r >= 0)
                        r = buf_puts(out, ",\"metadata\":{");
                for (size_t k = 0; r >= 0 && k < n->n_meta; k++) {
                        if (k)
                                r = buf_putc(out, ',');
                        if (r >= 0)
                                r = buf_put_json_string(out, n->meta_keys[k], strlen(n->meta_keys[k]));
                        if (r >= 0)
                                r = buf_putc(out, ':');
                        if (r >= 0)
                                r = buf_put_json_string(out, n->meta_values[k], strlen(n->meta_values[k]));
                }
                if (r >= 0)
                        r = buf_puts(out, "},\"payload\":");
                if (r >= 0)
                        r = buf_put_json_string(out, n->payload, strlen(n->payload));
                if (r >= 0)
                        r = buf_putc(out, '}');
        }
        if (r >= 0)
                r = buf_puts(out, "],\"edges\":[");
        return r;
}

int graph_write_json_edges(const Graph *g, const bool *hidden, Buf *out)
{
        bool first = true;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < g->n_edges; i++) {
                if (!edge_visible(g, &g->edges[i], hidden))
                        continue;
                r = buf_printf(out, first ? "[%u,%u]" : ",[%u,%u]", g->edges[i].from, g->edges[i].to);
                first = false;
        }
        if (r >= 0)
                r = buf_puts(out, "]}");
        return r;
}

int graph_write_json(const Graph *g, const bool *hidden, Buf *out)
{
        int r = graph_write_json_nodes(g, out);
        if (r >= 0)
                r = graph_write_json_edges(g, hidden, out);
        return r;
}

int graph_write_text(const Graph *g, const bool *hidden, Buf *out)
{
        size_t visible = 0;
        int r;

        for (size_t i = 0; i < g->n_edges; i++)
                visible += edge_visible(g, &g->edges[i], hidden);
        r = buf_printf(out, "nodes %zu edges %zu\n", g->n_nodes, visible);
        for (size_t i = 0; r >= 0 && i < g->n_nodes; i++) {
                const GraphNode *n = &g->nodes[i];
                r = buf_printf(out, "%4zu  %-24s %.12s  age %zu", i, n->version, n->payload, n->age_index);
                if (r >= 0 && n->barrier)
                        r = buf_puts(out, "  barrier");
                if (r >= 0 && n->deadend)
                        r = buf_puts(out, "  deadend");
                if (r >= 0 && n->rollout) {
                        char v[64] = "0";
                        format_double_shortest(n->has_start_value ? n->start_value : 0.0, v, sizeof(v));
                        r = buf_printf(out, "  rollout(start_epoch=%lld start_value=%s",
                                       (long long)(n->has_start_epoch ? n->start_epoch : 0), v);
                        if (r >= 0 && n->has_duration)
                                r = buf_printf(out, " duration_minutes=%llu",
                                               (unsigned long long)n->duration_minutes);
                        if (r >= 0)
                                r = buf_putc(out, ')');
                }
                if (r >= 0 && hidden && hidden[i])
                        r = buf_puts(out, "  hidden");
                if (r >= 0)
                        r = buf_putc(out, '\n');
        }
        for (size_t i = 0; r >= 0 && i < g->n_edges; i++)
                if (edge_visible(g, &g->edges[i], hidden))
                        r = buf_printf(out, "%u -> %u  (%s -> %s)\n", g->edges[i].from, g->edges[i].to,
                                       g->nodes[g->edges[i].from].version, g->nodes[g->edges[i].to].version);
        return r;
}

int graph_write_dot(const Graph *g, const bool *hidden, Buf *out)
{
        int r = buf_puts(out, "digraph update_graph {\n  rankdir=LR;\n  node [shape=box];\n");
        for (size_t i = 0; r >= 0 && i < g->n_nodes; i++) {
                const GraphNode *n = &g->nodes[i];
                r = buf_printf(out, "  n%zu [label=", i);
                if (r >= 0)
                        r = buf_put_json_string(out, n->version, strlen(n->version));
                if (r >= 0)
                        r = buf_printf(out, "%s%s];\n", n->barrier ? ", penwidth=3" : "",
                                       n->deadend   ? ", color=red"
                                       : n->rollout ? ", color=blue"
                                                    : "");
        }
        for (size_t i = 0; r >= 0 && i < g->n_edges; i++)
                if (edge_visible(g, &g->edges[i], hidden))
                        r = buf_printf(out, "  n%u -> n%u;\n", g->edges[i].from, g->edges[i].to);
        if (r >= 0)
                r = buf_puts(out, "}\n");
        return r;
}

/* ---- wariness ---- */

double wariness_from_uuid(const char *uuid, size_t len)
{
        /* Rust's Hash for str writes the bytes followed by 0xFF into SipHash-1-3 with keys (0, 0). */
        uint8_t stackbuf[256];
        uint8_t *buf = len < sizeof(stackbuf) ? stackbuf : malloc(len + 1);
        uint64_t h;
        double w;

        if (!buf)
                return 1.0; /* out of memory: the most wary answer */
        memcpy(buf, uuid, len);
        buf[len] = 0xff;
        h = siphash13(0, 0, buf, len + 1);
        if (buf != stackbuf)
                free(buf);
        w = (double)h / (double)UINT64_MAX;
        return CLAMP(w, 0.000001, 1.0);
}

int wariness_parse(const char *s, double *ret)
{
        double w;
        int r = safe_atod(s, &w);
        if (r < 0)
                return -EINVAL;
        *ret = CLAMP(w, 0.0, 1.0);
        return 0;
}

/* ---- reading a served graph ---- */

static const char *known_meta_key(const char *k)
{
        for (size_t i = 0; i < ELEMENTSOF(meta_order); i++)
                if (streq(meta_order[i], k))
                        return meta_order[i];
        return NULL;
}

static int node_from_json(const json_t *jn, size_t i, GraphNode *n, Error *e)
{
        char what[64];
        const char *version, *payload, *key;
        json_t *md, *val;
        int r;

        snprintf(what, sizeof(what), "node %zu", i);
        if ((r = json_member_string(jn, "version", true, what, &version, e)) < 0 ||
            (r = json_member_string(jn, "payload", true, what, &payload, e)) < 0 ||
            (r = json_member_object(jn, "metadata", true, what, &md, e)) < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (!(n->version = strdup(version)) || !(n->payload = strdup(payload)))
                return -ENOMEM;
        json_object_foreach(md, key, val) {
                const char *k = known_meta_key(key);
                const char *s;
                if (!k)
                        continue;
                if (!json_is_string(val))
                        return error_setf(e, -EINVAL, "%s: metadata '%s' must be a string, got %s", what,
                                          key, json_type_name(val));
                s = json_string_value(val);
                if ((r = graph_node_set_meta(n, k, s)) < 0)
                        return r;
                if (streq(k, META_AGE_INDEX)) {
                        uint64_t u;
                        if (safe_atou64(s, &u) < 0)
                                return error_setf(e, -EINVAL, "%s: metadata '%s' is not a number: '%s'",
                                                  what, key, s);
                        n->age_index = (size_t)u;
                } else if (streq(k, META_BARRIER))
                        n->barrier = streq(s, "true");
                else if (streq(k, META_DEADEND))
                        n->deadend = streq(s, "true");
                else if (streq(k, META_ROLLOUT))
                        n->rollout = streq(s, "true");
                else if (streq(k, META_START_EPOCH))
                        n->has_start_epoch = safe_atoi64(s, &n->start_epoch) >= 0;
                else if (streq(k, META_START_VALUE))
                        n->has_start_value = safe_atod(s, &n->start_value) >= 0;
                else if (streq(k, META_DURATION))
                        n->has_duration = safe_atou64(s, &n->duration_minutes) >= 0;
        }
        if (!json_object_get(md, META_AGE_INDEX))
                return error_setf(e, -EINVAL, "%s (%s): missing metadata '%s'", what, version,
                                  META_AGE_INDEX);
        return 0;
}

int graph_parse_json(const char *data, size_t len, Graph **ret, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *nodes, *edges, *item;
        Graph *g;
        size_t i, cap = 0;
        int r;

        assert(data || len == 0);
        assert(ret);
        r = json_parse_strict(data, len, &root, e);
        if (r < 0)
                return r;
        if ((r = json_member_array(root, "nodes", true, "graph", &nodes, e)) < 0 ||
            (r = json_member_array(root, "edges", true, "graph", &edges, e)) < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (json_array_size(nodes) > GRAPH_MAX_RELEASES || json_array_size(edges) > GRAPH_MAX_EDGES)
                return error_setf(e, -E2BIG, "graph: %zu nodes and %zu edges exceed the limits",
                                  json_array_size(nodes), json_array_size(edges));
        g = calloc(1, sizeof(*g));
        if (g) {
                g->nodes = calloc(json_array_size(nodes) + 1, sizeof(GraphNode));
                g->rollouts = calloc(json_array_size(nodes) + 1, sizeof(uint32_t));
        }
        if (!g || !g->nodes || !g->rollouts) {
                graph_free(g);
                return -ENOMEM;
        }
        json_array_foreach(nodes, i, item) {
                g->n_nodes = i + 1;
                r = node_from_json(item, i, &g->nodes[i], e);
                if (r < 0)
                        goto fail;
                if (g->nodes[i].rollout)
                        g->rollouts[g->n_rollouts++] = (uint32_t)i;
        }
        json_array_foreach(edges, i, item) {
                json_t *a = json_array_get(item, 0), *b = json_array_get(item, 1);
                if (!json_is_array(item) || json_array_size(item) != 2 || !json_is_integer(a) ||
                    !json_is_integer(b) || json_integer_value(a) < 0 || json_integer_value(b) < 0 ||
                    (size_t)json_integer_value(a) >= g->n_nodes ||
                    (size_t)json_integer_value(b) >= g->n_nodes) {
                        r = error_setf(e, -EINVAL,
                                       "graph: edge %zu must be [from, to] with node indices below %zu", i,
                                       g->n_nodes);
                        goto fail;
                }
                r = graph_add_edge(g, &cap, (size_t)json_integer_value(a), (size_t)json_integer_value(b), e);
                if (r < 0)
                        goto fail;
        }
        *ret = g;
        return 0;
fail:
        graph_free(g);
        return r;
}

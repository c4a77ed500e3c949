/* graph.c — parsing of Fedora CoreOS release indexes and update metadata, construction of the update
 * graph exactly as fedora-coreos-cincinnati builds it, rollout throttling and serialization. */
#include "graph.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "siphash13.h"
#include "strutil.h"

/* ---- parsing helpers ---- */

/* Optional member: NULL when absent or JSON null (serde's Option semantics). */
static json_t *opt_member(const json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);
        return json_is_null(v) ? NULL : v;
}

static int dup_str(const char *s, char **ret)
{
        char *d = strdup(s);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

static void artifacts_free(ReleaseArtifact *a, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(a[i].architecture);
                free(a[i].payload);
        }
        free(a);
}

void release_index_free(ReleaseIndex *ri)
{
        if (!ri)
                return;
        for (size_t i = 0; i < ri->n_releases; i++) {
                free(ri->releases[i].version);
                artifacts_free(ri->releases[i].commits, ri->releases[i].n_commits);
                artifacts_free(ri->releases[i].oci_images, ri->releases[i].n_oci_images);
        }
        free(ri->releases);
        free(ri->stream);
        free(ri);
}

/* Parses an array of {architecture, <payload_key>} objects. */
static int parse_artifacts(const json_t *rel, const char *key, const char *payload_key, const char *what,
                           ReleaseArtifact **ret, size_t *ret_n, Error *e)
{
        json_t *arr = opt_member(rel, key), *item;
        ReleaseArtifact *a;
        size_t i;

        if (!arr) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (!json_is_array(arr))
                return error_setf(e, -EINVAL, "%s: field '%s' must be an array, got %s", what, key,
                                  json_type_name(arr));
        a = calloc(json_array_size(arr) + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        json_array_foreach(arr, i, item) {
                char w[ERROR_MESSAGE_MAX];
                const char *arch, *payload;
                int r;

                snprintf(w, sizeof(w), "%s: %s[%zu]", what, key, i);
                if ((r = json_member_string(item, "architecture", true, w, &arch, e)) < 0 ||
                    (r = json_member_string(item, payload_key, true, w, &payload, e)) < 0 ||
                    (r = dup_str(arch, &a[i].architecture)) < 0 ||
                    (r = dup_str(payload, &a[i].payload)) < 0) {
                        artifacts_free(a, i + 1);
                        return r == -ENOENT ? -EINVAL : r;
                }
        }
        *ret = a;
        *ret_n = json_array_size(arr);
        return 0;
}

int release_index_parse(const char *data, size_t len, ReleaseIndex **ret, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *releases, *rel;
        ReleaseIndex *ri;
        const char *stream = NULL;
        size_t i;
        int r;

        r = json_parse_strict(data, len, &root, e);
        if (r < 0)
                return r;
        r = json_member_array(root, "releases", true, "release index", &releases, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (json_array_size(releases) > GRAPH_MAX_RELEASES)
                return error_setf(e, -E2BIG, "release index: %zu releases, more than the limit of %d",
                                  json_array_size(releases), GRAPH_MAX_RELEASES);
        if (opt_member(root, "stream")) {
                r = json_member_string(root, "stream", false, "release index", &stream, e);
                if (r < 0)
                        return r;
        }

        ri = calloc(1, sizeof(*ri));
        if (!ri)
                return -ENOMEM;
        ri->releases = calloc(json_array_size(releases) + 1, sizeof(Release));
        if (!ri->releases || (stream && dup_str(stream, &ri->stream) < 0)) {
                release_index_free(ri);
                return -ENOMEM;
        }

        json_array_foreach(releases, i, rel) {
                Release *out = &ri->releases[i];
                char what[ERROR_MESSAGE_MAX];
                const char *version, *md;

                ri->n_releases = i + 1;
                snprintf(what, sizeof(what), "release %zu", i);
                r = json_member_string(rel, "version", true, what, &version, e);
                if (r >= 0 && !*version)
                        r = error_setf(e, -EINVAL, "%s: field 'version' is empty", what);
                if (r < 0)
                        goto fail;
                snprintf(what, sizeof(what), "release %zu (%s)", i, version);
                r = dup_str(version, &out->version);
                if (r < 0)
                        goto fail;
                r = parse_artifacts(rel, "commits", "checksum", what, &out->commits, &out->n_commits, e);
                if (r < 0)
                        goto fail;
                r = parse_artifacts(rel, "oci-images", "digest-ref", what, &out->oci_images,
                                    &out->n_oci_images, e);
                if (r < 0)
                        goto fail;
                if (opt_member(rel, "metadata")) {
                        r = json_member_string(rel, "metadata", false, what, &md, e);
                        if (r < 0)
                                goto fail;
                }
        }
        *ret = ri;
        return 0;
fail:
        release_index_free(ri);
        return r == -ENOENT ? -EINVAL : r;
}

void update_metadata_free(UpdateMetadata *um)
{
        if (!um)
                return;
        for (size_t i = 0; i < um->n_entries; i++) {
                free(um->entries[i].version);
                free(um->entries[i].barrier_reason);
                free(um->entries[i].deadend_reason);
        }
        free(um->entries);
        free(um->stream);
        free(um);
}

static int parse_reason(const json_t *md, const char *key, const char *what, char **ret, Error *e)
{
        char w[ERROR_MESSAGE_MAX];
        const char *reason;
        json_t *obj = opt_member(md, key);
        int r;

        if (!obj)
                return 0;
        snprintf(w, sizeof(w), "%s: metadata.%s", what, key);
        if (!json_is_object(obj))
                return error_setf(e, -EINVAL, "%s must be an object, got %s", w, json_type_name(obj));
        r = json_member_string(obj, "reason", true, w, &reason, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        return dup_str(reason, ret);
}

static int parse_rollout(const json_t *md, const char *what, UpdateEntry *u, Error *e)
{
        char w[ERROR_MESSAGE_MAX];
        json_t *ro = opt_member(md, "rollout");
        int64_t i;
        int r;

        if (!ro)
                return 0;
        snprintf(w, sizeof(w), "%s: metadata.rollout", what);
        if (!json_is_object(ro))
                return error_setf(e, -EINVAL, "%s must be an object, got %s", w, json_type_name(ro));
        u->rollout = true;
        if (opt_member(ro, "start_epoch")) {
                r = json_member_int(ro, "start_epoch", true, w, INT64_MIN, INT64_MAX, &u->start_epoch, e);
                if (r < 0)
                        return r;
                u->has_start_epoch = true;
        }
        if (opt_member(ro, "start_percentage")) {
                r = json_member_number(ro, "start_percentage", true, w, &u->start_percentage, e);
                if (r < 0)
                        return r;
                if (!(u->start_percentage >= 0.0 && u->start_percentage <= 1.0))
                        return error_setf(e, -ERANGE, "%s: field 'start_percentage' is %g, outside [0, 1]",
                                          w, u->start_percentage);
                u->has_start_percentage = true;
        }
        if (opt_member(ro, "duration_minutes")) {
                /* Upstream reads a u64; a rollout longer than a million years is certainly a typo. */
                r = json_member_int(ro, "duration_minutes", true, w, 0, INT64_C(1) << 40, &i, e);
                if (r < 0)
                        return r;
                u->duration_minutes = (uint64_t)i;
                u->has_duration = true;
        }
        return 0;
}

int update_metadata_parse(const char *data, size_t len, UpdateMetadata **ret, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *releases, *rel, *md;
        UpdateMetadata *um;
        const char *stream;
        size_t i;
        int r;

        r = json_parse_strict(data, len, &root, e);
        if (r < 0)
                return r;
        r = json_member_string(root, "stream", true, "update metadata", &stream, e);
        if (r >= 0)
                r = json_member_array(root, "releases", true, "update metadata", &releases, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (json_array_size(releases) > GRAPH_MAX_RELEASES)
                return error_setf(e, -E2BIG, "update metadata: %zu releases, more than the limit of %d",
                                  json_array_size(releases), GRAPH_MAX_RELEASES);

        um = calloc(1, sizeof(*um));
        if (!um)
                return -ENOMEM;
        um->entries = calloc(json_array_size(releases) + 1, sizeof(UpdateEntry));
        if (!um->entries || dup_str(stream, &um->stream) < 0) {
                update_metadata_free(um);
                return -ENOMEM;
        }
        json_array_foreach(releases, i, rel) {
                UpdateEntry *u = &um->entries[i];
                char what[ERROR_MESSAGE_MAX];
                const char *version;

                um->n_entries = i + 1;
                snprintf(what, sizeof(what), "release %zu", i);
                r = json_member_string(rel, "version", true, what, &version, e);
                if (r < 0)
                        goto fail;
                snprintf(what, sizeof(what), "release %zu (%s)", i, version);
                r = dup_str(version, &u->version);
                if (r >= 0)
                        r = json_member_object(rel, "metadata", true, what, &md, e);
                if (r >= 0)
                        r = parse_reason(md, "barrier", what, &u->barrier_reason, e);
                if (r >= 0)
                        r = parse_reason(md, "deadend", what, &u->deadend_reason, e);
                if (r >= 0)
                        r = parse_rollout(md, what, u, e);
                if (r < 0)
                        goto fail;
        }
        *ret = um;
        return 0;
fail:
        update_metadata_free(um);
        return r == -ENOENT ? -EINVAL : r;
}

/* ---- graph construction ---- */

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

static int node_set_meta(GraphNode *n, const char *key, const char *value)
{
        char *v = strdup(value);
        size_t pos, k;

        if (!v)
                return -ENOMEM;
        for (k = 0; k < n->n_meta; k++)
                if (streq(n->meta_keys[k], key)) {
                        free(n->meta_values[k]);
                        n->meta_values[k] = v;
                        return 0;
                }
        /* Insert keeping meta_order. */
        for (pos = 0; pos < ELEMENTSOF(meta_order) && !streq(meta_order[pos], key); pos++)
                ;
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

typedef struct EntryRef {
        const char *version;
        size_t pos;
} EntryRef;

static int entry_ref_cmp(const void *a, const void *b)
{
        const EntryRef *x = a, *y = b;
        int c = strcmp(x->version, y->version);
        if (c)
                return c;
        return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Applies every update entry for n->version, in upstream's order: dead-ends, then barriers, then
 * rollouts, each over all matching entries in file order. */
static int node_apply_updates(GraphNode *n, const UpdateMetadata *um, const EntryRef *refs, size_t n_refs)
{
        size_t lo = 0, hi = n_refs, first;
        char num[64];
        int r;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (strcmp(refs[mid].version, n->version) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        first = lo;

        for (int pass = 0; pass < 3; pass++)
                for (size_t i = first; i < n_refs && streq(refs[i].version, n->version); i++) {
                        const UpdateEntry *u = &um->entries[refs[i].pos];
                        if (pass == 0 && u->deadend_reason) {
                                n->deadend = true;
                                if ((r = node_set_meta(n, META_DEADEND, "true")) < 0 ||
                                    (r = node_set_meta(n, META_DEADEND_REASON,
                                                       *u->deadend_reason ? u->deadend_reason : "generic")) <
                                            0)
                                        return r;
                        } else if (pass == 1 && u->barrier_reason) {
                                n->barrier = true;
                                if ((r = node_set_meta(n, META_BARRIER, "true")) < 0 ||
                                    (r = node_set_meta(n, META_BARRIER_REASON,
                                                       *u->barrier_reason ? u->barrier_reason : "generic")) <
                                            0)
                                        return r;
                        } else if (pass == 2 && u->rollout) {
                                n->rollout = true;
                                if ((r = node_set_meta(n, META_ROLLOUT, "true")) < 0)
                                        return r;
                                if (u->has_start_epoch) {
                                        n->has_start_epoch = true;
                                        n->start_epoch = u->start_epoch;
                                        snprintf(num, sizeof(num), "%lld", (long long)u->start_epoch);
                                        if ((r = node_set_meta(n, META_START_EPOCH, num)) < 0)
                                                return r;
                                }
                                if (u->has_start_percentage) {
                                        n->has_start_value = true;
                                        n->start_value = u->start_percentage;
                                        if ((r = format_double_shortest(u->start_percentage, num,
                                                                        sizeof(num))) < 0 ||
                                            (r = node_set_meta(n, META_START_VALUE, num)) < 0)
                                                return r;
                                }
                                if (u->has_duration) {
                                        n->has_duration = true;
                                        n->duration_minutes = u->duration_minutes;
                                        snprintf(num, sizeof(num), "%llu",
                                                 (unsigned long long)u->duration_minutes);
                                        if ((r = node_set_meta(n, META_DURATION, num)) < 0)
                                                return r;
                                }
                        }
                }
        return 0;
}

static int add_edge(Graph *g, size_t *cap, size_t from, size_t to, Error *e)
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

static int compute_edges(Graph *g, Error *e)
{
        _cleanup_free_ size_t *prev_barrier = calloc(g->n_nodes + 1, sizeof(size_t));
        size_t cap = 0, start = 0, last = 0, keep = 0;
        int r;

        if (!prev_barrier)
                return -ENOMEM;
        /* prev_barrier[i] = index of the newest barrier strictly older than i, or 0. */
        for (size_t i = 0; i < g->n_nodes; i++) {
                prev_barrier[i] = last;
                if (g->nodes[i].barrier)
                        last = i;
        }
        /* Edges into rollouts, newest rollout first, from the previous barrier on. */
        for (size_t k = g->n_rollouts; k > 0; k--) {
                size_t to = g->rollouts[k - 1];
                for (size_t i = prev_barrier[to]; i < to; i++)
                        if ((r = add_edge(g, &cap, i, to, e)) < 0)
                                return r;
        }
        /* Edges into barriers that are not being rolled out, oldest first. */
        for (size_t b = 0; b < g->n_nodes; b++) {
                if (!g->nodes[b].barrier)
                        continue;
                if (!g->nodes[b].rollout)
                        for (size_t i = start; i < b; i++)
                                if ((r = add_edge(g, &cap, i, b, e)) < 0)
                                        return r;
                start = b;
        }
        /* Dead-ends have no way out. */
        for (size_t i = 0; i < g->n_edges; i++)
                if (!g->nodes[g->edges[i].from].deadend)
                        g->edges[keep++] = g->edges[i];
        g->n_edges = keep;
        return 0;
}

int graph_build(const ReleaseIndex *ri, const UpdateMetadata *um, const char *basearch, GraphScheme scheme,
                Graph **ret, Error *e)
{
        _cleanup_free_ EntryRef *refs = NULL;
        Graph *g;
        char num[32];
        int r;

        if (ri->n_releases > GRAPH_MAX_RELEASES || um->n_entries > GRAPH_MAX_RELEASES)
                return error_setf(e, -E2BIG, "graph: more than %d releases", GRAPH_MAX_RELEASES);

        refs = calloc(um->n_entries + 1, sizeof(EntryRef));
        g = calloc(1, sizeof(*g));
        if (g)
                g->nodes = calloc(ri->n_releases + 1, sizeof(GraphNode));
        if (g)
                g->rollouts = calloc(ri->n_releases + 1, sizeof(uint32_t));
        if (!refs || !g || !g->nodes || !g->rollouts) {
                graph_free(g);
                return -ENOMEM;
        }
        for (size_t i = 0; i < um->n_entries; i++)
                refs[i] = (EntryRef){ um->entries[i].version, i };
        qsort(refs, um->n_entries, sizeof(EntryRef), entry_ref_cmp);

        for (size_t i = 0; i < ri->n_releases; i++) {
                const Release *rel = &ri->releases[i];
                const ReleaseArtifact *arts = scheme == GRAPH_SCHEME_OCI ? rel->oci_images : rel->commits;
                size_t n_arts = scheme == GRAPH_SCHEME_OCI ? rel->n_oci_images : rel->n_commits;
                const char *payload = NULL;
                GraphNode *n;

                for (size_t k = 0; k < n_arts; k++)
                        if (streq(arts[k].architecture, basearch) && *arts[k].payload)
                                payload = arts[k].payload; /* the last one wins, as upstream */
                if (!payload)
                        continue;

                n = &g->nodes[g->n_nodes++];
                n->age_index = i;
                snprintf(num, sizeof(num), "%zu", i);
                if (!(n->version = strdup(rel->version)) || !(n->payload = strdup(payload)) ||
                    (r = node_set_meta(n, META_AGE_INDEX, num)) < 0 ||
                    (r = node_set_meta(n, META_SCHEME, scheme == GRAPH_SCHEME_OCI ? "oci" : "checksum")) <
                            0 ||
                    (r = node_apply_updates(n, um, refs, um->n_entries)) < 0) {
                        graph_free(g);
                        return -ENOMEM;
                }
                if (n->rollout)
                        g->rollouts[g->n_rollouts++] = (uint32_t)(g->n_nodes - 1);
        }

        r = compute_edges(g, e);
        if (r < 0) {
                graph_free(g);
                return r;
        }
        *ret = g;
        return 0;
}

/* ---- throttling ---- */

double graph_node_throttle(const GraphNode *n, int64_t now)
{
        int64_t start = n->has_start_epoch ? n->start_epoch : 0;
        double value = n->has_start_value ? n->start_value : 0.0;

        if (!n->has_duration)
                return now < start ? 0.0 : value; /* without a duration the rollout never progresses */

        /* end = start + 60 * max(minutes, 1), computed without overflow (upstream's arithmetic). */
        __int128 end = (__int128)start + (__int128)60 * (n->duration_minutes ? n->duration_minutes : 1);
        double rate = (1.0 - value) / (double)(end - start);
        if (now < start)
                return 0.0;
        if ((__int128)now > end)
                return 1.0;
        return value + rate * (double)(now - start);
}

void graph_hidden_nodes(const Graph *g, double wariness, int64_t now, bool *hidden)
{
        memset(hidden, 0, g->n_nodes * sizeof(bool));
        for (size_t k = 0; k < g->n_rollouts; k++) {
                const GraphNode *n = &g->nodes[g->rollouts[k]];
                if (wariness > graph_node_throttle(n, now))
                        hidden[g->rollouts[k]] = true;
        }
}

uint64_t graph_hidden_mask(const Graph *g, double wariness, int64_t now)
{
        uint64_t mask = 0;
        for (size_t k = 0; k < g->n_rollouts && k < 64; k++)
                if (wariness > graph_node_throttle(&g->nodes[g->rollouts[k]], now))
                        mask |= UINT64_C(1) << k;
        return mask;
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
        if ((r = dup_str(version, &n->version)) < 0 || (r = dup_str(payload, &n->payload)) < 0)
                return r;
        json_object_foreach(md, key, val) {
                const char *k = known_meta_key(key);
                const char *s;
                if (!k)
                        continue;
                if (!json_is_string(val))
                        return error_setf(e, -EINVAL, "%s: metadata '%s' must be a string, got %s", what,
                                          key, json_type_name(val));
                s = json_string_value(val);
                if ((r = node_set_meta(n, k, s)) < 0)
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
                r = add_edge(g, &cap, (size_t)json_integer_value(a), (size_t)json_integer_value(b), e);
                if (r < 0)
                        goto fail;
        }
        *ret = g;
        return 0;
fail:
        graph_free(g);
        return r;
}

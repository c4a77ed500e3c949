/* graph-status-page.c — the status page's HTML and upkeep-lock's groups parsed for it (see
 * graph-status-page.h). */
#include "graph-status-page.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph-build.h"
#include "json-util.h"
#include "macros.h"
#include "strutil.h"
#include "time-util.h"

/* Room kept back while sections are rendered, for the note and the closing tags of a page cut short. */
#define PAGE_RESERVE 512
#define RAMP_W 180
#define RAMP_H 44
#define RAMP_SAMPLES 36
#define NODE_GAP_MAX 64 /* pixels between releases; less when many are drawn */
#define NODE_GAP_MIN 22
#define GRAPH_WIDTH 1100 /* what the drawing aims at */

/* ---- text ---- */

int graph_status_put_text(Buf *out, const char *s, size_t len)
{
        char clean[GRAPH_STATUS_MAX_TEXT + 1];
        size_t n;

        if (!s)
                return 0;
        n = text_clean(clean, sizeof(clean), s, MIN(len, (size_t)GRAPH_STATUS_MAX_TEXT), 0);
        return buf_put_markup(out, clean, n);
}

static int put(Buf *out, const char *s)
{
        return graph_status_put_text(out, s, s ? strlen(s) : 0);
}

/* A share of the fleet as a percentage with one decimal: "42.0%". Non-finite values are shown as such. */
static int put_pct(Buf *out, double v)
{
        if (!isfinite(v))
                return buf_puts(out, "n/a");
        return buf_printf(out, "%.1f%%", v * 100.0);
}

/* ---- upkeep-lock's groups ---- */

void graph_status_lock_done(GraphStatusLock *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n_groups; i++)
                free(l->groups[i].holders);
        free(l->groups);
        *l = (GraphStatusLock){ 0 };
}

static void copy_clean(char *dst, size_t cap, const char *s)
{
        text_clean(dst, cap, s, strlen(s), 0);
}

static int parse_holders(const json_t *arr, const char *what, GraphStatusLockGroup *g, Error *e)
{
        size_t n = MIN(json_array_size(arr), (size_t)GRAPH_STATUS_LOCK_MAX_HOLDERS);
        char hw[GRAPH_STATUS_LOCK_MAX_NAME + 64];
        const char *id;
        int r = 0;

        g->holders = n ? calloc(n, sizeof(GraphStatusLockHolder)) : NULL;
        if (n && !g->holders)
                return -ENOMEM;
        g->n_holders_dropped = json_array_size(arr) - n;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                GraphStatusLockHolder *h = &g->holders[i];
                json_t *o = json_array_get(arr, i);
                snprintf(hw, sizeof(hw), "%s: holders[%zu]", what, i);
                if (!json_is_object(o))
                        return error_setf(e, -EINVAL, "%s must be an object", hw);
                r = json_member_string(o, "id", true, hw, &id, e);
                if (r >= 0 &&
                    (r = json_member_int(o, "since", false, hw, 0, INT64_MAX, &h->since, e)) == -ENOENT)
                        r = 0;
                if (r >= 0 && (r = json_member_int(o, "age_secs", false, hw, 0, INT64_MAX, &h->age_secs,
                                                   e)) == -ENOENT)
                        r = 0;
                if (r >= 0) {
                        copy_clean(h->id, sizeof(h->id), id);
                        g->n_holders = i + 1;
                }
        }
        return r;
}

static int parse_group(const json_t *o, size_t i, GraphStatusLockGroup *g, Error *e)
{
        char what[64];
        const char *name;
        json_t *holders = NULL, *window = NULL;
        int64_t slots = 0;
        int r;

        snprintf(what, sizeof(what), "groups[%zu]", i);
        if (!json_is_object(o))
                return error_setf(e, -EINVAL, "%s must be an object", what);
        r = json_member_string(o, "name", true, what, &name, e);
        if (r >= 0)
                r = json_member_int(o, "slots", true, what, 0, INT64_MAX, &slots, e);
        if (r >= 0 && (r = json_member_int(o, "max_hold_secs", false, what, 0, INT64_MAX, &g->max_hold_secs,
                                           e)) == -ENOENT)
                r = 0;
        if (r >= 0 && (r = json_member_bool(o, "paused", false, what, &g->paused, e)) == -ENOENT)
                r = 0;
        if (r >= 0 && (r = json_member_object(o, "window", false, what, &window, e)) == -ENOENT)
                r = 0;
        if (r >= 0 && window &&
            (r = json_member_bool(window, "configured", false, what, &g->window_configured, e)) == -ENOENT)
                r = 0;
        if (r >= 0 && window &&
            (r = json_member_bool(window, "open", false, what, &g->window_open, e)) == -ENOENT)
                r = 0;
        if (r >= 0 && (r = json_member_array(o, "holders", false, what, &holders, e)) == -ENOENT)
                r = 0;
        if (r < 0)
                return r;
        copy_clean(g->name, sizeof(g->name), name);
        g->slots = (uint64_t)slots;
        return holders ? parse_holders(holders, g->name, g, e) : 0;
}

int graph_status_lock_parse(const char *data, size_t len, GraphStatusLock *ret, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        GraphStatusLock l = { 0 };
        json_t *arr = NULL;
        size_t n;
        int r;

        assert(data && ret);
        r = json_parse_strict(data, len, &j, e);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        if (!json_is_object(j))
                return error_setf(e, -EINVAL, "the answer must be a JSON object, got %s", json_type_name(j));
        r = json_member_array(j, "groups", true, "the answer", &arr, e);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        n = MIN(json_array_size(arr), (size_t)GRAPH_STATUS_LOCK_MAX_GROUPS);
        l.groups = n ? calloc(n, sizeof(GraphStatusLockGroup)) : NULL;
        if (n && !l.groups)
                return -ENOMEM;
        l.n_groups_dropped = json_array_size(arr) - n;
        for (size_t i = 0; i < n; i++) {
                r = parse_group(json_array_get(arr, i), i, &l.groups[i], e);
                l.n_groups = i + 1; /* freed by graph_status_lock_done() even when it failed */
                if (r < 0) {        /* a member missing (-ENOENT) or out of range (-ERANGE) too */
                        graph_status_lock_done(&l);
                        return r == -ENOMEM ? r : -EINVAL;
                }
        }
        *ret = l;
        return 0;
}

/* ---- the page's frame ---- */

static const char page_style[] =
        "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fafbfc}"
        "h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.25em;margin:1.5em 0 .4em;"
        "border-bottom:1px solid #ccd}h3{font-size:1.05em;margin:1em 0 .3em}"
        "table{border-collapse:collapse;margin:.3em 0 1em}th,td{border:1px solid #d4d8e0;"
        "padding:.25em .5em;text-align:left;vertical-align:middle}th{background:#eef0f4}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#667}"
        ".paused{color:#b00020;font-weight:bold}.running{color:#1a7f37}.resumed{color:#8a5a00}"
        ".bad{color:#b00020}.warn{background:#fff4d6;padding:.4em .6em;border:1px solid #e6c36a}"
        "svg{background:#fff;border:1px solid #e0e3ea}svg.ramp{border:none;background:none}"
        ".legend span{margin-right:1.2em}";

static int page_head(const GraphStatusSnapshot *s, int64_t now, Buf *out)
{
        char at[64], up[64];

        format_timestamp_utc(now, at, sizeof(at));
        format_duration_short(now - s->started_at, up, sizeof(up));
        return buf_printf(out,
                          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                          "<meta http-equiv=\"refresh\" content=\"%d\">"
                          "<meta name=\"viewport\" content=\"width=device-width\">"
                          "<title>upkeep-graph status</title><style>%s</style></head><body>\n"
                          "<h1>upkeep-graph status</h1><p class=\"muted\" id=\"generated\" "
                          "data-now=\"%lld\">%s &middot; up %s &middot; reloads every %d s</p>\n",
                          GRAPH_STATUS_REFRESH_SECS, page_style, (long long)now, at, up,
                          GRAPH_STATUS_REFRESH_SECS);
}

/* ---- a stream's graph, drawn ---- */

typedef struct AgeRef {
        size_t age, idx;
} AgeRef;

static int age_cmp(const void *a, const void *b)
{
        const AgeRef *x = a, *y = b;
        return x->age < y->age ? -1 : x->age > y->age ? 1 : (x->idx > y->idx) - (x->idx < y->idx);
}

static const char *node_meta(const GraphNode *n, const char *key)
{
        for (size_t i = 0; i < n->n_meta; i++)
                if (streq(n->meta_keys[i], key))
                        return n->meta_values[i];
        return NULL;
}

/* The column of each node drawn (the newest GRAPH_STATUS_MAX_DRAWN_NODES by age), -1 for the others. */
static int layout_columns(const Graph *g, long *col, size_t *ret_drawn)
{
        _cleanup_free_ AgeRef *refs = calloc(g->n_nodes + 1, sizeof(AgeRef));
        size_t drawn = MIN(g->n_nodes, (size_t)GRAPH_STATUS_MAX_DRAWN_NODES), first;

        if (!refs)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_nodes; i++) {
                refs[i] = (AgeRef){ .age = g->nodes[i].age_index, .idx = i };
                col[i] = -1;
        }
        qsort(refs, g->n_nodes, sizeof(AgeRef), age_cmp);
        first = g->n_nodes - drawn;
        for (size_t k = first; k < g->n_nodes; k++)
                col[refs[k].idx] = (long)(k - first);
        *ret_drawn = drawn;
        return 0;
}

static int draw_edges(const Graph *g, const long *col, long gap, Buf *out, size_t *ret_drawn)
{
        size_t drawn = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < g->n_edges && drawn < GRAPH_STATUS_MAX_DRAWN_EDGES; i++) {
                long a = col[g->edges[i].from], b = col[g->edges[i].to];
                const GraphNode *from = &g->nodes[g->edges[i].from];
                if (a < 0 || b < 0 || from->deadend)
                        continue;
                long x1 = 40 + a * gap, x2 = 40 + b * gap, lift = 14 + labs(x2 - x1) / 4;
                r = buf_printf(out,
                               "<path class=\"edge\" d=\"M%ld 150 Q%ld %ld %ld 150\" fill=\"none\" "
                               "stroke=\"%s\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\"/>",
                               x1, (x1 + x2) / 2, 150 - MIN(lift, 140L), x2,
                               g->nodes[g->edges[i].to].rollout ? "#d9822b" : "#8a94a6");
                drawn++;
        }
        *ret_drawn = drawn;
        return r;
}

static int draw_node(const GraphNode *n, long c, long gap, Buf *out)
{
        const char *fill = n->deadend ? "#d1242f" : n->rollout ? "#f0a030" : "#2f81f7";
        const char *why = n->deadend   ? node_meta(n, META_DEADEND_REASON)
                          : n->barrier ? node_meta(n, META_BARRIER_REASON)
                                       : NULL;
        long x = 40 + c * gap;
        int r;

        r = buf_printf(out, "<g class=\"node%s%s%s\" data-version=\"", n->rollout ? " rollout" : "",
                       n->deadend ? " deadend" : "", n->barrier ? " barrier" : "");
        if (r >= 0)
                r = put(out, n->version);
        if (r >= 0 && n->barrier)
                r = buf_printf(out,
                               "\"><rect x=\"%ld\" y=\"141\" width=\"18\" height=\"18\" fill=\"%s\" "
                               "stroke=\"#111\" stroke-width=\"2\"/>",
                               x - 9, fill);
        else if (r >= 0)
                r = buf_printf(out, "\"><circle cx=\"%ld\" cy=\"150\" r=\"8\" fill=\"%s\"/>", x, fill);
        if (r >= 0 && n->deadend)
                r = buf_printf(
                        out,
                        "<path d=\"M%ld 145 l10 10 m0 -10 l-10 10\" stroke=\"#fff\" stroke-width=\"2\"/>",
                        x - 5);
        if (r >= 0)
                r = buf_puts(out, "<title>");
        if (r >= 0)
                r = put(out, n->version);
        if (r >= 0 && why) {
                r = buf_puts(out, ": ");
                if (r >= 0)
                        r = put(out, why);
        }
        if (r >= 0)
                r = buf_printf(out,
                               "</title><text x=\"%ld\" y=\"176\" font-size=\"11\" "
                               "transform=\"rotate(60 %ld 176)\">",
                               x - 4, x - 4);
        if (r >= 0)
                r = put(out, n->version);
        if (r >= 0)
                r = buf_puts(out, "</text></g>");
        return r;
}

/* The barriers and dead-ends drawn, with their reasons. */
static int graph_marks(const Graph *g, const long *col, Buf *out)
{
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < g->n_nodes; i++) {
                const GraphNode *node = &g->nodes[i];
                if (col[i] < 0 || (!node->barrier && !node->deadend))
                        continue;
                r = buf_printf(out, "%s<li class=\"%s\">%s ", n++ ? "" : "<ul class=\"marks\">",
                               node->deadend ? "deadend" : "barrier",
                               node->deadend ? "dead-end" : "barrier");
                if (r >= 0)
                        r = put(out, node->version);
                if (r >= 0)
                        r = buf_puts(out, ": ");
                if (r >= 0)
                        r = put(out,
                                node_meta(node, node->deadend ? META_DEADEND_REASON : META_BARRIER_REASON));
                if (r >= 0)
                        r = buf_puts(out, "</li>");
        }
        return r < 0 || !n ? r : buf_puts(out, "</ul>\n");
}

static int draw_graph(const Graph *g, Buf *out)
{
        _cleanup_free_ long *col = calloc(g->n_nodes + 1, sizeof(long));
        size_t drawn = 0, edges = 0;
        long gap;
        int r;

        if (!col)
                return -ENOMEM;
        r = layout_columns(g, col, &drawn);
        gap = drawn > 1 ? MIN(MAX(GRAPH_WIDTH / (long)drawn, (long)NODE_GAP_MIN), (long)NODE_GAP_MAX)
                        : NODE_GAP_MAX;
        if (r >= 0)
                r = buf_printf(
                        out,
                        "<div style=\"overflow-x:auto\"><svg class=\"graph\" "
                        "xmlns=\"http://www.w3.org/2000/svg\" "
                        "width=\"%ld\" height=\"290\" role=\"img\" aria-label=\"update "
                        "graph\"><defs><marker "
                        "id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"18\" refY=\"5\" markerWidth=\"6\" "
                        "markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" "
                        "fill=\"#8a94a6\"/></marker></defs>",
                        80 + (long)(drawn ? drawn - 1 : 0) * gap + 100);
        if (r >= 0)
                r = draw_edges(g, col, gap, out, &edges);
        for (size_t i = 0; r >= 0 && i < g->n_nodes; i++)
                if (col[i] >= 0)
                        r = draw_node(&g->nodes[i], col[i], gap, out);
        if (r >= 0)
                r = buf_printf(out,
                               "</svg></div>\n<p class=\"legend muted\"><span>&#9679; release</span>"
                               "<span style=\"color:#f0a030\">&#9679; rollout</span><span "
                               "style=\"color:#d1242f\">&#9679; dead-end</span><span>&#9632; barrier</span>"
                               "<span class=\"graph-counts\">%zu releases, %zu edges",
                               g->n_nodes, g->n_edges);
        if (r >= 0 && (drawn < g->n_nodes || edges < g->n_edges))
                r = buf_printf(out, " (drawn: the newest %zu releases, %zu edges between them)", drawn,
                               edges);
        if (r >= 0)
                r = buf_puts(out, "</span></p>\n");
        return r < 0 ? r : graph_marks(g, col, out);
}

/* ---- rollouts ---- */

int64_t graph_status_rollout_eta(const GraphNode *n, const GraphPause *pause, int64_t now)
{
        int64_t start = n->has_start_epoch ? n->start_epoch : 0;

        if (pause && graph_pause_active(pause))
                return -1;
        if (graph_node_throttle(n, now) >= 1.0)
                return 0;
        if (!n->has_duration) /* never moves: reaches 1 only when its value is 1 and it has not started */
                return n->has_start_value && n->start_value >= 1.0 ? start : -1;
        return start + 60 * (int64_t)MIN(MAX(n->duration_minutes, (uint64_t)1), (uint64_t)INT64_C(1) << 40);
}

/* The node of the pause's own rollout (graph_pause_live()'s ramp), to plot it. */
static GraphNode pause_live_node(const GraphPause *p)
{
        return (GraphNode){ .rollout = true,
                            .has_start_epoch = true,
                            .start_epoch = p->start_epoch,
                            .has_start_value = true,
                            .start_value = p->start_value,
                            .has_duration = p->had_duration,
                            .duration_minutes = p->duration_minutes };
}

static void ramp_span(const GraphNode *n, int64_t now, int64_t *t0, int64_t *t1)
{
        int64_t start = n->has_start_epoch ? n->start_epoch : now - 3600;
        int64_t end = n->has_duration ? start + 60 * (int64_t)MIN(MAX(n->duration_minutes, (uint64_t)1),
                                                                  (uint64_t)INT64_C(1) << 40)
                                      : now + 3600;

        *t0 = MIN(*t0, MIN(start, now));
        *t1 = MAX(*t1, MAX(end, now + 60));
}

/* What the graph offered at t: the pause's own ramp before it (p NULL: none), frozen while paused, n's
 * ramp (the resumed one) after. */
static double effective_at(const GraphNode *n, const GraphPause *p, const GraphNode *live, int64_t t)
{
        if (!p)
                return graph_node_throttle(n, t);
        if (t < p->paused_at)
                return graph_node_throttle(live, t);
        if (graph_pause_active(p) || t < p->resumed_at)
                return p->frozen;
        return graph_node_throttle(n, t);
}

/* The effective ramp: a pause's own ramp before it was paused (before is NULL when none), n's after. */
static int ramp_line(const GraphNode *n, const GraphPause *before, int64_t t0, int64_t t1, const char *style,
                     Buf *out)
{
        GraphNode live = before ? pause_live_node(before) : (GraphNode){ 0 };
        int r = buf_printf(out, "<polyline fill=\"none\" %s points=\"", style);

        for (int i = 0; r >= 0 && i <= RAMP_SAMPLES; i++) {
                int64_t t = t0 + (int64_t)((double)(t1 - t0) * i / RAMP_SAMPLES);
                double v = effective_at(n, before, &live, t);
                v = isfinite(v) ? MIN(MAX(v, 0.0), 1.0) : 0.0;
                r = buf_printf(out, "%s%.1f,%.1f", i ? " " : "",
                               2.0 + (RAMP_W - 4) * (double)i / RAMP_SAMPLES,
                               2.0 + (RAMP_H - 4) * (1.0 - v));
        }
        return r < 0 ? r : buf_puts(out, "\"/>");
}

/* A small plot of the rollout's ramp: the effective throttle (solid), the metadata's own (dashed, when a
 * pause changed it), now (a vertical line). */
static int draw_ramp(const GraphNode *n, const GraphPause *p, int64_t now, Buf *out)
{
        GraphNode live = p && p->had_rollout ? pause_live_node(p) : (GraphNode){ 0 };
        int64_t t0 = now, t1 = now;
        int r;

        ramp_span(n, now, &t0, &t1);
        if (live.rollout)
                ramp_span(&live, now, &t0, &t1);
        r = buf_printf(out,
                       "<svg class=\"ramp\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                       "role=\"img\" aria-label=\"ramp\"><rect x=\"1\" y=\"1\" width=\"%d\" height=\"%d\" "
                       "fill=\"#f4f6fa\" stroke=\"#d4d8e0\"/>",
                       RAMP_W, RAMP_H, RAMP_W - 2, RAMP_H - 2);
        if (r >= 0 && live.rollout)
                r = ramp_line(&live, NULL, t0, t1, "stroke=\"#8a94a6\" stroke-dasharray=\"3 3\"", out);
        if (r >= 0)
                r = ramp_line(n, live.rollout ? p : NULL, t0, t1, "stroke=\"#d9822b\" stroke-width=\"2\"",
                              out);
        if (r >= 0) {
                double x = 2.0 + (RAMP_W - 4) * (double)(now - t0) / (double)MAX(t1 - t0, (int64_t)1);
                r = buf_printf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"2\" y2=\"%d\" stroke=\"#1d2330\"/>",
                               x, x, RAMP_H - 2);
        }
        if (r >= 0)
                r = buf_puts(out, "<title>");
        if (r >= 0) {
                char a[64], b[64];
                format_timestamp_utc(t0, a, sizeof(a));
                format_timestamp_utc(t1, b, sizeof(b));
                r = buf_printf(out, "%s to %s</title></svg>", a, b);
        }
        return r;
}

static int put_pause_cells(const GraphPause *p, Buf *out)
{
        char at[64];
        int r;

        if (!p)
                return buf_puts(out, "<td class=\"state running\">running</td><td class=\"reason\"></td>"
                                     "<td class=\"n frozen\"></td><td class=\"paused-at\"></td>");
        format_timestamp_utc(graph_pause_active(p) ? p->paused_at : p->resumed_at, at, sizeof(at));
        r = buf_printf(out, "<td class=\"state %s\">%s</td><td class=\"reason\">",
                       graph_pause_active(p) ? "paused" : "resumed",
                       graph_pause_active(p) ? "paused" : "resumed");
        if (r >= 0)
                r = put(out, p->reason);
        if (r >= 0)
                r = buf_printf(out, "</td><td class=\"n frozen\" data-value=\"%.6f\">", p->frozen);
        if (r >= 0)
                r = put_pct(out, p->frozen);
        if (r >= 0)
                r = buf_printf(out, "</td><td class=\"paused-at\" data-value=\"%lld\">%s %s</td>",
                               (long long)p->paused_at, graph_pause_active(p) ? "since" : "resumed", at);
        return r;
}

/* One row of the rollouts table: n is the release's node in the graph (NULL when it has none: a pause of
 * a release not in it), live and effective its percentages now. */
static int rollout_row(const GraphStatusSnapshot *s, const char *stream, const char *release,
                       const GraphNode *n, const GraphPause *p, int64_t now, Buf *out)
{
        GraphPolicy all = { .stream = (char *)stream };
        GraphPolicyTally t =
                s->counts ? graph_policy_tally(&all, s->counts, release) : (GraphPolicyTally){ 0 };
        double effective = n ? graph_node_throttle(n, now) : p ? graph_pause_live(p, now) : 0.0;
        double live = p ? graph_pause_live(p, now) : effective;
        int64_t eta = n ? graph_status_rollout_eta(n, p, now) : -1;
        char when[64];
        int r;

        r = buf_puts(out, "<tr class=\"rollout\" data-release=\"");
        if (r >= 0)
                r = put(out, release);
        if (r >= 0)
                r = buf_puts(out, "\"><td class=\"release\">");
        if (r >= 0)
                r = put(out, release);
        if (r >= 0 && !n)
                r = buf_puts(out, " <span class=\"muted\">(not in the graph)</span>");
        if (r >= 0)
                r = buf_printf(out, "</td><td class=\"n live\" data-value=\"%.6f\">", live);
        if (r >= 0)
                r = put_pct(out, live);
        if (r >= 0)
                r = buf_printf(out, "</td><td class=\"n effective\" data-value=\"%.6f\">", effective);
        if (r >= 0)
                r = put_pct(out, effective);
        format_timestamp_utc(eta, when, sizeof(when));
        if (r >= 0)
                r = buf_printf(out, "</td><td class=\"eta\" data-value=\"%lld\">%s</td><td>", (long long)eta,
                               eta < 0    ? (p && graph_pause_active(p) ? "paused" : "never")
                               : eta == 0 ? "done"
                                          : when);
        if (r >= 0 && n)
                r = draw_ramp(n, p, now, out);
        if (r >= 0)
                r = buf_puts(out, "</td>");
        if (r >= 0)
                r = put_pause_cells(p, out);
        if (r >= 0)
                r = buf_printf(out,
                               "<td class=\"n succeeded\">%llu</td><td class=\"n failed\">%llu</td></tr>\n",
                               (unsigned long long)t.succeeded, (unsigned long long)t.failed);
        return r;
}

static int rollouts_table(const GraphStatusSnapshot *s, const GraphStatusStream *st, int64_t now, Buf *out)
{
        const Graph *g = st->graph;
        size_t rows = 0, n_rollouts = g ? g->n_rollouts : 0;
        int r;

        r = buf_puts(out, "<h3>Rollouts</h3><table class=\"rollouts\"><tr><th>release</th><th>live</th>"
                          "<th>effective</th><th>ETA (100%)</th><th>ramp</th><th>state</th><th>why</th>"
                          "<th>frozen at</th><th>when</th><th>succeeded</th><th>failed</th></tr>\n");
        for (size_t k = 0; r >= 0 && k < n_rollouts && rows < GRAPH_STATUS_MAX_ROLLOUTS; k++, rows++) {
                const GraphNode *n = &g->nodes[g->rollouts[k]];
                r = rollout_row(s, st->name, n->version, n,
                                graph_pauses_find(s->pauses, s->n_pauses, st->name, n->version), now, out);
        }
        /* Pauses of releases that are not a rollout of the graph (not there yet, or offered to all). */
        for (size_t i = 0; r >= 0 && i < s->n_pauses && rows < GRAPH_STATUS_MAX_ROLLOUTS; i++) {
                const GraphPause *p = &s->pauses[i];
                bool listed = false;
                if (!streq(p->stream, st->name))
                        continue;
                for (size_t k = 0; k < n_rollouts && !listed; k++)
                        listed = streq(g->nodes[g->rollouts[k]].version, p->release);
                if (listed)
                        continue;
                r = rollout_row(s, st->name, p->release, NULL, p, now, out);
                rows++;
        }
        if (r >= 0)
                r = buf_puts(out, rows ? "</table>\n"
                                       : "<tr><td colspan=\"11\" class=\"muted\">no rollout in progress"
                                         "</td></tr></table>\n");
        return r;
}

/* ---- reports ---- */

static int report_row(const GraphReportCount *c, Buf *out)
{
        uint64_t total = 0, failed = 0;
        int r;

        for (int o = 0; o < _GRAPH_REPORT_OUTCOME_MAX; o++) {
                total += c->n[o];
                if (graph_report_outcome_is_failure((GraphReportOutcome)o))
                        failed += c->n[o];
        }
        r = buf_puts(out, "<tr class=\"report\" data-release=\"");
        if (r >= 0)
                r = put(out, c->release);
        if (r >= 0)
                r = buf_puts(out, "\" data-group=\"");
        if (r >= 0)
                r = put(out, c->group);
        if (r >= 0)
                r = buf_puts(out, "\"><td>");
        if (r >= 0)
                r = put(out, c->release);
        if (r >= 0)
                r = buf_puts(out, "</td><td>");
        if (r >= 0)
                r = put(out, c->group);
        if (r >= 0)
                r = buf_puts(out, "</td>");
        for (int o = 0; r >= 0 && o < _GRAPH_REPORT_OUTCOME_MAX; o++)
                r = buf_printf(out, "<td class=\"n %s\">%llu</td>", graph_report_outcome_to_string(o),
                               (unsigned long long)c->n[o]);
        if (r >= 0)
                r = buf_printf(out, "<td class=\"n%s\">", failed ? " bad" : "");
        if (r >= 0)
                r = total ? put_pct(out, (double)failed / (double)total) : buf_puts(out, "&ndash;");
        return r < 0 ? r : buf_puts(out, "</td></tr>\n");
}

static int reports_table(const GraphStatusSnapshot *s, const char *stream, Buf *out)
{
        size_t rows = 0, more = 0;
        int r;

        if (!s->reports_enabled)
                return buf_puts(out, "<h3>Reports</h3><p class=\"muted\">outcome reports are off "
                                     "(<code>[reports] enabled</code>)</p>\n");
        r = buf_puts(out, "<h3>Reports</h3><table class=\"reports\"><tr><th>release</th><th>group</th>");
        for (int o = 0; r >= 0 && o < _GRAPH_REPORT_OUTCOME_MAX; o++)
                r = buf_printf(out, "<th>%s</th>", graph_report_outcome_to_string(o));
        if (r >= 0)
                r = buf_puts(out, "<th>failed</th></tr>\n");
        for (size_t i = 0; r >= 0 && s->counts && i < s->counts->n; i++) {
                if (!streq(s->counts->items[i].stream, stream))
                        continue;
                if (rows >= GRAPH_STATUS_MAX_REPORT_ROWS) {
                        more++;
                        continue;
                }
                r = report_row(&s->counts->items[i], out);
                rows++;
        }
        if (r >= 0 && rows == 0)
                r = buf_printf(out, "<tr><td colspan=\"%d\" class=\"muted\">no reports yet</td></tr>",
                               _GRAPH_REPORT_OUTCOME_MAX + 3);
        if (r >= 0)
                r = buf_puts(out, "</table>\n");
        if (r >= 0 && more)
                r = buf_printf(out, "<p class=\"muted\">%zu more (release, group) rows not shown</p>\n",
                               more);
        return r;
}

/* ---- a stream ---- */

static int stream_section(const GraphStatusSnapshot *s, const GraphStatusStream *st, int64_t now, Buf *out)
{
        char at[64];
        int r;

        r = buf_puts(out, "<section class=\"stream\" data-stream=\"");
        if (r >= 0)
                r = put(out, st->name);
        if (r >= 0)
                r = buf_puts(out, "\"><h2>Stream ");
        if (r >= 0)
                r = put(out, st->name);
        if (r >= 0)
                r = buf_puts(out, "</h2><p class=\"muted\">");
        format_timestamp_utc(st->last_refresh, at, sizeof(at));
        if (r >= 0 && st->graph) {
                r = buf_puts(out, "graph of ");
                if (r >= 0)
                        r = put(out, st->basearch);
                if (r >= 0)
                        r = buf_printf(out, " (basearches served: %zu)", st->n_basearches);
        } else if (r >= 0)
                r = buf_puts(out, "<span class=\"bad\">no graph loaded yet</span>");
        if (r >= 0)
                r = buf_printf(out,
                               " &middot; last refresh %s &middot; %llu refreshes, <span%s>%llu "
                               "failed</span></p>\n",
                               st->last_refresh ? at : "never", (unsigned long long)st->refreshes,
                               st->refresh_failures ? " class=\"bad\"" : "",
                               (unsigned long long)st->refresh_failures);
        if (r >= 0 && st->graph)
                r = draw_graph(st->graph, out);
        if (r >= 0)
                r = rollouts_table(s, st, now, out);
        if (r >= 0)
                r = reports_table(s, st->name, out);
        return r < 0 ? r : buf_puts(out, "</section>\n");
}

/* ---- upkeep-lock ---- */

static int lock_group_row(const GraphStatusLockGroup *g, const GraphStatusLockView *v, int64_t now, Buf *out)
{
        int64_t late = v->fetched_at && now > v->fetched_at ? now - v->fetched_at : 0;
        char age[32];
        int r;

        r = buf_puts(out, "<tr class=\"lock-group\" data-group=\"");
        if (r >= 0)
                r = put(out, g->name);
        if (r >= 0)
                r = buf_puts(out, "\"><td>");
        if (r >= 0)
                r = put(out, g->name);
        if (r >= 0)
                r = buf_printf(
                        out,
                        "</td><td class=\"n holders-count\">%zu / %llu</td><td%s>%s</td><td>%s</td><td>",
                        g->n_holders + g->n_holders_dropped, (unsigned long long)g->slots,
                        g->paused ? " class=\"paused\"" : "", g->paused ? "paused" : "granting",
                        !g->window_configured ? "always"
                        : g->window_open      ? "open"
                                              : "closed");
        for (size_t i = 0; r >= 0 && i < g->n_holders; i++) {
                int64_t a = g->holders[i].age_secs + late;
                format_duration_short(a, age, sizeof(age));
                r = buf_puts(out, "<span class=\"holder\" data-id=\"");
                if (r >= 0)
                        r = put(out, g->holders[i].id);
                if (r >= 0)
                        r = buf_puts(out, "\">");
                if (r >= 0)
                        r = put(out, g->holders[i].id);
                if (r >= 0)
                        r = buf_printf(out,
                                       " <span class=\"age%s\" data-value=\"%lld\">(%s)</span></span><br>",
                                       g->max_hold_secs > 0 && a > g->max_hold_secs ? " bad" : "",
                                       (long long)a, age);
        }
        if (r >= 0 && g->n_holders_dropped)
                r = buf_printf(out, "and %zu more", g->n_holders_dropped);
        return r < 0 ? r : buf_puts(out, "</td></tr>\n");
}

static int lock_section(const GraphStatusLockView *v, int64_t now, Buf *out)
{
        char at[64];
        int r;

        r = buf_puts(out, "<section id=\"lock\"><h2>Reboot slots (upkeep-lock)</h2><p class=\"muted\">");
        if (r >= 0)
                r = put(out, v->url);
        if (r >= 0 && !v->available) {
                r = buf_puts(out, "</p><p class=\"warn\" id=\"lock-unavailable\">unavailable: ");
                if (r >= 0)
                        r = put(out, v->error ? v->error : "not fetched yet");
                return r < 0 ? r : buf_puts(out, "</p></section>\n");
        }
        format_timestamp_utc(v->fetched_at, at, sizeof(at));
        if (r >= 0)
                r = buf_printf(
                        out,
                        " &middot; fetched %s</p><table class=\"lock\"><tr><th>group</th>"
                        "<th>holders / slots</th><th>state</th><th>window</th><th>holders (age)</th></tr>\n",
                        at);
        for (size_t i = 0; r >= 0 && v->lock && i < v->lock->n_groups; i++)
                r = lock_group_row(&v->lock->groups[i], v, now, out);
        if (r >= 0)
                r = buf_puts(out, "</table>\n");
        if (r >= 0 && v->lock && v->lock->n_groups_dropped)
                r = buf_printf(out, "<p class=\"muted\">%zu more groups not shown</p>\n",
                               v->lock->n_groups_dropped);
        return r < 0 ? r : buf_puts(out, "</section>\n");
}

/* ---- the page ---- */

int graph_status_page_render(const GraphStatusSnapshot *s, int64_t now, Buf *out)
{
        size_t max, mark = 0;
        bool cut = false;
        int r;

        assert(s && out);
        max = out->max;
        if (max < out->len + PAGE_RESERVE * 2)
                return -ENOBUFS;
        out->max = max - PAGE_RESERVE;
        r = page_head(s, now, out);
        if (r < 0) {
                out->max = max;
                return r;
        }
        /* Whole sections: one that does not fit is dropped, and the page says where it was cut. */
        for (size_t i = 0; r >= 0 && i <= s->n_streams; i++) {
                mark = out->len;
                if (i < s->n_streams)
                        r = stream_section(s, &s->streams[i], now, out);
                else if (s->lock.configured)
                        r = lock_section(&s->lock, now, out);
                if (r == -ENOBUFS) {
                        buf_truncate(out, mark);
                        cut = true;
                        break;
                }
        }
        out->max = max;
        if (r < 0 && r != -ENOBUFS)
                return r;
        if (cut)
                r = buf_printf(out,
                               "<p class=\"warn\" id=\"truncated\">page cut at %zu bytes: the sections "
                               "below did not fit</p>\n",
                               mark);
        else
                r = 0;
        if (r >= 0)
                r = buf_puts(out,
                             "<p class=\"muted\">JSON: <a href=\"/v1/rollouts\">/v1/rollouts</a> &middot; "
                             "<a href=\"/metrics\">/metrics</a></p></body></html>\n");
        return r;
}

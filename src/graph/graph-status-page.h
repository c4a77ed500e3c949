/* graph-status-page.h — upkeep-graph's live status page (GET /status, docs/graph.md "Status page"):
 * one self-contained HTML document (inline CSS and SVG, no script, a meta refresh every 30 s) rendered
 * from a snapshot of the server's state: per stream the graph drawn, each rollout's live and effective
 * percentage, its ETA and a plot of its ramp, the reports per release and group, the pauses and why; and
 * the lock groups of upkeep-lock with their holders, when configured. Also the parser of upkeep-lock's
 * GET /v1/groups answer that feeds it. Pure: the caller gathers the snapshot and passes the time. Every
 * text from an input is cleaned (text_clean()) and HTML-escaped; every list drawn has a cap, and the page
 * as a whole too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "graph-policy.h"
#include "graph-report.h"
#include "graph.h"

#define GRAPH_STATUS_PAGE_MAX_BYTES (2u * 1024u * 1024u) /* the whole page */
#define GRAPH_STATUS_MAX_DRAWN_NODES 60                  /* the newest releases of a stream's graph */
#define GRAPH_STATUS_MAX_DRAWN_EDGES 2000
#define GRAPH_STATUS_MAX_ROLLOUTS 64     /* rows of a stream's rollouts table */
#define GRAPH_STATUS_MAX_REPORT_ROWS 200 /* (release, group) rows of a stream's reports table */
#define GRAPH_STATUS_MAX_TEXT 1024       /* bytes of one text from an input (longer ones are cut) */
#define GRAPH_STATUS_REFRESH_SECS 30     /* the page reloads itself (meta refresh) */

/* upkeep-lock's groups as its admin API (GET /v1/groups) described them. */
#define GRAPH_STATUS_LOCK_MAX_GROUPS 256
#define GRAPH_STATUS_LOCK_MAX_HOLDERS 256 /* per group */
#define GRAPH_STATUS_LOCK_MAX_NAME 256

typedef struct GraphStatusLockHolder {
        char id[GRAPH_STATUS_LOCK_MAX_NAME + 1];
        int64_t since;    /* unix seconds; 0 when unknown */
        int64_t age_secs; /* as upkeep-lock computed it when it answered */
} GraphStatusLockHolder;

typedef struct GraphStatusLockGroup {
        char name[GRAPH_STATUS_LOCK_MAX_NAME + 1];
        uint64_t slots;
        bool paused;
        bool window_configured, window_open;
        int64_t max_hold_secs;
        GraphStatusLockHolder *holders;
        size_t n_holders, n_holders_dropped; /* dropped: past GRAPH_STATUS_LOCK_MAX_HOLDERS */
} GraphStatusLockGroup;

typedef struct GraphStatusLock {
        GraphStatusLockGroup *groups;
        size_t n_groups, n_groups_dropped;
} GraphStatusLock;

/* Parses {"groups":[{"name","slots","holders":[{"id","since","age_secs"}],"paused","max_hold_secs",
 * "window":{"configured","open"}}…]}: members it does not know are ignored; wrong types are errors naming
 * the group and member. Texts are kept cleaned (text_clean()) and cut to GRAPH_STATUS_LOCK_MAX_NAME bytes.
 * Groups and holders past the caps are counted, not kept. */
/* 0, -ENOMEM, or -EINVAL with e naming what is wrong. */
int graph_status_lock_parse(const char *data, size_t len, GraphStatusLock *ret, Error *e);
void graph_status_lock_done(GraphStatusLock *l);

/* What the page shows of upkeep-lock. */
typedef struct GraphStatusLockView {
        bool configured;             /* [status] lock_admin_url is set; else the section is left out */
        const char *url;             /* the admin URL, shown */
        bool available;              /* the last fetch succeeded: lock is valid */
        const char *error;           /* why not, when !available (NULL: not fetched yet) */
        int64_t fetched_at;          /* when lock was fetched (unix seconds); 0 never */
        const GraphStatusLock *lock; /* when available */
} GraphStatusLockView;

/* One stream's state. graph is the graph the stream serves to the first basearch (checksum scheme), with
 * the pauses applied; NULL before its inputs first loaded. */
typedef struct GraphStatusStream {
        const char *name;
        const char *basearch; /* the graph's (NULL when graph is) */
        size_t n_basearches;
        const Graph *graph;
        int64_t last_refresh; /* unix seconds; 0 never */
        uint64_t refreshes, refresh_failures;
} GraphStatusStream;

typedef struct GraphStatusSnapshot {
        const GraphStatusStream *streams;
        size_t n_streams;
        int64_t started_at;              /* the server's start (unix seconds) */
        bool reports_enabled;            /* else counts and pauses are empty and the page says why */
        const GraphReportCounts *counts; /* may be NULL */
        const GraphPause *pauses;        /* every pause record (active and resumed) */
        size_t n_pauses;
        GraphStatusLockView lock;
} GraphStatusSnapshot;

/* When a rollout node reaches 1 (unix seconds): 0 when it is there already, -1 when never (paused, or a
 * ramp without duration stuck below 1). */
int64_t graph_status_rollout_eta(const GraphNode *n, const GraphPause *pause, int64_t now);

/* Renders the page for s at now (unix seconds) into out (whose cap should be GRAPH_STATUS_PAGE_MAX_BYTES
 * or more): a page that would not fit is cut after the last whole section, with a note saying so, and
 * stays well-formed. Returns 0, -ENOMEM, or -ENOBUFS when out cannot hold even the page's frame. */
int graph_status_page_render(const GraphStatusSnapshot *s, int64_t now, Buf *out);

/* Appends s's first len bytes, cleaned (text_clean(), at most GRAPH_STATUS_MAX_TEXT bytes) and
 * HTML-escaped (& < > " ' as entities), to out. */
int graph_status_put_text(Buf *out, const char *s, size_t len);

/* graph-manager.c — upkeep-graph's streams, sources, refreshes and event loop (see graph-manager.h). */
#include "graph-manager.h"

#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "fileio.h"
#include "graph-server.h"
#include "graph-status.h"
#include "log.h"
#include "source.h"
#include "strutil.h"
#include "strv.h"
#include "time-util.h"

#define GRAPH_CONNECT_TIMEOUT_MS 5000

static int64_t unix_now(void)
{
        return (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_SEC);
}

/* ---- refresh ---- */

static int refresh_stream(Manager *m, Stream *s, Error *e)
{
        _cleanup_free_ char *rdata = NULL, *udata = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        size_t rlen, ulen;
        int r;

        r = source_fetch(s->releases, m->client, m->config->max_document_bytes, &rdata, &rlen, e);
        if (r < 0)
                return r;
        r = source_fetch(s->updates, m->client, m->config->max_document_bytes, &udata, &ulen, e);
        if (r < 0)
                return r;
        r = stream_update(s, m->config->max_cached_answers, rdata, rlen, udata, ulen, &warnings, e);
        if (r <= 0)
                return r;
        for (char **w = warnings; w && *w; w++)
                log_warning("stream %s: %s: %s", s->cfg->name, s->updates, *w);

        StreamGraph *sg = stream_get(s);
        for (size_t a = 0; sg && a < sg->n_arches; a++) {
                const Graph *g = stream_graph_view(sg, a, GRAPH_SCHEME_CHECKSUM)->graph;
                if (g->n_nodes)
                        log_info("stream %s/%s: graph with %zu nodes, %zu edges, %zu rollouts", s->cfg->name,
                                 sg->basearches[a], g->n_nodes, g->n_edges, g->n_rollouts);
        }
        stream_graph_unref(sg);
        return 0;
}

void manager_refresh_all(Manager *m, bool only_dirty)
{
        for (size_t i = 0; i < m->streams.n_streams; i++) {
                Stream *s = m->streams.streams[i];
                Error e = { { 0 } };
                int r;

                if (only_dirty && !s->dirty)
                        continue;
                s->dirty = false;
                r = refresh_stream(m, s, &e);
                if (r < 0) {
                        __atomic_add_fetch(&s->refresh_failures, 1, __ATOMIC_RELAXED);
                        if (s->current)
                                log_error("stream %s: refresh failed, keeping the last good graph: %s",
                                          s->cfg->name, e.message);
                        else
                                log_error("stream %s: refresh failed, no graph to serve yet: %s",
                                          s->cfg->name, e.message);
                } else {
                        __atomic_add_fetch(&s->refreshes, 1, __ATOMIC_RELAXED);
                        __atomic_store_n(&s->last_refresh, unix_now(), __ATOMIC_RELAXED);
                }
        }
        /* parsing the inputs took several times their size; the graphs kept are small: give the rest
         * back to the system rather than keep the peak for the daemon's life */
        (void)malloc_trim(0);
        daemon_notifyf("STATUS=serving %zu of %zu streams; last refresh %lld",
                       graph_streams_ready(&m->streams), m->streams.n_streams, (long long)unix_now());
}

/* ---- pauses ---- */

/* Takes the store's pauses for every stream's next build; marks the streams stale when they changed. */
static void sync_pauses(Manager *m)
{
        GraphPause *p = NULL;
        size_t n = 0;
        bool same;

        if (!m->reports)
                return;
        if (graph_report_store_pauses(graph_report_service_store(m->reports), &p, &n) < 0) {
                log_error("cannot read the rollout pauses: out of memory");
                return;
        }
        same = n == m->n_pauses && (n == 0 || memcmp(p, m->pauses, n * sizeof(GraphPause)) == 0);
        free(m->pauses);
        m->pauses = p;
        m->n_pauses = n;
        for (size_t i = 0; i < m->streams.n_streams; i++) {
                Stream *s = m->streams.streams[i];
                s->stale = s->stale || !same;
                s->pauses = m->pauses;
                s->n_pauses = m->n_pauses;
        }
}

/* From the report service's thread (a policy tripped) or an admin call: wake the event loop. */
static void on_pauses_changed(void *userdata)
{
        Manager *m = userdata;
        uint64_t one = 1;

        (void)!write(m->pauses_fd, &one, sizeof(one));
}

static int on_pauses_fd(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        uint64_t n;

        (void)!read(fd, &n, sizeof(n));
        sync_pauses(m);
        log_info("rollout pauses changed: rebuilding the graphs");
        manager_refresh_all(m, false);
        return 0;
}

/* [reports] enabled: the service, its policies, the admin token and the pauses' wake-up. */
static int start_reports(Manager *m)
{
        Error e = { { 0 } };
        size_t len;
        int r;

        if (!m->config->reports_enabled) {
                if (m->config->n_policies > 0)
                        log_warning("[[policy]] needs [reports] enabled = true: no policy applies");
                return 0;
        }
        if (m->config->admin_token_file) {
                r = read_full_file(m->config->admin_token_file, 4096, &m->admin_token, &len);
                if (r < 0)
                        return log_error_errno(r, "cannot read %s: %m", m->config->admin_token_file);
                m->admin_token[strcspn(m->admin_token, "\r\n")] = 0;
                if (!*m->admin_token)
                        return log_error_errno(-EINVAL, "%s: empty admin token",
                                               m->config->admin_token_file);
        }
        m->pauses_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->pauses_fd < 0)
                return log_error_errno(-errno, "cannot create an eventfd: %m");
        r = sd_event_add_io(m->event, &m->pauses_source, m->pauses_fd, EPOLLIN, on_pauses_fd, m);
        if (r < 0)
                return log_error_errno(r, "cannot set up the event loop: %m");
        r = graph_report_service_new(m->config, &m->streams, on_pauses_changed, m, &m->reports, &e);
        if (r < 0)
                return log_error_errno(r, "cannot open the reports' store: %s", e.message);
        log_info("accepting outcome reports into %s%s, %zu policies, admin API %s",
                 m->config->reports_database, m->config->n_reports_tokens ? "" : " (no token required)",
                 m->config->n_policies, m->admin_token ? "on" : "off");
        sync_pauses(m);
        return 0;
}

static void on_sighup(void *userdata)
{
        Manager *m = userdata;

        log_info("SIGHUP: reloading the configuration and refreshing every stream");
        (void)manager_reload(m);
        manager_refresh_all(m, false);
}

/* ---- event sources ---- */

/* Every refresh_interval_secs on a fixed grid, as a periodic timerfd: a refresh that overruns a tick is
 * followed at once by one more, then the grid goes on. */
static int on_refresh_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        uint64_t interval = m->config->refresh_interval_secs * USEC_PER_SEC, next = usec + interval, now;
        int r;

        manager_refresh_all(m, false);
        now = now_usec(CLOCK_MONOTONIC);
        while (next + interval <= now)
                next += interval;
        r = sd_event_source_set_time(s, next);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                return log_error_errno(r, "cannot re-arm the refresh timer: %m");
        return 0;
}

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata)
{
        log_info("local input changed: refreshing");
        manager_refresh_all(userdata, true);
        return 0;
}

/* Marks the streams whose local inputs one inotify event names; returns whether any was. */
static bool mark_dirty(Manager *m, const struct inotify_event *ev)
{
        bool any = false;

        if (!ev->len)
                return false;
        for (size_t i = 0; i < m->streams.n_streams; i++) {
                Stream *s = m->streams.streams[i];
                const char *files[] = { s->releases, s->updates };
                for (size_t k = 0; k < ELEMENTSOF(files); k++) {
                        const char *base = strrchr(files[k], '/');
                        base = base ? base + 1 : files[k];
                        if (!source_is_url(files[k]) && streq(base, ev->name)) {
                                s->dirty = true;
                                any = true;
                        }
                }
        }
        return any;
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        Manager *m = userdata;
        bool any = false;
        ssize_t n;
        int r;

        while ((n = read(fd, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        any |= mark_dirty(m, ev);
                        p += sizeof(struct inotify_event) + ev->len;
                }
        if (!any)
                return 0;
        /* Let a burst of writes settle: every change pushes the refresh back. */
        if (m->settle_timer) {
                r = sd_event_source_set_time_relative(m->settle_timer, GRAPH_SETTLE_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->settle_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(m->event, &m->settle_timer, CLOCK_MONOTONIC,
                                               GRAPH_SETTLE_USEC, 1, on_settled, m);
        if (r < 0)
                log_warning_errno(r, "cannot schedule a refresh after a local change: %m");
        return 0;
}

/* Watches the directories of the local inputs (again after a reload: a directory watched already stays
 * watched once). */
static void watch_input_dirs(Manager *m)
{
        for (size_t i = 0; i < m->streams.n_streams; i++) {
                const char *files[] = { m->streams.streams[i]->releases, m->streams.streams[i]->updates };
                for (size_t k = 0; k < ELEMENTSOF(files); k++) {
                        _cleanup_free_ char *copy = NULL;
                        if (source_is_url(files[k]) || !(copy = strdup(files[k])))
                                continue;
                        if (inotify_add_watch(m->inotify_fd, dirname(copy),
                                              IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                                      IN_MOVED_FROM) < 0)
                                log_warning(
                                        "cannot watch %s for changes (%m); relying on the refresh interval",
                                        files[k]);
                }
        }
}

/* Without inotify, the refresh interval still works. */
static int watch_inputs(Manager *m)
{
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (m->inotify_fd < 0)
                return 0;
        watch_input_dirs(m);
        return sd_event_add_io(m->event, &m->inotify_source, m->inotify_fd, EPOLLIN, on_inotify, m);
}

/* ---- setup ---- */

static int resolve_source(const char *spec, const char *config_dir, char **ret)
{
        char buf[PATH_MAX];

        if (source_is_url(spec) || spec[0] == '/' || !config_dir)
                *ret = strdup(spec);
        else {
                if (snprintf(buf, sizeof(buf), "%s/%s", config_dir, spec) >= (int)sizeof(buf))
                        return -ENAMETOOLONG;
                *ret = strdup(buf);
        }
        return *ret ? 0 : -ENOMEM;
}

/* Reads the configuration; *ret_dir is the file's directory (relative inputs are read from there), NULL
 * for the built-in defaults. */
static int load_config(const char *path, bool explicit_path, GraphConfig **ret, char **ret_dir)
{
        _cleanup_free_ char *data = NULL, *copy = NULL, *dir = NULL;
        char **warnings = NULL;
        Error e = { { 0 } };
        size_t len;
        int r;

        r = daemon_read_config(path, explicit_path, &data, &len);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret_dir = NULL;
                return graph_config_default(ret);
        }
        if (!(copy = strdup(path)) || !(dir = strdup(dirname(copy))))
                return log_error_errno(-ENOMEM, "out of memory");
        r = graph_config_parse(data, len, path, ret, &warnings, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        daemon_log_warnings(warnings);
        *ret_dir = TAKE_PTR(dir);
        return 0;
}

static int apply_options(GraphConfig *c, const DaemonOptions *opt)
{
        if (opt->address) {
                char *a = strdup(opt->address);
                if (!a)
                        return -ENOMEM;
                free(c->address);
                c->address = a;
        }
        if (opt->port >= 0)
                c->port = (uint16_t)opt->port;
        return 0;
}

static int setup_streams(Manager *m, const char *config_dir)
{
        int r = graph_streams_init(&m->streams, m->config, unix_now());

        for (size_t i = 0; r >= 0 && i < m->streams.n_streams; i++) {
                Stream *s = m->streams.streams[i];
                if ((r = resolve_source(s->cfg->releases, config_dir, &s->releases)) >= 0)
                        r = resolve_source(s->cfg->updates, config_dir, &s->updates);
        }
        return r;
}

static int new_client(const GraphConfig *c, HttpClient **ret)
{
        HttpClientOptions copts = {
                .connect_timeout_ms = GRAPH_CONNECT_TIMEOUT_MS,
                .total_timeout_ms = c->fetch_timeout_secs * 1000,
                .max_body_bytes = c->max_document_bytes,
        };

        return http_client_new(&copts, ret);
}

/* ---- reload ---- */

static bool stream_settings_equal(const GraphStreamConfig *a, const GraphStreamConfig *b)
{
        if (!streq(a->releases, b->releases) || !streq(a->updates, b->updates) ||
            a->n_basearches != b->n_basearches)
                return false;
        for (size_t i = 0; i < a->n_basearches; i++)
                if (!streq(a->basearches[i], b->basearches[i]))
                        return false;
        return true;
}

/* Logs, by name, what a reload from old to new does to the streams. */
static void log_stream_changes(const GraphConfig *old, const GraphConfig *new)
{
        for (size_t i = 0; i < new->n_streams; i++) {
                const GraphStreamConfig *o = graph_config_find_stream(old, new->streams[i].name);
                if (!o)
                        log_info("reload: stream %s added", new->streams[i].name);
                else if (!stream_settings_equal(o, &new->streams[i]))
                        log_info("reload: stream %s: sources or basearches changed", o->name);
        }
        for (size_t i = 0; i < old->n_streams; i++)
                if (!graph_config_find_stream(new, old->streams[i].name))
                        log_info("reload: stream %s removed", old->streams[i].name);
}

/* The sources of every stream of c, resolved (2 per stream: releases, updates). */
static int resolve_sources(const GraphConfig *c, const char *config_dir, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < c->n_streams; i++) {
                char *rel = NULL, *upd = NULL;
                if ((r = resolve_source(c->streams[i].releases, config_dir, &rel)) >= 0 &&
                    (r = strv_push_owned(&l, &n, rel)) >= 0 &&
                    (r = resolve_source(c->streams[i].updates, config_dir, &upd)) >= 0)
                        r = strv_push_owned(&l, &n, upd);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Applies what can change in place; restart-only settings were set back to the running ones. */
static int apply_reload(Manager *m, GraphConfig *c, const char *config_dir)
{
        _cleanup_strv_free_ char **sources = NULL;
        HttpClient *client = NULL;
        int r;

        r = resolve_sources(c, config_dir, &sources);
        if (r >= 0 && (c->fetch_timeout_secs != m->config->fetch_timeout_secs ||
                       c->max_document_bytes != m->config->max_document_bytes))
                r = new_client(c, &client);
        if (r >= 0)
                r = graph_streams_reconfigure(&m->streams, c, sources,
                                              c->max_cached_answers != m->config->max_cached_answers);
        if (r < 0) {
                http_client_free(client);
                return r;
        }
        free(sources); /* the strings were taken over */
        sources = NULL;
        if (client) {
                http_client_free(m->client);
                m->client = client;
        }
        if (m->refresh_timer && c->refresh_interval_secs != m->config->refresh_interval_secs)
                r = sd_event_source_set_time_relative(m->refresh_timer,
                                                      c->refresh_interval_secs * USEC_PER_SEC);
        if (r < 0)
                log_warning_errno(r, "reload: cannot re-arm the refresh timer: %m");
        return 0;
}

int manager_reload(Manager *m)
{
        _cleanup_free_ char *config_dir = NULL;
        _cleanup_strv_free_ char **restart = NULL;
        GraphConfig *c = NULL;
        int r;

        r = load_config(m->opt.config_path, m->opt.explicit_config, &c, &config_dir);
        if (r < 0) {
                log_error("reload: the configuration does not load; nothing changed");
                return r;
        }
        if ((r = apply_options(c, &m->opt)) < 0 ||
            (r = graph_config_keep_restart_settings(m->config, c, &restart)) < 0) {
                graph_config_free(c);
                return log_error_errno(r, "reload: nothing changed: %m");
        }
        for (char **k = restart; k && *k; k++)
                log_warning("reload: %s needs a restart (systemctl restart upkeep-graph); the running value "
                            "stays",
                            *k);
        log_stream_changes(m->config, c);
        r = apply_reload(m, c, config_dir);
        if (r < 0) {
                graph_config_free(c);
                return log_error_errno(r, "reload: nothing changed: %m");
        }
        graph_config_free(m->config);
        m->config = c;
        if (m->reports && graph_report_service_set_policies(m->reports, c->policies, c->n_policies) < 0)
                log_error("reload: out of memory: the previous policies stay");
        sync_pauses(m); /* for the streams the reload added */
        if (m->inotify_fd >= 0)
                watch_input_dirs(m);
        log_info("reload: configuration applied, %zu streams", m->streams.n_streams);
        return 0;
}

int manager_new(const DaemonOptions *opt, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *config_dir = NULL;
        int r;

        assert(opt && ret);
        m = calloc(1, sizeof(*m));
        if (!m)
                return log_error_errno(-ENOMEM, "out of memory");
        m->inotify_fd = -EBADF;
        m->pauses_fd = -EBADF;
        m->opt = *opt;
        m->reload = (DaemonReload){ .fn = on_sighup, .userdata = m };
        r = daemon_event_new(&m->reload, &m->event);
        if (r < 0)
                return log_error_errno(r, "cannot set up the event loop: %m");
        r = load_config(opt->config_path, opt->explicit_config, &m->config, &config_dir);
        if (r < 0)
                return r;
        if ((r = apply_options(m->config, opt)) < 0 || (r = setup_streams(m, config_dir)) < 0)
                return log_error_errno(r, "cannot set up the streams: %m");
        r = new_client(m->config, &m->client);
        if (r < 0)
                return log_error_errno(r, "cannot set up the HTTP client: %m");
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        http_server_stop(m->server, 5000);
        graph_report_service_free(m->reports); /* after the server: it finishes the deferred replies */
        graph_status_fetcher_free(m->status);  /* after the server: pages read what it fetched */
        sd_event_source_unref(m->pauses_source);
        if (m->pauses_fd >= 0)
                close(m->pauses_fd);
        free(m->pauses);
        free(m->admin_token);
        sd_event_source_unref(m->refresh_timer);
        sd_event_source_unref(m->settle_timer);
        sd_event_source_unref(m->inotify_source);
        if (m->inotify_fd >= 0)
                close(m->inotify_fd);
        sd_event_unref(m->event);
        http_client_free(m->client);
        graph_streams_done(&m->streams);
        graph_config_free(m->config);
        free(m);
        return NULL;
}

int manager_check(Manager *m)
{
        manager_refresh_all(m, false);
        if (graph_streams_ready(&m->streams) < m->streams.n_streams)
                return -ENODATA;
        printf("configuration and inputs OK: %zu streams\n", m->streams.n_streams);
        return 0;
}

int manager_start(Manager *m, const char *port_file)
{
        Error e = { { 0 } }, warn = { { 0 } };
        uint64_t interval = m->config->refresh_interval_secs * USEC_PER_SEC;
        int r;

        r = start_reports(m);
        if (r < 0)
                return r;
        r = graph_status_fetcher_new(m->config, &m->status, &warn, &e);
        if (r < 0)
                return log_error_errno(r, "status page: %s", e.message);
        if (r > 0)
                log_warning("status page: %s", warn.message);
        m->service = (GraphService){ .streams = &m->streams,
                                     .reports = m->reports,
                                     .status = m->status,
                                     .admin_token = m->admin_token };
        r = graph_server_start(m->config, &m->service, &m->server, &e);
        if (r < 0)
                return log_error_errno(r, "cannot listen on [%s]:%u: %s", m->config->address,
                                       m->config->port, e.message);
        log_info("listening on [%s]:%u", m->config->address, http_server_port(m->server));
        if (port_file && (r = daemon_write_port_file(port_file, http_server_port(m->server))) < 0)
                return log_error_errno(r, "cannot write %s: %m", port_file);

        /* First load; requests meanwhile get 503 for streams not loaded yet. */
        manager_refresh_all(m, false);
        daemon_notifyf("READY=1");

        r = sd_event_add_time_relative(m->event, &m->refresh_timer, CLOCK_MONOTONIC, interval, 1,
                                       on_refresh_timer, m);
        if (r >= 0)
                r = watch_inputs(m);
        if (r < 0)
                return log_error_errno(r, "cannot set up the event loop: %m");
        return 0;
}

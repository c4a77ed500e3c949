/* lock-manager.c — upkeep-lock's state and what changes it: configuration generations and the group
 * states they share, the backend and its batchers, reloads and the expiry sweep (see lock-manager.h). */
#include "lock-manager.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd.h"
#include "fileio.h"
#include "lock-admin-token.h"
#include "log.h"
#include "strutil.h"
#include "time-util.h"
#include "tz-load.h"

/* How long an etcd group's writer thread may wait for the load's usual number of requests before a
 * compare-and-swap (lock-batch.h, "Gathering"; never longer than the last one took). Measured in
 * docs/PERFORMANCE.md: with 16 clients about 16 requests per compare-and-swap instead of 8, and more
 * throughput at lower latency. Off for SQLite, where an fsync is short next to a client's round trip and
 * it did not pay. */
#define ETCD_GATHER_MAX_USEC 1000

/* ---- configurations ---- */

static ConfigRef *config_ref_new(LockConfig *config)
{
        ConfigRef *c = calloc(1, sizeof(*c));

        if (!c) {
                lock_config_free(config);
                return NULL;
        }
        *c = (ConfigRef){ .config = config, .refs = 1 };
        return c;
}

static ConfigRef *config_ref(ConfigRef *c)
{
        c->refs++;
        return c;
}

static ConfigRef *config_unref(ConfigRef *c)
{
        if (c && --c->refs == 0) {
                lock_config_free(c->config);
                free(c);
        }
        return NULL;
}

static bool config_holds_tokens(const LockConfig *c)
{
        if (c->admin_token)
                return true;
        for (size_t i = 0; i < c->n_groups; i++)
                if (c->groups[i].n_client_tokens > 0)
                        return true;
        return false;
}

/* A configuration holding admin_token or client_tokens: refused when others may change it, a warning when
 * others may read it. */
static int check_config_secrets(const char *path, const LockConfig *c)
{
        _cleanup_close_ int fd = -EBADF;
        Error e = { { 0 } };
        int r;

        if (!config_holds_tokens(c))
                return 0;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "%s: %m", path);
        r = secret_file_check(fd, path, &e);
        if (r < 0)
                return log_error_errno(r, "admin_token or client_tokens: %s", e.message);
        if (r > 0)
                log_warning("admin_token or client_tokens: %s", e.message);
        return 0;
}

static int load_config(const char *path, bool explicit_path, LockConfig **ret)
{
        _cleanup_free_ char *data = NULL;
        LockConfig *c = NULL;
        char **warnings = NULL;
        Error e = { { 0 } };
        size_t len;
        int r;

        r = daemon_read_config(path, explicit_path, &data, &len);
        if (r < 0)
                return r;
        if (r == 0)
                return lock_config_default(ret);
        r = lock_config_parse(data, len, path, &c, &warnings, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        daemon_log_warnings(warnings);
        r = check_config_secrets(path, c);
        if (r < 0) {
                lock_config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* The command line's --address, --port and --sqlite win over the file, at start and at each reload. */
static int apply_overrides(LockConfig *c, const DaemonOptions *opt, const char *sqlite)
{
        if (opt->address) {
                free(c->address);
                if (!(c->address = strdup(opt->address)))
                        return log_error_errno(ENOMEM, "out of memory");
        }
        if (opt->port >= 0)
                c->port = (uint16_t)opt->port;
        if (sqlite) {
                free(c->sqlite_path);
                if (!(c->sqlite_path = strdup(sqlite)))
                        return log_error_errno(ENOMEM, "out of memory");
                c->backend = LOCK_BACKEND_SQLITE;
        }
        return 0;
}

/* The configuration as the command line says: the file, then the overrides. */
static int read_configuration(const DaemonOptions *opt, const char *sqlite, LockConfig **ret)
{
        LockConfig *c = NULL;
        int r;

        r = load_config(opt->config_path, opt->explicit_config, &c);
        if (r < 0)
                return r;
        r = apply_overrides(c, opt, sqlite);
        if (r < 0) {
                lock_config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* Reads the token in path ([auth] admin_token_file): refused when others may change it, a warning when
 * others may read it. */
static int read_secret(const char *path, char **ret)
{
        _cleanup_free_ char *data = NULL;
        Error warn = { { 0 } }, e = { { 0 } };
        size_t len;
        int r = read_secret_file(path, 4096, &data, &len, &warn, &e);

        if (r == -EFBIG)
                return log_error_errno(r, "%s: larger than 4 KiB", path);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        if (r > 0)
                log_warning("[auth] admin_token_file: %s", warn.message);
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
                data[--len] = 0;
        if (len == 0 || strlen(data) != len)
                return log_error_errno(EINVAL, "%s: the token must be one line of text", path);
        *ret = TAKE_PTR(data);
        return 0;
}

int manager_read_tls(const Manager *m, char **ret_cert, char **ret_key)
{
        const LockConfig *c = m->boot->config;
        const char *paths[2] = { c->tls_cert_path, c->tls_key_path };
        char *data[2] = { NULL, NULL };
        size_t n;

        for (size_t i = 0; i < 2; i++) {
                int r = read_full_file(paths[i], 1 << 20, &data[i], &n);
                if (r < 0) {
                        free(data[0]);
                        if (r == -EFBIG)
                                return log_error_errno(r, "cannot read the TLS %s %s: larger than 1 MiB",
                                                       i ? "key" : "certificate", paths[i]);
                        return log_error_errno(r, "cannot read the TLS %s %s: %m", i ? "key" : "certificate",
                                               paths[i]);
                }
        }
        *ret_cert = data[0];
        *ret_key = data[1];
        return 0;
}

/* ---- group states and their batchers ---- */

/* Gives a group's state its batcher: the backend's shared one, or its own. */
static int state_attach_batcher(Manager *m, GroupState *st)
{
        bool threads = m->boot->config->threads > 1;
        int r;

        if (st->batcher)
                return 0;
        if (m->shared_batcher) {
                st->batcher = lock_batcher_ref(m->shared_batcher);
                return 0;
        }
        r = lock_batcher_new(m->backend, LOCK_BATCH_MAX, &st->batcher);
        if (r < 0)
                return log_error_errno(r, "cannot set up request batching: %m");
        /* A lone event-loop thread must never wait for a write. */
        lock_batcher_set_write_inline(st->batcher, threads);
        if (lock_backend_can_batch(m->backend))
                m->shared_batcher = lock_batcher_ref(st->batcher);
        else /* a batcher per group: a round trip per write */
                lock_batcher_set_gather(st->batcher, ETCD_GATHER_MAX_USEC);
        return 0;
}

/* The state of a group name, found among the live ones or created (without a batcher before the backend
 * is set up), with one more generation referring to it. */
static GroupState *state_ref(Manager *m, const char *name)
{
        GroupState *st;

        for (st = m->states; st; st = st->next)
                if (streq(st->name, name)) {
                        st->refs++;
                        return st;
                }
        st = calloc(1, sizeof(*st));
        if (!st || !(st->name = strdup(name))) {
                free(st);
                return NULL;
        }
        if (m->backend && state_attach_batcher(m, st) < 0) {
                free(st->name);
                free(st);
                return NULL;
        }
        st->refs = 1;
        pthread_mutex_lock(&m->gen_lock);
        st->next = m->states;
        m->states = st;
        pthread_mutex_unlock(&m->gen_lock);
        return st;
}

/* Adds a batcher's counters to *sum. */
static void add_batch_stats(LockBatchStats *sum, LockBatcher *q)
{
        LockBatchStats one;

        lock_batcher_stats(q, &one);
        sum->writes += one.writes;
        sum->updates += one.updates;
        sum->gather_waits += one.gather_waits;
        sum->gather_timeouts += one.gather_timeouts;
}

void manager_batch_stats(Manager *m, LockBatchStats *ret)
{
        LockBatchStats sum;

        pthread_mutex_lock(&m->gen_lock);
        sum = m->freed;
        for (GroupState *st = m->states; st; st = st->next)
                if (st->batcher && st->batcher != m->shared_batcher)
                        add_batch_stats(&sum, st->batcher);
        pthread_mutex_unlock(&m->gen_lock);
        if (m->shared_batcher)
                add_batch_stats(&sum, m->shared_batcher);
        *ret = sum;
}

/* Main thread only: once no live generation names the group, nothing can submit to its batcher, and every
 * request it carried has been answered; dropping the last reference to a batcher joins its writer
 * thread. */
static void state_unref(Manager *m, GroupState *st)
{
        if (--st->refs > 0)
                return;
        pthread_mutex_lock(&m->gen_lock);
        for (GroupState **p = &m->states; *p; p = &(*p)->next)
                if (*p == st) {
                        *p = st->next;
                        break;
                }
        if (st->batcher && st->batcher != m->shared_batcher)
                add_batch_stats(&m->freed, st->batcher);
        pthread_mutex_unlock(&m->gen_lock);
        lock_batcher_unref(st->batcher);
        free(st->name);
        free(st);
}

/* ---- generations ---- */

Generation *generation_ref(Generation *g)
{
        __atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
        return g;
}

/* A retired generation is freed by the main thread (manager_collect_retired()). */
void generation_unref(Generation *g)
{
        if (g)
                __atomic_sub_fetch(&g->refs, 1, __ATOMIC_RELEASE);
}

Generation *manager_get_generation(Manager *m)
{
        Generation *g;

        pthread_mutex_lock(&m->gen_lock);
        g = generation_ref(m->gen);
        pthread_mutex_unlock(&m->gen_lock);
        return g;
}

Group *generation_find_group(Generation *gen, const char *name)
{
        for (size_t i = 0; i < gen->n_groups; i++)
                if (streq(gen->groups[i].cfg->name, name))
                        return &gen->groups[i];
        return NULL;
}

bool group_window_open(const Group *g, int64_t now)
{
        return !g->calendar || calendar_contains(g->calendar, g->tz, now);
}

static void generation_free(Manager *m, Generation *gen)
{
        if (!gen)
                return;
        for (size_t i = 0; gen->groups && i < gen->n_groups; i++) {
                calendar_free(gen->groups[i].calendar);
                tz_free(gen->groups[i].tz);
                if (gen->groups[i].st)
                        state_unref(m, gen->groups[i].st);
        }
        free(gen->groups);
        free(gen->admin_token);
        config_unref(gen->config);
        free(gen);
}

void manager_collect_retired(Manager *m)
{
        for (Generation **p = &m->retired; *p;) {
                Generation *gen = *p;
                if (__atomic_load_n(&gen->refs, __ATOMIC_ACQUIRE) == 0) {
                        *p = gen->next;
                        generation_free(m, gen);
                } else
                        p = &gen->next;
        }
}

/* Swaps gen in as the current generation; the old one is retired. */
static void manager_install(Manager *m, Generation *gen)
{
        Generation *old;

        pthread_mutex_lock(&m->gen_lock);
        old = m->gen;
        m->gen = gen;
        pthread_mutex_unlock(&m->gen_lock);
        if (!old)
                return;
        old->next = m->retired;
        m->retired = old;
        generation_unref(old);
        manager_collect_retired(m);
}

/* A group's maintenance windows, as a calendar in its time zone. */
static int setup_windows(Group *g)
{
        Error e = { { 0 } };
        int r;

        r = tz_load(g->cfg->time_zone, &g->tz, &e);
        if (r < 0)
                return log_error_errno(r, "group %s: time_zone: %s", g->cfg->name, e.message);
        g->calendar = calendar_new();
        if (!g->calendar)
                return log_error_errno(ENOMEM, "out of memory");
        for (size_t w = 0; w < g->cfg->n_windows; w++) {
                const LockWindowSpec *ws = &g->cfg->windows[w];
                int days[7], start, n_days = 0;
                for (size_t d = 0; ws->days[d]; d++) {
                        if (n_days == 7 || calendar_parse_day(ws->days[d], &days[n_days]) < 0)
                                return log_error_errno(EINVAL,
                                                       "line %u: group %s: window %zu: '%s' is not a "
                                                       "day of the week",
                                                       ws->line, g->cfg->name, w, ws->days[d]);
                        n_days++;
                }
                if (calendar_parse_time(ws->start_time, &start) < 0)
                        return log_error_errno(EINVAL,
                                               "line %u: group %s: window %zu: start_time '%s' is not "
                                               "HH:MM",
                                               ws->line, g->cfg->name, w, ws->start_time);
                r = calendar_add_window(g->calendar, days, (size_t)n_days, start, (int)ws->length_minutes,
                                        &e);
                if (r < 0)
                        return log_error_errno(r, "line %u: group %s: window %zu: %s", ws->line,
                                               g->cfg->name, w, e.message);
        }
        return 0;
}

/* The configured token, else the generated one: read from its file, which is written first when
 * m->generate_admin_token (a running daemon; not --check-config nor tests) and it does not exist yet. */
static int generation_admin_token(Manager *m, Generation *gen)
{
        const LockConfig *config = gen->config->config;
        _cleanup_free_ char *path = NULL;
        Error e = { { 0 } }, warn = { { 0 } };
        int r;

        if (config->admin_token_file)
                return read_secret(config->admin_token_file, &gen->admin_token);
        if (config->admin_token && !(gen->admin_token = strdup(config->admin_token)))
                return log_error_errno(ENOMEM, "out of memory");
        if (lock_config_generated_token_path(config, &path) < 0)
                return log_error_errno(ENOMEM, "out of memory");
        if (!path)
                return 0;
        r = admin_token_load_warn(path, m->generate_admin_token, &gen->admin_token, &warn, &e);
        if (warn.message[0])
                log_warning("generated admin token: %s", warn.message);
        if (r < 0) {
                /* The FleetLock service does not need it: it runs on, without the admin API. */
                log_warning_errno(r, "admin API off: %s", e.message);
                return r == -ENOMEM ? r : 0;
        }
        if (r > 0)
                log_notice("admin API on: generated its token in %s (sudo upkeep lock status reads it; "
                           "[auth] generate_admin_token = false turns this off)",
                           path);
        return 0;
}

int manager_generate_admin_token(Manager *m)
{
        _cleanup_free_ char *path = NULL;
        Generation *gen;

        assert(m);
        assert(!m->server);
        gen = m->gen;
        m->generate_admin_token = true;
        if (lock_config_generated_token_path(gen->config->config, &path) < 0)
                return log_error_errno(ENOMEM, "out of memory");
        if (!path || !gen->admin_token)
                return path ? generation_admin_token(m, gen) : 0;
        log_info("admin API on: its token is in %s", path);
        return 0;
}

/* A generation from a configuration (a new reference is taken): its groups with their windows and
 * states, its admin token (read from its file). Errors are logged; nothing of the manager's changes but
 * the states' list. */
static int generation_new(Manager *m, ConfigRef *config, Generation **ret)
{
        Generation *gen = calloc(1, sizeof(*gen));
        int r;

        if (!gen)
                return log_error_errno(ENOMEM, "out of memory");
        gen->config = config_ref(config);
        gen->refs = 1;
        gen->n_groups = config->config->n_groups;
        gen->groups = calloc(MAX(gen->n_groups, (size_t)1), sizeof(Group));
        if (!gen->groups) {
                r = log_error_errno(ENOMEM, "out of memory");
                goto fail;
        }
        for (size_t i = 0; i < gen->n_groups; i++) {
                Group *g = &gen->groups[i];

                g->cfg = &config->config->groups[i];
                if (g->cfg->n_windows && (r = setup_windows(g)) < 0)
                        goto fail;
                g->st = state_ref(m, g->cfg->name);
                if (!g->st) {
                        r = log_error_errno(ENOMEM, "group %s: cannot set up its state", g->cfg->name);
                        goto fail;
                }
        }
        r = generation_admin_token(m, gen);
        if (r < 0)
                goto fail;
        *ret = gen;
        return 0;
fail:
        generation_free(m, gen);
        return r;
}

/* ---- the manager ---- */

int manager_new(LockConfig *config, Manager **ret)
{
        static const double bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5 };
        _cleanup_(manager_freep) Manager *m = NULL;
        Generation *gen = NULL;
        int r;

        assert(config);
        assert(ret);
        m = calloc(1, sizeof(*m));
        if (!m) {
                lock_config_free(config);
                return log_error_errno(ENOMEM, "out of memory");
        }
        pthread_mutex_init(&m->gen_lock, NULL);
        m->started_at = now_unix();
        histogram_init(&m->latency, bounds, ELEMENTSOF(bounds));
        m->boot = config_ref_new(config);
        if (!m->boot)
                return log_error_errno(ENOMEM, "out of memory");
        r = generation_new(m, m->boot, &gen);
        if (r < 0)
                return r;
        manager_install(m, gen);
        *ret = TAKE_PTR(m);
        return 0;
}

int manager_load(const DaemonOptions *opt, const char *sqlite_override, Manager **ret)
{
        LockConfig *c = NULL;
        int r;

        assert(opt);
        r = read_configuration(opt, sqlite_override, &c);
        if (r < 0)
                return r;
        r = manager_new(c, ret);
        if (r < 0)
                return r;
        (*ret)->opt = opt;
        (*ret)->sqlite_override = sqlite_override;
        return 0;
}

int manager_set_backend(Manager *m, LockBackend *backend)
{
        assert(m);
        assert(backend);
        assert(!m->backend);
        m->backend = backend;
        log_info("backend: %s", m->backend->ops->name);
        for (GroupState *st = m->states; st; st = st->next) {
                int r = state_attach_batcher(m, st);
                if (r < 0)
                        return r;
        }
        return 0;
}

int manager_open_backend(Manager *m)
{
        const LockConfig *lc = m->boot->config;
        LockBackend *b = NULL;
        Error e = { { 0 } };
        int r;

        if (lc->backend == LOCK_BACKEND_SQLITE) {
                r = lock_backend_sqlite_new(lc->sqlite_path, &b, &e);
                if (r < 0)
                        return log_error_errno(r, "cannot open the SQLite backend: %s", e.message);
        } else {
                EtcdOptions eo = {
                        .endpoints = (const char *const *)lc->etcd_endpoints,
                        .n_endpoints = lc->n_etcd_endpoints,
                        .transaction_timeout_ms = lc->etcd_timeout_ms,
                        .ca_file = lc->etcd_ca_path && *lc->etcd_ca_path ? lc->etcd_ca_path : NULL,
                        .client_cert = lc->etcd_cert_path && *lc->etcd_cert_path ? lc->etcd_cert_path : NULL,
                        .client_key = lc->etcd_key_path && *lc->etcd_key_path ? lc->etcd_key_path : NULL,
                };
                r = lock_backend_etcd_new(&eo, &b, &e);
                if (r < 0)
                        return log_error_errno(r, "cannot set up the etcd3 backend: %s", e.message);
        }
        return manager_set_backend(m, b);
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        http_server_stop(m->server, 5000);
        http_server_stop(m->status_server, 1000);
        /* Generations still held by requests the server gave up waiting for are left to the exit. */
        if (m->gen) {
                generation_unref(m->gen);
                m->gen->next = m->retired;
                m->retired = m->gen;
                m->gen = NULL;
        }
        manager_collect_retired(m);
        if (m->retired)
                return NULL;
        lock_batcher_unref(m->shared_batcher);
        lock_backend_free(m->backend);
        config_unref(m->boot);
        pthread_mutex_destroy(&m->gen_lock);
        free(m);
        return NULL;
}

void manager_print_summary(const Manager *m)
{
        const LockConfig *c = m->boot->config;
        const Generation *gen = m->gen;
        _cleanup_free_ char *token_path = NULL;

        (void)lock_config_generated_token_path(c, &token_path);
        printf("configuration OK: listening on [%s]:%u%s, %u HTTP threads, admin API %s%s%s\n", c->address,
               c->port, c->tls ? " (TLS)" : "", c->threads, gen->admin_token || token_path ? "on" : "off",
               token_path ? ", token in " : "", token_path ?: "");
        if (c->backend == LOCK_BACKEND_SQLITE)
                printf("backend: sqlite, %s\n", c->sqlite_path);
        else {
                printf("backend: etcd3,");
                for (size_t i = 0; i < c->n_etcd_endpoints; i++)
                        printf(" %s", c->etcd_endpoints[i]);
                printf("\n");
        }
        for (size_t i = 0; i < gen->n_groups; i++) {
                const LockGroupConfig *g = gen->groups[i].cfg;
                printf("group %s: %llu slot%s", g->name, (unsigned long long)g->policy.slots,
                       g->policy.slots == 1 ? "" : "s");
                if (g->policy.max_hold_secs)
                        printf(", max hold %lld s", (long long)g->policy.max_hold_secs);
                if (g->policy.settle_secs)
                        printf(", settle %lld s", (long long)g->policy.settle_secs);
                if (g->n_windows)
                        printf(", %zu window%s (%s)", g->n_windows, g->n_windows == 1 ? "" : "s",
                               g->time_zone);
                if (g->policy.paused)
                        printf(", paused");
                if (g->n_client_tokens)
                        printf(", %zu client token%s", g->n_client_tokens,
                               g->n_client_tokens == 1 ? "" : "s");
                printf("\n");
        }
}

/* ---- requests, sweeps and reloads ---- */

void manager_count_backend_error(Manager *m)
{
        __atomic_add_fetch(&m->backend_errors, 1, __ATOMIC_RELAXED);
}

void manager_count_answer(Manager *m, FleetLockEndpoint endpoint, unsigned status, double t0)
{
        int i = lock_counted_code_index(status);

        if (i >= 0)
                __atomic_add_fetch(&m->requests[endpoint][i], 1, __ATOMIC_RELAXED);
        histogram_observe(&m->latency, now_seconds(CLOCK_MONOTONIC) - t0);
}

/* Holder ids come from the backend, which other clients of an etcd cluster write too: cleaned before they
 * are logged. */
void manager_log_expired(Group *g, const LockOp *op)
{
        for (size_t i = 0; i < op->n_expired; i++) {
                char id[SEMAPHORE_MAX_ID + 1];

                text_clean(id, sizeof id, op->expired[i], strlen(op->expired[i]), 0);
                log_warning("group %s: released %s, which held its slot longer than %lld s", g->cfg->name,
                            id, (long long)g->cfg->policy.max_hold_secs);
                __atomic_add_fetch(&g->st->counters.expirations, 1, __ATOMIC_RELAXED);
        }
}

int manager_run_op(Manager *m, Group *g, LockOp *op, Error *e)
{
        int r = lock_batcher_run(g->st->batcher, g->cfg->name, g->cfg->policy.slots, lock_op_apply, op, e);

        if (r < 0) {
                manager_count_backend_error(m);
                return r;
        }
        manager_log_expired(g, op);
        return 0;
}

void manager_sweep(Manager *m)
{
        Generation *gen = m->gen; /* only this thread replaces it */

        for (size_t i = 0; i < gen->n_groups; i++) {
                Group *g = &gen->groups[i];
                LockOp op = { .policy = &g->cfg->policy, .now = now_unix() };
                Error e = { { 0 } };

                if (!g->cfg->policy.max_hold_secs)
                        continue;
                if (manager_run_op(m, g, &op, &e) < 0) {
                        char msg[ERROR_MESSAGE_MAX]; /* it may quote what the backend answered */

                        text_clean(msg, sizeof msg, e.message, strlen(e.message), 0);
                        log_warning("group %s: expiry sweep failed: %s", g->cfg->name, msg);
                }
                lock_op_reset(&op);
        }
        manager_collect_retired(m);
}

/* Logs what a reload changes in the groups. */
static void log_group_changes(const Generation *old, const Generation *new)
{
        for (size_t i = 0; i < new->n_groups; i++) {
                const LockGroupConfig *n = new->groups[i].cfg,
                                      *o = lock_config_find_group(old->config->config, n->name);
                if (!o) {
                        log_info("reload: group %s added (%llu slots)", n->name,
                                 (unsigned long long)n->policy.slots);
                        continue;
                }
                if (o->policy.slots != n->policy.slots)
                        log_info("reload: group %s: slots %llu -> %llu", n->name,
                                 (unsigned long long)o->policy.slots, (unsigned long long)n->policy.slots);
                if (o->policy.paused != n->policy.paused)
                        log_info("reload: group %s: %s in the configuration", n->name,
                                 n->policy.paused ? "paused" : "no longer paused");
        }
        for (size_t i = 0; i < old->n_groups; i++)
                if (!lock_config_find_group(new->config->config, old->groups[i].cfg->name))
                        log_notice("reload: group %s removed: its requests now get unknown_group; what the "
                                   "backend stores for it stays",
                                   old->groups[i].cfg->name);
}

/* A generation from the configuration file as the command line says. Errors are logged. */
static int reload_generation(Manager *m, Generation **ret)
{
        LockConfig *c = NULL;
        ConfigRef *ref;
        int r;

        r = read_configuration(m->opt, m->sqlite_override, &c);
        if (r < 0)
                return r;
        ref = config_ref_new(c);
        if (!ref)
                return log_error_errno(ENOMEM, "out of memory");
        r = generation_new(m, ref, ret);
        config_unref(ref);
        return r;
}

void manager_reload(Manager *m)
{
        _cleanup_strv_free_ char **keys = NULL;
        Generation *gen = NULL;

        assert(m->opt);
        daemon_notifyf("RELOADING=1\nSTATUS=reloading the configuration");
        log_info("SIGHUP: reloading the configuration%s%s", m->opt->config_path ? " from " : "",
                 m->opt->config_path ?: "");
        if (reload_generation(m, &gen) < 0) {
                __atomic_add_fetch(&m->reloads[1], 1, __ATOMIC_RELAXED);
                __atomic_store_n(&m->last_reload_failed, true, __ATOMIC_RELAXED);
                log_error("reload failed: still running the previous configuration");
                daemon_notifyf("READY=1\nSTATUS=coordinating reboots for %zu groups (%s); the last reload "
                               "failed",
                               m->gen->n_groups, m->backend->ops->name);
                return;
        }
        if (lock_config_restart_keys(m->boot->config, gen->config->config, &keys) >= 0)
                for (size_t i = 0; keys && keys[i]; i++)
                        log_warning("reload: %s changed: it takes effect at the next start", keys[i]);
        log_group_changes(m->gen, gen);
        manager_install(m, gen);

        __atomic_add_fetch(&m->reloads[0], 1, __ATOMIC_RELAXED);
        __atomic_store_n(&m->last_reload_failed, false, __ATOMIC_RELAXED);
        log_info("configuration reloaded: %zu groups, admin API %s", gen->n_groups,
                 gen->admin_token ? "on" : "off");
        manager_sweep(m); /* a shorter max_hold_secs applies at once */
        daemon_notifyf("READY=1\nSTATUS=coordinating reboots for %zu groups (%s)", gen->n_groups,
                       m->backend->ops->name);
}

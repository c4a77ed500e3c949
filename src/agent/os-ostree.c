/* os-ostree.c — the OS layer over libostree (2022.7 as Debian ships it): status of a sysroot's
 * deployments, staging a commit as a non-default deployment marked in its origin file, and finalizing
 * it by making it the default boot entry (see os-backend.h for the roles and the contract). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ours first: GLib's MIN, MAX and CLAMP then replace macros.h's (same meaning). */
#include "macros.h"
#include "os-backend.h"

#include <gio/gio.h>
#include <ostree.h>

#define DEFAULT_REMOTE "origin"
#define DEFAULT_STREAM_KEY "fedora-coreos.stream"
#define MARKER_GROUP "upkeep"
#define MARKER_KEY "staged"

typedef struct OstreeBackend {
        OsBackend base;
        OstreeSysroot *sysroot;
        char *path;   /* for messages: the sysroot's path, "/" for the running system */
        char *osname; /* the OS whose deployments are managed; NULL when unknown (no deployment) */
        char *remote;
        char *stream_key;
        bool booted_system; /* libostree knows the booted deployment */
        /* Not booted: the deployment that was the default at open, by (osname, checksum, serial). */
        char *booted_osname, *booted_csum;
        int booted_serial;
} OstreeBackend;

/* Progress of the pulls of one stage, summed and kept monotonic. */
typedef struct PullProgress {
        OsProgressFn fn;
        void *userdata;
        OsProgress base; /* totals of the pulls finished before the current one */
        OsProgress last; /* what was last reported */
        bool reported;
} PullProgress;

static void sysroot_unlockp(OstreeSysroot **s)
{
        if (*s)
                ostree_sysroot_unlock(*s);
}

static void main_context_popp(GMainContext **c)
{
        if (*c) {
                g_main_context_pop_thread_default(*c);
                g_main_context_unref(*c);
        }
}

static int gerror_to_errno(const GError *err)
{
        if (err && err->domain == G_IO_ERROR)
                switch (err->code) {
                case G_IO_ERROR_NOT_FOUND:
                        return -ENOENT;
                case G_IO_ERROR_EXISTS:
                        return -EEXIST;
                case G_IO_ERROR_PERMISSION_DENIED:
                        return -EACCES;
                case G_IO_ERROR_NO_SPACE:
                        return -ENOSPC;
                case G_IO_ERROR_BUSY:
                        return -EBUSY;
                case G_IO_ERROR_TIMED_OUT:
                        return -ETIMEDOUT;
                case G_IO_ERROR_CANCELLED:
                        return -ECANCELED;
                default:
                        break;
                }
        if (err && err->domain == OSTREE_GPG_ERROR)
                return -EKEYREJECTED;
        return -EIO;
}

static const char *gmessage(const GError *err)
{
        return err && err->message ? err->message : "unknown error";
}

static OstreeBackend *backend_of(OsBackend *b)
{
        return (OstreeBackend *)b;
}

static bool has_marker(OstreeDeployment *d)
{
        GKeyFile *origin = ostree_deployment_get_origin(d);

        return origin && g_key_file_get_boolean(origin, MARKER_GROUP, MARKER_KEY, NULL);
}

static int reload(OstreeBackend *b, Error *e)
{
        g_autoptr(GError) err = NULL;

        if (!ostree_sysroot_load_if_changed(b->sysroot, NULL, NULL, &err))
                return error_setf(e, gerror_to_errno(err), "loading sysroot '%s': %s", b->path,
                                  gmessage(err));
        return 0;
}

/* The booted deployment among the loaded ones, NULL when unknown. */
static OstreeDeployment *find_booted(OstreeBackend *b, GPtrArray *deps)
{
        if (b->booted_system)
                return ostree_sysroot_get_booted_deployment(b->sysroot);
        if (!b->booted_csum)
                return NULL;
        for (guint i = 0; i < deps->len; i++) {
                OstreeDeployment *d = deps->pdata[i];
                if (ostree_deployment_get_deployserial(d) == b->booted_serial &&
                    streq(ostree_deployment_get_csum(d), b->booted_csum) &&
                    streq(ostree_deployment_get_osname(d), b->booted_osname))
                        return d;
        }
        return NULL;
}

/* The staged deployment of b->osname: the first marked one that is not booted, else NULL. */
static OstreeDeployment *find_staged(OstreeBackend *b, GPtrArray *deps, OstreeDeployment *booted)
{
        for (guint i = 0; i < deps->len; i++) {
                OstreeDeployment *d = deps->pdata[i];
                if (d != booted && has_marker(d) && streq_ptr(ostree_deployment_get_osname(d), b->osname))
                        return d;
        }
        return NULL;
}

/* A commit's "version" and stream metadata (NULL when absent) and its timestamp. Fails with err set when
 * the commit cannot be loaded. */
static int commit_info(OstreeRepo *repo, const char *csum, const char *stream_key, char **ret_version,
                       char **ret_stream, uint64_t *ret_timestamp, GError **err)
{
        g_autoptr(GVariant) commit = NULL;
        g_autoptr(GVariant) meta = NULL;
        g_autoptr(GVariant) version = NULL;
        g_autoptr(GVariant) stream = NULL;
        _cleanup_free_ char *v = NULL, *s = NULL;

        if (!ostree_repo_load_commit(repo, csum, &commit, NULL, err))
                return gerror_to_errno(*err);
        meta = g_variant_get_child_value(commit, 0);
        version = g_variant_lookup_value(meta, "version", G_VARIANT_TYPE_STRING);
        if (version && !(v = strdup(g_variant_get_string(version, NULL))))
                return -ENOMEM;
        if (stream_key) {
                stream = g_variant_lookup_value(meta, stream_key, G_VARIANT_TYPE_STRING);
                if (stream && !(s = strdup(g_variant_get_string(stream, NULL))))
                        return -ENOMEM;
        }
        *ret_version = TAKE_PTR(v);
        if (ret_stream)
                *ret_stream = TAKE_PTR(s);
        *ret_timestamp = ostree_commit_get_timestamp(commit);
        return 0;
}

static int fill_deployment(OstreeBackend *b, OstreeRepo *repo, OstreeDeployment *d, OsDeployment *ret)
{
        OsDeployment x = { .serial = ostree_deployment_get_deployserial(d) };
        g_autoptr(GError) err = NULL;
        int r;

        x.osname = strdup(ostree_deployment_get_osname(d));
        x.checksum = strdup(ostree_deployment_get_csum(d));
        if (!x.osname || !x.checksum) {
                free(x.osname);
                free(x.checksum);
                return -ENOMEM;
        }
        /* A deployment whose commit is missing from the repository is listed without metadata. */
        r = commit_info(repo, x.checksum, b->stream_key, &x.version, &x.stream, &x.timestamp, &err);
        if (r == -ENOMEM) {
                free(x.osname);
                free(x.checksum);
                return r;
        }
        *ret = x;
        return 0;
}

static int ostree_backend_status(OsBackend *base, OsStatus *ret, Error *e)
{
        OstreeBackend *b = backend_of(base);
        g_autoptr(GPtrArray) deps = NULL;
        OstreeDeployment *booted, *staged;
        OstreeRepo *repo;
        OsStatus s = { 0 };
        int r;

        r = reload(b, e);
        if (r < 0)
                return r;
        repo = ostree_sysroot_repo(b->sysroot);
        deps = ostree_sysroot_get_deployments(b->sysroot);
        booted = find_booted(b, deps);
        staged = find_staged(b, deps, booted);
        if (deps->len > 0) {
                s.deployments = calloc(deps->len, sizeof(OsDeployment));
                if (!s.deployments)
                        return error_setf(e, -ENOMEM, "status of sysroot '%s': out of memory", b->path);
        }
        for (guint i = 0; i < deps->len; i++) {
                OstreeDeployment *d = deps->pdata[i];
                r = fill_deployment(b, repo, d, &s.deployments[i]);
                if (r < 0) {
                        os_status_done(&s);
                        return error_setf(e, r, "status of sysroot '%s': out of memory", b->path);
                }
                s.n_deployments = i + 1;
                s.deployments[i].booted = d == booted;
                s.deployments[i].staged = d == staged;
        }
        os_status_assign_roles(&s);
        *ret = s;
        return 0;
}

static uint64_t progress_get(OstreeAsyncProgress *p, const char *key)
{
        g_autoptr(GVariant) v = ostree_async_progress_get_variant(p, key);

        if (!v)
                return 0;
        if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT64))
                return g_variant_get_uint64(v);
        if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT32))
                return g_variant_get_uint32(v);
        return 0;
}

static void progress_changed(OstreeAsyncProgress *p, gpointer userdata)
{
        PullProgress *pp = userdata;
        uint64_t local = progress_get(p, "metadata-fetched-localcache") +
                         progress_get(p, "content-fetched-localcache");
        OsProgress now = {
                .bytes_transferred = pp->base.bytes_transferred + progress_get(p, "bytes-transferred"),
                .objects_fetched = pp->base.objects_fetched + progress_get(p, "fetched") + local,
                .objects_requested = pp->base.objects_requested + progress_get(p, "requested") + local,
        };

        now.bytes_transferred = MAX(now.bytes_transferred, pp->last.bytes_transferred);
        now.objects_fetched = MAX(now.objects_fetched, pp->last.objects_fetched);
        now.objects_requested =
                MAX(MAX(now.objects_requested, pp->last.objects_requested), now.objects_fetched);
        if (pp->reported && memcmp(&now, &pp->last, sizeof(now)) == 0)
                return;
        pp->last = now;
        pp->reported = true;
        if (pp->fn)
                pp->fn(&now, pp->userdata);
}

/* Pulls commit csum (only its commit object and metadata with commit_only) from b->remote. */
static int pull(OstreeBackend *b, const char *csum, bool commit_only, PullProgress *pp, Error *e)
{
        g_autoptr(GError) err = NULL;
        g_autoptr(OstreeAsyncProgress) progress = NULL;
        g_autoptr(GVariant) options = NULL;
        GVariantBuilder builder;
        const char *refs[] = { csum, NULL };
        int flags =
                OSTREE_REPO_PULL_FLAGS_UNTRUSTED | (commit_only ? OSTREE_REPO_PULL_FLAGS_COMMIT_ONLY : 0);
        gboolean ok;

        g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&builder, "{s@v}", "refs",
                              g_variant_new_variant(g_variant_new_strv(refs, -1)));
        g_variant_builder_add(&builder, "{s@v}", "flags", g_variant_new_variant(g_variant_new_int32(flags)));
        options = g_variant_ref_sink(g_variant_builder_end(&builder));

        /* The progress object emits "changed" in the thread-default main context, which the pull
         * iterates: the caller pushed a private one. */
        progress = ostree_async_progress_new_and_connect(progress_changed, pp);
        ok = ostree_repo_pull_with_options(ostree_sysroot_repo(b->sysroot), b->remote, options, progress,
                                           NULL, &err);
        ostree_async_progress_finish(progress);
        progress_changed(progress, pp);
        pp->base = pp->last;
        if (!ok)
                return error_setf(e, gerror_to_errno(err), "pull of %.12s… from remote '%s': %s", csum,
                                  b->remote, gmessage(err));
        return 0;
}

/* -EBADMSG on a version mismatch, -EPERM on a refused downgrade, checked on the local commit. */
static int check_commit(OstreeBackend *b, const char *csum, const char *version, bool allow_downgrade,
                        OstreeDeployment *booted, Error *e)
{
        OstreeRepo *repo = ostree_sysroot_repo(b->sysroot);
        _cleanup_free_ char *v = NULL, *booted_v = NULL;
        uint64_t ts = 0, booted_ts = 0;
        g_autoptr(GError) err = NULL;
        int r;

        r = commit_info(repo, csum, NULL, &v, NULL, &ts, &err);
        if (r < 0)
                return error_setf(e, r, "loading commit %.12s…: %s", csum,
                                  r == -ENOMEM ? "out of memory" : gmessage(err));
        if (version && !streq_ptr(v, version))
                return error_setf(e, -EBADMSG, "commit %.12s… has version '%s', expected '%s'", csum,
                                  strna(v), version);
        if (!allow_downgrade) {
                /* A booted commit missing from the repository has no known age: nothing is older. */
                g_clear_error(&err);
                r = commit_info(repo, ostree_deployment_get_csum(booted), NULL, &booted_v, NULL, &booted_ts,
                                &err);
                if (r == -ENOMEM)
                        return error_setf(e, r, "loading commit %.12s…: out of memory", csum);
                if (ts < booted_ts)
                        return error_setf(
                                e, -EPERM,
                                "commit %.12s… (version %s) is older than the booted commit %.12s… "
                                "(version %s), and downgrades are not allowed",
                                csum, strna(v), ostree_deployment_get_csum(booted), strna(booted_v));
        }
        return 0;
}

/* A copy of d's origin (empty when it has none). */
static GKeyFile *origin_copy(OstreeDeployment *d)
{
        GKeyFile *from = ostree_deployment_get_origin(d);
        GKeyFile *origin = g_key_file_new();

        if (from) {
                g_autofree char *data = g_key_file_to_data(from, NULL, NULL);
                if (!g_key_file_load_from_data(origin, data, (gsize)-1, G_KEY_FILE_KEEP_COMMENTS, NULL)) {
                        g_key_file_unref(origin);
                        origin = g_key_file_new();
                }
        }
        return origin;
}

/* The booted deployment's origin, pinned to csum (override-commit, as `rpm-ostree deploy` does) and
 * marked staged. */
static GKeyFile *staged_origin(OstreeDeployment *booted, const char *csum)
{
        GKeyFile *origin = origin_copy(booted);

        ostree_deployment_origin_remove_transient_state(origin);
        if (!g_key_file_has_key(origin, "origin", "refspec", NULL))
                g_key_file_set_string(origin, "origin", "refspec", csum);
        g_key_file_set_string(origin, "origin", "override-commit", csum);
        g_key_file_set_boolean(origin, MARKER_GROUP, MARKER_KEY, TRUE);
        return origin;
}

/* A copy of d's origin with the marker set or removed. */
static GKeyFile *origin_with_marker(OstreeDeployment *d, bool marked)
{
        GKeyFile *origin = origin_copy(d);

        if (marked)
                g_key_file_set_boolean(origin, MARKER_GROUP, MARKER_KEY, TRUE);
        else
                (void)g_key_file_remove_group(origin, MARKER_GROUP, NULL);
        return origin;
}

/* deps with `staged` right after the booted one; other staged-marked deployments of the OS are dropped. */
static GPtrArray *list_with_staged(OstreeBackend *b, GPtrArray *deps, OstreeDeployment *booted,
                                   OstreeDeployment *staged)
{
        GPtrArray *list = g_ptr_array_new_with_free_func(g_object_unref);

        for (guint i = 0; i < deps->len; i++) {
                OstreeDeployment *d = deps->pdata[i];
                if (d == staged)
                        continue;
                if (d != booted && has_marker(d) && streq_ptr(ostree_deployment_get_osname(d), b->osname))
                        continue;
                g_ptr_array_add(list, g_object_ref(d));
                if (d == booted)
                        g_ptr_array_add(list, g_object_ref(staged));
        }
        return list;
}

static bool same_list(GPtrArray *a, GPtrArray *b)
{
        if (a->len != b->len)
                return false;
        for (guint i = 0; i < a->len; i++)
                if (a->pdata[i] != b->pdata[i])
                        return false;
        return true;
}

/* What ostree_sysroot_cleanup() does (old deployments and boot versions, then prune the repository of
 * what no deployment or ref reaches), without its message on stdout. */
static bool cleanup(OstreeBackend *b, GError **err)
{
        g_autoptr(GHashTable) reachable = ostree_repo_traverse_new_reachable();
        OstreeRepoPruneOptions opts = { .flags = OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY, .reachable = reachable };
        gint total = 0, pruned = 0;
        guint64 freed = 0;

        return ostree_sysroot_prepare_cleanup(b->sysroot, NULL, err) &&
               ostree_sysroot_cleanup_prune_repo(b->sysroot, &opts, &total, &pruned, &freed, NULL, err);
}

static int write_deployments(OstreeBackend *b, GPtrArray *list, const char *what, const char *csum, Error *e)
{
        OstreeSysrootWriteDeploymentsOpts opts = { .do_postclean = FALSE };
        g_autoptr(GError) err = NULL;

        if (!ostree_sysroot_write_deployments_with_options(b->sysroot, list, &opts, NULL, &err))
                return error_setf(e, gerror_to_errno(err),
                                  "%s of %.12s…: writing the deployments of '%s': %s", what, csum, b->path,
                                  gmessage(err));
        /* The boot entries are written, the operation is done: a cleanup that fails only leaves unused
         * files behind, which the next cleanup removes. */
        (void)cleanup(b, NULL);
        return 0;
}

static int lock_sysroot(OstreeBackend *b, const char *what, const char *csum, Error *e)
{
        g_autoptr(GError) err = NULL;
        gboolean acquired = FALSE;

        if (!ostree_sysroot_try_lock(b->sysroot, &acquired, &err))
                return error_setf(e, gerror_to_errno(err), "%s of %.12s…: locking sysroot '%s': %s", what,
                                  csum, b->path, gmessage(err));
        if (!acquired)
                return error_setf(e, -EBUSY, "%s of %.12s…: sysroot '%s' is locked by another process", what,
                                  csum, b->path);
        return 0;
}

/* Makes an existing, non-booted deployment of the commit the staged one (no download). */
static int stage_existing(OstreeBackend *b, GPtrArray *deps, OstreeDeployment *booted,
                          OstreeDeployment *existing, const char *csum, Error *e)
{
        g_autoptr(GPtrArray) list = list_with_staged(b, deps, booted, existing);
        g_autoptr(GError) err = NULL;
        int r;

        if (!same_list(list, deps)) {
                r = write_deployments(b, list, "stage", csum, e);
                if (r < 0)
                        return r;
        }
        if (!has_marker(existing)) {
                g_autoptr(GKeyFile) origin = origin_with_marker(existing, true);
                if (!ostree_sysroot_write_origin_file(b->sysroot, existing, origin, NULL, &err))
                        return error_setf(e, gerror_to_errno(err), "stage of %.12s…: writing its origin: %s",
                                          csum, gmessage(err));
        }
        return 0;
}

static int stage_new(OstreeBackend *b, GPtrArray *deps, OstreeDeployment *booted, const char *csum, Error *e)
{
        g_autoptr(GError) err = NULL;
        g_autoptr(GKeyFile) origin = staged_origin(booted, csum);
        g_autoptr(OstreeDeployment) nd = NULL;
        g_autoptr(GPtrArray) list = NULL;
        int r;

        if (!ostree_sysroot_deploy_tree(b->sysroot, b->osname, csum, origin, booted, NULL, &nd, NULL, &err))
                r = error_setf(e, gerror_to_errno(err), "deploy of %.12s…: %s", csum, gmessage(err));
        else {
                list = list_with_staged(b, deps, booted, nd);
                r = write_deployments(b, list, "stage", csum, e);
        }
        if (r < 0) {
                /* Removes the deployment directory that no boot entry refers to. */
                (void)cleanup(b, NULL);
        }
        return r;
}

/* Takes the sysroot lock (*locked is then set, for the caller's cleanup to release, even on a later
 * failure), reloads the sysroot, and returns its deployments and the booted one (may be NULL). */
static int begin_change(OstreeBackend *b, const char *what, const char *checksum, OstreeSysroot **locked,
                        GPtrArray **ret_deps, OstreeDeployment **ret_booted, Error *e)
{
        GPtrArray *deps;
        int r;

        r = lock_sysroot(b, what, checksum, e);
        if (r < 0)
                return r;
        *locked = b->sysroot;
        r = reload(b, e);
        if (r < 0)
                return r;
        deps = ostree_sysroot_get_deployments(b->sysroot);
        *ret_booted = find_booted(b, deps);
        *ret_deps = deps;
        return 0;
}

static int ostree_backend_stage(OsBackend *base, const char *checksum, const char *version,
                                bool allow_downgrade, OsProgressFn progress, void *userdata, Error *e)
{
        OstreeBackend *b = backend_of(base);
        _cleanup_(sysroot_unlockp) OstreeSysroot *locked = NULL;
        _cleanup_(main_context_popp) GMainContext *ctx = NULL;
        g_autoptr(GPtrArray) deps = NULL;
        OstreeDeployment *booted, *existing = NULL;
        PullProgress pp = { .fn = progress, .userdata = userdata };
        g_autoptr(GError) err = NULL;
        int r;

        r = begin_change(b, "stage", checksum, &locked, &deps, &booted, e);
        if (r < 0)
                return r;
        if (!booted)
                return error_setf(e, -ENOENT, "stage of %.12s…: no booted deployment in sysroot '%s'",
                                  checksum, b->path);
        if (streq(ostree_deployment_get_csum(booted), checksum))
                return error_setf(e, -EALREADY, "stage of %.12s…: that commit is booted", checksum);

        for (guint i = 0; i < deps->len && !existing; i++) {
                OstreeDeployment *d = deps->pdata[i];
                if (d != booted && streq(ostree_deployment_get_csum(d), checksum) &&
                    streq_ptr(ostree_deployment_get_osname(d), b->osname))
                        existing = d;
        }
        if (existing) {
                r = check_commit(b, checksum, version, allow_downgrade, booted, e);
                if (r < 0)
                        return r;
                return stage_existing(b, deps, booted, existing, checksum, e);
        }

        /* Remotes added or changed since the backend was opened. */
        if (!ostree_repo_reload_config(ostree_sysroot_repo(b->sysroot), NULL, &err))
                return error_setf(
                        e, gerror_to_errno(err),
                        "stage of %.12s…: reloading the repository configuration of sysroot '%s': %s",
                        checksum, b->path, gmessage(err));
        ctx = g_main_context_new();
        g_main_context_push_thread_default(ctx);
        r = pull(b, checksum, true, &pp, e);
        if (r < 0)
                return r;
        r = check_commit(b, checksum, version, allow_downgrade, booted, e);
        if (r < 0)
                return r;
        r = pull(b, checksum, false, &pp, e);
        if (r < 0)
                return r;
        return stage_new(b, deps, booted, checksum, e);
}

static int ostree_backend_finalize(OsBackend *base, const char *checksum, Error *e)
{
        OstreeBackend *b = backend_of(base);
        _cleanup_(sysroot_unlockp) OstreeSysroot *locked = NULL;
        g_autoptr(GPtrArray) deps = NULL;
        g_autoptr(GPtrArray) list = NULL;
        g_autoptr(GKeyFile) origin = NULL;
        g_autoptr(GError) err = NULL;
        OstreeDeployment *booted, *staged;
        int r;

        r = begin_change(b, "finalize", checksum, &locked, &deps, &booted, e);
        if (r < 0)
                return r;
        staged = find_staged(b, deps, booted);
        if (!staged || !streq(ostree_deployment_get_csum(staged), checksum))
                return error_setf(e, -ENOENT, "finalize of %.12s…: no staged deployment of that commit",
                                  checksum);

        /* The staged one first, the booted one as its rollback, other OSes' deployments kept. */
        list = g_ptr_array_new_with_free_func(g_object_unref);
        g_ptr_array_add(list, g_object_ref(staged));
        if (booted)
                g_ptr_array_add(list, g_object_ref(booted));
        for (guint i = 0; i < deps->len; i++) {
                OstreeDeployment *d = deps->pdata[i];
                if (d != staged && d != booted && !streq_ptr(ostree_deployment_get_osname(d), b->osname))
                        g_ptr_array_add(list, g_object_ref(d));
        }
        r = write_deployments(b, list, "finalize", checksum, e);
        if (r < 0)
                return r;

        /* Now the default: no longer staged (a marker left on a booted deployment is ignored). */
        origin = origin_with_marker(staged, false);
        if (!ostree_sysroot_write_origin_file(b->sysroot, staged, origin, NULL, &err))
                return error_setf(e, gerror_to_errno(err), "finalize of %.12s…: writing its origin: %s",
                                  checksum, gmessage(err));
        return 0;
}

/* The deployment of b->osname with commit csum that set-default may make the default: libostree's own
 * staged deployment is not one (it is finalized at shutdown, not made the default). */
static OstreeDeployment *find_commit(OstreeBackend *b, GPtrArray *deps, const char *csum)
{
        OstreeDeployment *own_staged = ostree_sysroot_get_staged_deployment(b->sysroot);

        for (guint i = 0; i < deps->len; i++) {
                OstreeDeployment *d = deps->pdata[i];
                if (d != own_staged && streq(ostree_deployment_get_csum(d), csum) &&
                    streq_ptr(ostree_deployment_get_osname(d), b->osname))
                        return d;
        }
        return NULL;
}

/* target first, then the others in their order, without the staged one. */
static GPtrArray *list_with_default(GPtrArray *deps, OstreeDeployment *target, OstreeDeployment *staged)
{
        GPtrArray *list = g_ptr_array_new_with_free_func(g_object_unref);

        g_ptr_array_add(list, g_object_ref(target));
        for (guint i = 0; i < deps->len; i++)
                if (deps->pdata[i] != target && deps->pdata[i] != staged)
                        g_ptr_array_add(list, g_object_ref(deps->pdata[i]));
        return list;
}

static int ostree_backend_set_default(OsBackend *base, const char *checksum, OsSetDefaultResult *ret,
                                      Error *e)
{
        OstreeBackend *b = backend_of(base);
        _cleanup_(sysroot_unlockp) OstreeSysroot *locked = NULL;
        g_autoptr(GPtrArray) deps = NULL;
        g_autoptr(GPtrArray) list = NULL;
        g_autoptr(GError) err = NULL;
        OstreeDeployment *booted, *staged, *target, *dflt = NULL;
        OsSetDefaultResult res = {};
        int r;

        r = begin_change(b, "set-default", checksum, &locked, &deps, &booted, e);
        if (r < 0)
                return r;
        staged = ostree_sysroot_get_staged_deployment(b->sysroot) ?: find_staged(b, deps, booted);
        target = find_commit(b, deps, checksum);
        if (!target)
                return error_setf(e, -ENOENT,
                                  "set-default of %.12s…: no deployment of that commit in sysroot '%s'",
                                  checksum, b->path);
        for (guint i = 0; i < deps->len && !dflt; i++)
                if (deps->pdata[i] != staged)
                        dflt = deps->pdata[i];
        res.changed = dflt != target;
        if (staged && staged != target)
                snprintf(res.dropped_staged, sizeof(res.dropped_staged), "%s",
                         ostree_deployment_get_csum(staged));
        if (res.changed || res.dropped_staged[0]) {
                list = list_with_default(deps, target, staged == target ? NULL : staged);
                r = write_deployments(b, list, "set-default", checksum, e);
                if (r < 0)
                        return r;
        }
        if (target == staged) { /* the staged one is now the default: no longer staged, as at finalize */
                g_autoptr(GKeyFile) origin = origin_with_marker(target, false);
                if (!ostree_sysroot_write_origin_file(b->sysroot, target, origin, NULL, &err))
                        return error_setf(e, gerror_to_errno(err),
                                          "set-default of %.12s…: writing its origin: %s", checksum,
                                          gmessage(err));
                res.changed = true;
        }
        *ret = res;
        return 0;
}

static void ostree_backend_free(OsBackend *base)
{
        OstreeBackend *b = backend_of(base);

        if (b->sysroot)
                g_object_unref(b->sysroot);
        free(b->path);
        free(b->osname);
        free(b->remote);
        free(b->stream_key);
        free(b->booted_osname);
        free(b->booted_csum);
        free(b);
}

static const OsBackendOps ostree_ops = {
        .status = ostree_backend_status,
        .stage = ostree_backend_stage,
        .finalize = ostree_backend_finalize,
        .set_default = ostree_backend_set_default,
        .free = ostree_backend_free,
        .finalize_reboots = false,
};

static int dup_or(const char *s, const char *dflt, char **ret)
{
        if (!s && !dflt) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s ? s : dflt);
        return *ret ? 0 : -ENOMEM;
}

int os_backend_ostree_open(const OsBackendOptions *o, OsBackend **ret, Error *e)
{
        g_autoptr(GError) err = NULL;
        g_autoptr(GPtrArray) deps = NULL;
        OstreeDeployment *booted;
        bool running = !o->sysroot || streq(o->sysroot, "/");
        OstreeBackend *b;

        b = calloc(1, sizeof(*b));
        if (!b)
                return error_setf(e, -ENOMEM, "opening sysroot: out of memory");
        b->base = (OsBackend){ .ops = &ostree_ops, .kind = OS_BACKEND_OSTREE };
        b->booted_serial = -1;
        if (dup_or(o->sysroot, "/", &b->path) < 0 || dup_or(o->remote, DEFAULT_REMOTE, &b->remote) < 0 ||
            dup_or(o->stream_metadata_key, DEFAULT_STREAM_KEY, &b->stream_key) < 0 ||
            dup_or(o->osname, NULL, &b->osname) < 0) {
                ostree_backend_free(&b->base);
                return error_setf(e, -ENOMEM, "opening sysroot: out of memory");
        }

        if (running) {
                b->sysroot = ostree_sysroot_new_default();
                if (!ostree_sysroot_initialize_with_mount_namespace(b->sysroot, NULL, &err)) {
                        int r = error_setf(e, gerror_to_errno(err), "opening sysroot '/': %s",
                                           gmessage(err));
                        ostree_backend_free(&b->base);
                        return r;
                }
        } else {
                g_autoptr(GFile) path = g_file_new_for_path(o->sysroot);
                b->sysroot = ostree_sysroot_new(path);
        }
        if (!ostree_sysroot_load(b->sysroot, NULL, &err)) {
                int r = error_setf(e, gerror_to_errno(err), "loading sysroot '%s': %s", b->path,
                                   gmessage(err));
                ostree_backend_free(&b->base);
                return r;
        }

        deps = ostree_sysroot_get_deployments(b->sysroot);
        booted = ostree_sysroot_get_booted_deployment(b->sysroot);
        if (booted)
                b->booted_system = true;
        else if (o->booted_checksum && o->booted_osname) {
                b->booted_serial = o->booted_serial;
                if (dup_or(o->booted_osname, NULL, &b->booted_osname) < 0 ||
                    dup_or(o->booted_checksum, NULL, &b->booted_csum) < 0 ||
                    (!b->osname && dup_or(o->booted_osname, NULL, &b->osname) < 0)) {
                        ostree_backend_free(&b->base);
                        return error_setf(e, -ENOMEM, "opening sysroot: out of memory");
                }
        } else if (deps->len > 0) {
                booted = deps->pdata[0];
                b->booted_serial = ostree_deployment_get_deployserial(booted);
                if (dup_or(ostree_deployment_get_osname(booted), NULL, &b->booted_osname) < 0 ||
                    dup_or(ostree_deployment_get_csum(booted), NULL, &b->booted_csum) < 0) {
                        ostree_backend_free(&b->base);
                        return error_setf(e, -ENOMEM, "opening sysroot: out of memory");
                }
        }
        if (!b->osname && booted && dup_or(ostree_deployment_get_osname(booted), NULL, &b->osname) < 0) {
                ostree_backend_free(&b->base);
                return error_setf(e, -ENOMEM, "opening sysroot: out of memory");
        }
        *ret = &b->base;
        return 0;
}

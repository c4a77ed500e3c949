/* os-rpmostree.c — the OS layer over the rpm-ostree command, as Zincati drives it on Fedora CoreOS:
 * `status --json` for the deployments, `deploy --lock-finalization` to stage (a commit by revision, a
 * container image by digest), `finalize-deployment` to finalize and reboot (see os-backend.h and the spec's
 * "Driving rpm-ostree"). Commands run without a shell (posix_spawn), with RPMOSTREE_CLIENT_ID set, stdout
 * captured up to 4 MiB, the end of stderr kept for the error message, and a timeout that kills the command's
 * process group. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "macros.h"
#include "os-backend.h"
#include "strutil.h"
#include "time-util.h"

extern char **environ;

#define DEFAULT_PATH "rpm-ostree"
#define DEFAULT_CLIENT_ID "upkeep-agent"
#define DEFAULT_TIMEOUT_SEC 3600U
#define STDOUT_MAX RPMOSTREE_STATUS_MAX_BYTES
#define STDERR_KEEP 4096      /* the end of stderr kept while the command runs */
#define STDERR_TAIL_LINES 3   /* lines of it quoted in an error message */
#define STDERR_TAIL_CHARS 240 /* at most that many characters */
#define COMMAND_DESC_MAX 200  /* the command as named in error messages */
#define CLIENT_ID_MAX 128

typedef struct RpmOstreeBackend {
        OsBackend base;
        char *path;
        char *client_id;
        char *stream_key;
        unsigned timeout_sec;
} RpmOstreeBackend;

/* What a finished command left. */
typedef struct CommandResult {
        char *out; /* stdout, NUL-terminated */
        size_t out_len;
        char err[STDERR_KEEP]; /* the end of stderr */
        size_t err_len;
        int status; /* waitpid() status */
} CommandResult;

static RpmOstreeBackend *backend_of(OsBackend *b)
{
        return (RpmOstreeBackend *)b;
}

static int close_fd(int fd)
{
        if (fd >= 0)
                close(fd);
        return -EBADF;
}

static void command_result_done(CommandResult *c)
{
        free(c->out);
        c->out = NULL;
}

/* "rpm-ostree deploy ..." for messages, the arguments after argv[0] quoted when empty. */
static void describe(char *const *argv, char *buf, size_t size)
{
        size_t n = (size_t)snprintf(buf, size, "rpm-ostree");

        for (size_t i = 1; argv[i] && n < size; i++)
                n += (size_t)snprintf(buf + n, size - n, argv[i][0] ? " %s" : " \"%s\"", argv[i]);
}

/* The last lines of stderr on one line, control characters replaced, at most STDERR_TAIL_CHARS. */
static void stderr_tail(const CommandResult *c, char *buf, size_t size)
{
        size_t end = c->err_len, start, lines = 0, o = 0;

        while (end > 0 && (c->err[end - 1] == '\n' || c->err[end - 1] == ' ' || c->err[end - 1] == '\r' ||
                           c->err[end - 1] == '\t'))
                end--;
        for (start = end; start > 0; start--)
                if (c->err[start - 1] == '\n' && ++lines == STDERR_TAIL_LINES)
                        break;
        if (end - start > STDERR_TAIL_CHARS)
                start = end - STDERR_TAIL_CHARS;
        for (size_t i = start; i < end && o + 3 < size; i++) {
                unsigned char ch = (unsigned char)c->err[i];
                if (ch == '\n') {
                        buf[o++] = ';';
                        buf[o++] = ' ';
                } else
                        buf[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
        }
        buf[o] = 0;
        if (o == 0)
                snprintf(buf, size, "(no error output)");
}

static void keep_stderr(CommandResult *c, const char *p, size_t n)
{
        if (n >= sizeof(c->err)) {
                memcpy(c->err, p + n - sizeof(c->err), sizeof(c->err));
                c->err_len = sizeof(c->err);
                return;
        }
        if (c->err_len + n > sizeof(c->err)) {
                size_t drop = c->err_len + n - sizeof(c->err);
                memmove(c->err, c->err + drop, c->err_len - drop);
                c->err_len -= drop;
        }
        memcpy(c->err + c->err_len, p, n);
        c->err_len += n;
}

/* environ without RPMOSTREE_CLIENT_ID, then RPMOSTREE_CLIENT_ID=<client_id>. */
static char **make_env(const char *client_id, char **ret_var)
{
        size_t n = 0, k = 0;
        char **env;
        char *var;

        for (char **p = environ; p && *p; p++)
                n++;
        env = calloc(n + 2, sizeof(char *));
        if (!env)
                return NULL;
        if (asprintf(&var, "RPMOSTREE_CLIENT_ID=%s", client_id) < 0) {
                free(env);
                return NULL;
        }
        for (char **p = environ; p && *p; p++)
                if (!startswith(*p, "RPMOSTREE_CLIENT_ID="))
                        env[k++] = *p;
        env[k] = var;
        *ret_var = var;
        return env;
}

static void kill_and_reap(pid_t pid, int *ret_status)
{
        int status = 0;

        (void)kill(-pid, SIGKILL);
        (void)kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (ret_status)
                *ret_status = status;
}

/* Starts argv (argv[0] is the executable, searched on PATH when it has no '/') with env, stdin from
 * /dev/null and stdout and stderr on pipes, whose read ends are *ret_out and *ret_err. */
static int spawn_command(char *const *argv, char **env, const char *desc, pid_t *ret_pid, int *ret_out,
                         int *ret_err, Error *e)
{
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return error_setf(e, negative_errno(), "%s: pipe: %m", desc);
        out_r = fds[0];
        out_w = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return error_setf(e, negative_errno(), "%s: pipe: %m", desc);
        err_r = fds[0];
        err_w = fds[1];

        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return error_setf(e, -r, "%s: posix_spawn_file_actions_init: %m", desc);
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return error_setf(e, -r, "%s: posix_spawnattr_init: %m", desc);
        }
        sigemptyset(&none);
        sigfillset(&all);
        /* stdin from /dev/null, the pipes as stdout and stderr, nothing else inherited; an own process
         * group (killed as a whole on timeout), default signal dispositions and no blocked signals (the
         * daemons block theirs for their event loop). */
        if ((r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO)) != 0 ||
            (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
            (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                         POSIX_SPAWN_SETSIGDEF)) != 0 ||
            (r = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
            (r = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
            (r = posix_spawnattr_setsigdefault(&attr, &all)) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                posix_spawnattr_destroy(&attr);
                return error_setf(e, -r, "%s: preparing to run: %m", desc);
        }
        if (strchr(argv[0], '/'))
                r = posix_spawn(ret_pid, argv[0], &fa, &attr, argv, env);
        else
                r = posix_spawnp(ret_pid, argv[0], &fa, &attr, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return error_setf(e, -r, "%s: cannot run '%s': %m", desc, argv[0]);
        *ret_out = TAKE_FD(out_r);
        *ret_err = TAKE_FD(err_r);
        return 0;
}

/* Reads stdout into out and keeps the tail of stderr in res until both pipes close. On a timeout, a poll
 * error or too much output the command is killed and reaped and an error returned. */
static int collect_output(RpmOstreeBackend *b, const char *desc, pid_t pid, int *out_r, int *err_r, Buf *out,
                          CommandResult *res, Error *e)
{
        uint64_t deadline = now_msec(CLOCK_MONOTONIC) + (uint64_t)b->timeout_sec * MSEC_PER_SEC;
        char tail[STDERR_TAIL_CHARS + 64];
        int r;

        while (*out_r >= 0 || *err_r >= 0) {
                struct pollfd p[2] = { { .fd = *out_r, .events = POLLIN },
                                       { .fd = *err_r, .events = POLLIN } };
                uint64_t now = now_msec(CLOCK_MONOTONIC);
                char chunk[65536];

                if (now >= deadline) {
                        kill_and_reap(pid, NULL);
                        stderr_tail(res, tail, sizeof(tail));
                        return error_setf(e, -ETIMEDOUT, "%s: timed out after %u s, killed: %s", desc,
                                          b->timeout_sec, tail);
                }
                r = poll(p, 2, (int)MIN(deadline - now, (uint64_t)60000));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        kill_and_reap(pid, NULL);
                        return error_setf(e, r, "%s: poll: %m", desc);
                }
                for (size_t i = 0; i < 2; i++) {
                        int *fd = i == 0 ? out_r : err_r;
                        ssize_t n;

                        if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        n = read(*fd, chunk, sizeof(chunk));
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0) {
                                *fd = close_fd(*fd);
                                continue;
                        }
                        if (i == 1) {
                                keep_stderr(res, chunk, (size_t)n);
                                continue;
                        }
                        if (buf_append(out, chunk, (size_t)n) < 0) {
                                kill_and_reap(pid, NULL);
                                return error_setf(e, -EFBIG, "%s: output larger than %u bytes, killed", desc,
                                                  (unsigned)STDOUT_MAX);
                        }
                }
        }
        return 0;
}

/* Runs argv (argv[0] is the executable, searched on PATH when it has no '/'), stdin from /dev/null.
 * 0 when it exited with status 0; the result is filled in any case once the command started. */
static int run(RpmOstreeBackend *b, char *const *argv, CommandResult *res, Error *e)
{
        char desc[COMMAND_DESC_MAX + 1], tail[STDERR_TAIL_CHARS + 64];
        _cleanup_close_ int out_r = -EBADF, err_r = -EBADF;
        _cleanup_free_ char **env = NULL;
        _cleanup_free_ char *env_var = NULL;
        Buf out = BUF_INIT(STDOUT_MAX);
        pid_t pid;
        int r, status;

        *res = (CommandResult){ 0 };
        describe(argv, desc, sizeof(desc));
        env = make_env(b->client_id, &env_var);
        if (!env)
                return error_setf(e, -ENOMEM, "%s: out of memory", desc);
        r = spawn_command(argv, env, desc, &pid, &out_r, &err_r, e);
        if (r < 0)
                return r;
        r = collect_output(b, desc, pid, &out_r, &err_r, &out, res, e);
        if (r < 0) {
                buf_free(&out);
                return r;
        }
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        r = negative_errno();
                        buf_free(&out);
                        return error_setf(e, r, "%s: waitpid: %m", desc);
                }
        }
        res->status = status;
        res->out = buf_steal(&out, &res->out_len);
        if (!res->out)
                return error_setf(e, -ENOMEM, "%s: out of memory", desc);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        stderr_tail(res, tail, sizeof(tail));
        if (WIFEXITED(status))
                return error_setf(e, -EIO, "%s: exited with status %d: %s", desc, WEXITSTATUS(status), tail);
        return error_setf(e, -EIO, "%s: killed by signal %d: %s", desc,
                          WIFSIGNALED(status) ? WTERMSIG(status) : 0, tail);
}

static int run_status(RpmOstreeBackend *b, OsStatus *ret, Error *e)
{
        char *argv[] = { b->path, (char *)"status", (char *)"--json", NULL };
        CommandResult res;
        int r;

        r = run(b, argv, &res, e);
        if (r >= 0) {
                r = rpmostree_parse_status(res.out, res.out_len, b->stream_key, ret, e);
                if (r < 0)
                        error_prefixf(e, r, "rpm-ostree status --json");
        }
        command_result_done(&res);
        return r;
}

static int rpmostree_backend_status(OsBackend *base, OsStatus *ret, Error *e)
{
        return run_status(backend_of(base), ret, e);
}

/* A payload as named in messages (cut to 12 characters there): an image by its digest's hex digits. */
static const char *short_id(const char *payload)
{
        const char *digest = os_image_digest(payload);
        return digest ? digest + 7 : payload;
}

/* Whether deployment d (may be NULL) is of payload: its image digest for an image reference, else its
 * commit. */
static bool deployment_is(const OsDeployment *d, const char *payload)
{
        const char *digest = os_image_digest(payload);

        if (!d)
                return false;
        if (digest)
                return d->image && streq_ptr(os_image_digest(d->image), digest);
        return streq(d->checksum, payload);
}

/* Zincati's deploy command: a commit by revision, an image by its digest. */
static int deploy(RpmOstreeBackend *b, const char *payload, bool allow_downgrade, Error *e)
{
        _cleanup_free_ char *revision = NULL;
        const char *digest = os_image_digest(payload);
        CommandResult res;
        char *argv[8];
        size_t n = 0;
        int r;

        if (!digest && asprintf(&revision, "revision=%s", payload) < 0)
                return error_setf(e, -ENOMEM, "stage of %.12s…: out of memory", payload);
        argv[n++] = b->path;
        argv[n++] = (char *)"deploy";
        argv[n++] = (char *)"--lock-finalization";
        if (digest)
                argv[n++] = (char *)digest;
        else {
                argv[n++] = (char *)"--skip-branch-check";
                argv[n++] = revision;
        }
        if (!allow_downgrade)
                argv[n++] = (char *)"--disallow-downgrade";
        argv[n] = NULL;
        r = run(b, argv, &res, e);
        if (r < 0 && res.err_len > 0 && memmem(res.err, res.err_len, "chronologically older", 21))
                r = -EPERM;
        command_result_done(&res);
        return r;
}

static int rpmostree_backend_stage(OsBackend *base, const char *checksum, const char *version,
                                   bool allow_downgrade, OsProgressFn progress, void *userdata, Error *e)
{
        RpmOstreeBackend *b = backend_of(base);
        _cleanup_(os_status_done) OsStatus s = { 0 };
        int r;

        r = run_status(b, &s, e);
        if (r < 0)
                return error_prefixf(e, r, "stage of %.12s…", short_id(checksum));
        if (deployment_is(s.booted, checksum))
                return error_setf(e, -EALREADY, "stage of %.12s…: that release is booted",
                                  short_id(checksum));
        if (deployment_is(s.staged, checksum) && (!version || streq_ptr(s.staged->version, version)))
                return 0;
        os_status_done(&s);

        r = deploy(b, checksum, allow_downgrade, e);
        if (r < 0)
                return r;

        r = run_status(b, &s, e);
        if (r < 0)
                return error_prefixf(e, r, "stage of %.12s…: verifying", short_id(checksum));
        if (!s.staged)
                return error_setf(e, -EIO,
                                  "stage of %.12s…: rpm-ostree shows no staged deployment after deploy",
                                  short_id(checksum));
        if (!deployment_is(s.staged, checksum))
                return error_setf(e, -EIO, "stage of %.12s…: rpm-ostree staged %.12s… instead",
                                  short_id(checksum), short_id(os_deployment_payload(s.staged)));
        if (version && !streq_ptr(s.staged->version, version))
                return error_setf(e, -EBADMSG,
                                  "stage of %.12s…: the staged deployment has version '%s', expected '%s'",
                                  short_id(checksum), strna(s.staged->version), version);
        return 0;
}

/* finalize-deployment takes the commit checksum, or the image digest for an image (as Zincati). */
static int rpmostree_backend_finalize(OsBackend *base, const char *checksum, Error *e)
{
        RpmOstreeBackend *b = backend_of(base);
        _cleanup_(os_status_done) OsStatus s = { 0 };
        const char *digest = os_image_digest(checksum);
        char *argv[] = { b->path, (char *)"finalize-deployment", (char *)(digest ? digest : checksum),
                         NULL };
        CommandResult res;
        int r;

        r = run_status(b, &s, e);
        if (r < 0)
                return error_prefixf(e, r, "finalize of %.12s…", short_id(checksum));
        if (!deployment_is(s.staged, checksum))
                return error_setf(e, -ENOENT, "finalize of %.12s…: no staged deployment of that release",
                                  short_id(checksum));
        r = run(b, argv, &res, e);
        command_result_done(&res);
        return r;
}

/* The first deployment that is not staged: what boots next (rpm-ostree lists a staged one first). */
static const OsDeployment *default_of(const OsStatus *s)
{
        for (size_t i = 0; i < s->n_deployments; i++)
                if (!s->deployments[i].staged)
                        return &s->deployments[i];
        return NULL;
}

static void note_staged(const OsStatus *s, char *buf, size_t size)
{
        snprintf(buf, size, "%s", s->staged && s->staged->checksum ? s->staged->checksum : "");
}

/* rpm-ostree only rolls back, as greenboot does: `rpm-ostree rollback` makes the rollback deployment the
 * default, or the booted one when another one is pending. */
static int rpmostree_backend_set_default(OsBackend *base, const char *checksum, OsSetDefaultResult *ret,
                                         Error *e)
{
        RpmOstreeBackend *b = backend_of(base);
        _cleanup_(os_status_done) OsStatus s = { 0 };
        char *argv[] = { b->path, (char *)"rollback", NULL };
        const OsDeployment *dflt;
        OsSetDefaultResult res = {};
        CommandResult cr;
        int r;

        r = run_status(b, &s, e);
        if (r < 0)
                return error_prefixf(e, r, "set-default of %.12s…", checksum);
        dflt = default_of(&s);
        if (dflt && streq_ptr(dflt->checksum, checksum)) {
                note_staged(&s, res.kept_staged, sizeof(res.kept_staged));
                *ret = res;
                return 0;
        }
        if (!(s.rollback && streq_ptr(s.rollback->checksum, checksum)) &&
            !(s.booted && streq_ptr(s.booted->checksum, checksum) && dflt != s.booted)) {
                for (size_t i = 0; i < s.n_deployments; i++)
                        if (streq_ptr(s.deployments[i].checksum, checksum))
                                return error_setf(
                                        e, -EOPNOTSUPP,
                                        "set-default of %.12s…: rpm-ostree can only roll back, and "
                                        "that deployment is neither the rollback nor the booted one",
                                        checksum);
                return error_setf(e, -ENOENT, "set-default of %.12s…: no deployment of that commit",
                                  checksum);
        }
        note_staged(&s, res.dropped_staged, sizeof(res.dropped_staged));
        os_status_done(&s);
        r = run(b, argv, &cr, e);
        command_result_done(&cr);
        if (r < 0)
                return r;
        r = run_status(b, &s, e);
        if (r < 0)
                return error_prefixf(e, r, "set-default of %.12s…: verifying", checksum);
        dflt = default_of(&s);
        if (!dflt || !streq_ptr(dflt->checksum, checksum))
                return error_setf(e, -EIO,
                                  "set-default of %.12s…: after rpm-ostree rollback the default is %.12s…",
                                  checksum, dflt ? strna(dflt->checksum) : "(none)");
        if (s.staged && streq_ptr(s.staged->checksum, res.dropped_staged)) {
                res.dropped_staged[0] = 0;
                note_staged(&s, res.kept_staged, sizeof(res.kept_staged));
        }
        res.changed = true;
        *ret = res;
        return 0;
}

static void rpmostree_backend_free(OsBackend *base)
{
        RpmOstreeBackend *b = backend_of(base);

        free(b->path);
        free(b->client_id);
        free(b->stream_key);
        free(b);
}

static const OsBackendOps rpmostree_ops = {
        .status = rpmostree_backend_status,
        .stage = rpmostree_backend_stage,
        .finalize = rpmostree_backend_finalize,
        .set_default = rpmostree_backend_set_default,
        .free = rpmostree_backend_free,
        .finalize_reboots = true,
};

static bool client_id_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > CLIENT_ID_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_' || *p == '.'))
                        return false;
        return true;
}

int os_backend_rpmostree_open(const OsBackendOptions *o, OsBackend **ret, Error *e)
{
        RpmOstreeBackend *b;
        _cleanup_(os_status_done) OsStatus s = { 0 };
        _cleanup_free_ char *driver = NULL;
        CommandResult res;
        const char *client_id = o->client_id ? o->client_id : DEFAULT_CLIENT_ID;
        int r;

        if (!client_id_valid(client_id))
                return error_setf(e, -EINVAL,
                                  "rpm-ostree client id '%s': must be 1-%d letters, digits, '-', '_' or '.'",
                                  client_id, CLIENT_ID_MAX);
        if (o->rpm_ostree_path && !o->rpm_ostree_path[0])
                return error_setf(e, -EINVAL, "rpm-ostree path: must not be empty");
        b = calloc(1, sizeof(*b));
        if (!b)
                return error_setf(e, -ENOMEM, "rpm-ostree backend: out of memory");
        b->base = (OsBackend){ .ops = &rpmostree_ops, .kind = OS_BACKEND_RPM_OSTREE };
        b->timeout_sec = o->command_timeout_sec ? o->command_timeout_sec : DEFAULT_TIMEOUT_SEC;
        b->path = strdup(o->rpm_ostree_path ? o->rpm_ostree_path : DEFAULT_PATH);
        b->client_id = strdup(client_id);
        b->stream_key = o->stream_metadata_key ? strdup(o->stream_metadata_key) : NULL;
        if (!b->path || !b->client_id || (o->stream_metadata_key && !b->stream_key) ||
            asprintf(&driver, "--register-driver=%s", client_id) < 0) {
                rpmostree_backend_free(&b->base);
                return error_setf(e, -ENOMEM, "rpm-ostree backend: out of memory");
        }

        /* The first open checks that rpm-ostree answers and registers the driver; later opens (the agent's
         * per-operation workers) skip both. */
        r = o->skip_register ? 0 : run_status(b, &s, e);
        if (r >= 0 && !o->skip_register) {
                char *argv[] = { b->path, (char *)"deploy", (char *)"", driver, NULL };
                r = run(b, argv, &res, e);
                command_result_done(&res);
        }
        if (r < 0) {
                rpmostree_backend_free(&b->base);
                return r;
        }
        *ret = &b->base;
        return 0;
}

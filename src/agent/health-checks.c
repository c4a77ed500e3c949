/* health-checks.c — discovering greenboot's and Upkeep's check scripts and hooks, and running checks:
 * scripts and commands in their own process group with a capped output tail and a timeout, systemd units
 * over sd-bus, http:// probes over a plain TCP socket (see health-checks.h). */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "health-checks.h"
#include "macros.h"
#include "strutil.h"
#include "strv.h"
#include "time-util.h"

extern char **environ;

static const char *const check_roots[] = { "/usr/lib/greenboot", "/etc/greenboot", "/usr/lib/upkeep",
                                           "/etc/upkeep" };
static const char *const hook_dirs[_HEALTH_HOOKS_MAX] = {
        [HEALTH_HOOKS_GREEN] = "green.d",
        [HEALTH_HOOKS_RED] = "red.d",
};

/* ---- lists ---- */

static bool isempty(const char *s)
{
        return !s || !s[0];
}

static void check_free(HealthCheck *c)
{
        free(c->name);
        free(c->path);
        strv_free(c->argv);
        free(c->unit);
        free(c->url);
        *c = (HealthCheck){};
}

void health_check_list_done(HealthCheckList *l)
{
        assert(l);
        for (size_t i = 0; i < l->n; i++)
                check_free(&l->checks[i]);
        free(l->checks);
        *l = (HealthCheckList){};
}

/* Appends *c, taking its strings (also on failure, when they are freed). */
static int list_take(HealthCheckList *l, HealthCheck *c)
{
        HealthCheck *a;

        if (l->n >= HEALTH_CHECKS_MAX) {
                check_free(c);
                return -E2BIG;
        }
        a = reallocarray(l->checks, l->n + 1, sizeof(*a));
        if (!a) {
                check_free(c);
                return -ENOMEM;
        }
        l->checks = a;
        l->checks[l->n++] = *c;
        *c = (HealthCheck){};
        return 0;
}

static void list_truncate(HealthCheckList *l, size_t n)
{
        while (l->n > n)
                check_free(&l->checks[--l->n]);
}

static int add_declared(HealthCheckList *l, HealthCheck *c, const char *name)
{
        if (c->timeout_usec > HEALTH_CHECK_TIMEOUT_MAX_USEC) {
                check_free(c);
                return -ERANGE;
        }
        c->name = strdup(name);
        if (!c->name) {
                check_free(c);
                return -ENOMEM;
        }
        return list_take(l, c);
}

int health_check_list_add_unit(HealthCheckList *l, const char *name, bool required, const char *unit,
                               uint64_t timeout_usec)
{
        HealthCheck c = { .kind = HEALTH_CHECK_UNIT, .required = required, .timeout_usec = timeout_usec };

        assert(l);
        if (isempty(name) || isempty(unit))
                return -EINVAL;
        c.unit = strdup(unit);
        if (!c.unit)
                return -ENOMEM;
        return add_declared(l, &c, name);
}

int health_check_list_add_http(HealthCheckList *l, const char *name, bool required, const char *url,
                               uint64_t timeout_usec)
{
        HealthCheck c = { .kind = HEALTH_CHECK_HTTP, .required = required, .timeout_usec = timeout_usec };

        assert(l);
        if (isempty(name) || isempty(url))
                return -EINVAL;
        c.url = strdup(url);
        if (!c.url)
                return -ENOMEM;
        return add_declared(l, &c, name);
}

int health_check_list_add_command(HealthCheckList *l, const char *name, bool required, char *const *argv,
                                  uint64_t timeout_usec)
{
        HealthCheck c = { .kind = HEALTH_CHECK_COMMAND, .required = required, .timeout_usec = timeout_usec };
        size_t n = 0;

        assert(l);
        if (isempty(name) || !argv || isempty(argv[0]))
                return -EINVAL;
        for (size_t i = 0; argv[i]; i++)
                if (strv_push(&c.argv, &n, argv[i]) < 0) {
                        check_free(&c);
                        return -ENOMEM;
                }
        return add_declared(l, &c, name);
}

/* ---- discovery ---- */

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted entry names of dir; a missing directory yields an empty list. */
static int list_dir(const char *dir, char ***ret, size_t *ret_n, Error *e)
{
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d) {
                if (errno == ENOENT || errno == ENOTDIR)
                        goto done;
                return error_setf(e, -errno, "cannot open %s: %m", dir);
        }
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (n >= HEALTH_CHECKS_MAX) {
                        closedir(d);
                        return error_setf(e, -E2BIG, "%s holds more than %d entries", dir,
                                          HEALTH_CHECKS_MAX);
                }
                if (strv_push(&names, &n, de->d_name) < 0) {
                        closedir(d);
                        return error_setf(e, -ENOMEM, "%s: out of memory", dir);
                }
        }
        if (errno != 0) {
                int r = -errno;
                closedir(d);
                return error_setf(e, r, "cannot read %s: %m", dir);
        }
        closedir(d);
        if (n > 0)
                qsort(names, n, sizeof(char *), cmp_names);
done:
        *ret = TAKE_PTR(names);
        *ret_n = n;
        return 0;
}

/* Adds the checks of one directory in name order. */
static int scan_dir(const char *dir, bool required, const GreenbootConf *conf, HealthCheckList *l, Error *e)
{
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        int r;

        r = list_dir(dir, &names, &n, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                HealthCheck c = { .kind = HEALTH_CHECK_SCRIPT, .required = required };
                struct stat st;

                if (conf && greenboot_conf_disabled(conf, names[i]))
                        continue;
                if (asprintf(&c.path, "%s/%s", dir, names[i]) < 0)
                        return error_setf(e, -ENOMEM, "%s: out of memory", dir);
                c.bash = endswith(names[i], ".sh");
                if (stat(c.path, &st) < 0 || !S_ISREG(st.st_mode) || (!c.bash && access(c.path, X_OK) < 0)) {
                        check_free(&c);
                        continue;
                }
                c.name = strdup(names[i]);
                if (!c.name) {
                        check_free(&c);
                        return error_setf(e, -ENOMEM, "%s: out of memory", dir);
                }
                r = list_take(l, &c);
                if (r < 0)
                        return error_setf(e, r, "%s: cannot add %s: %m", dir, names[i]);
        }
        return 0;
}

static int discover(const char *root, const char *const *subdirs, size_t n_subdirs, bool required_first,
                    const GreenbootConf *conf, HealthCheckList *l, Error *e)
{
        size_t old = l->n;

        assert(root);
        for (size_t s = 0; s < n_subdirs; s++)
                for (size_t i = 0; i < ELEMENTSOF(check_roots); i++) {
                        _cleanup_free_ char *dir = NULL;
                        int r;

                        if (asprintf(&dir, "%s%s/%s", streq(root, "/") ? "" : root, check_roots[i],
                                     subdirs[s]) < 0)
                                r = error_setf(e, -ENOMEM, "out of memory");
                        else
                                r = scan_dir(dir, required_first && s == 0, conf, l, e);
                        if (r < 0) {
                                list_truncate(l, old);
                                return r;
                        }
                }
        return 0;
}

int health_checks_discover(const char *root, const GreenbootConf *conf, HealthCheckList *l, Error *e)
{
        static const char *const subdirs[] = { "check/required.d", "check/wanted.d" };

        assert(l);
        return discover(root, subdirs, ELEMENTSOF(subdirs), true, conf, l, e);
}

int health_hooks_discover(const char *root, HealthHookKind kind, HealthCheckList *l, Error *e)
{
        assert(l);
        assert((unsigned)kind < _HEALTH_HOOKS_MAX);
        return discover(root, &hook_dirs[kind], 1, false, NULL, l, e);
}

/* ---- output ---- */

size_t health_clean_output(const char *in, size_t n, char *out)
{
        assert(in || n == 0);
        assert(out);
        return text_clean(out, n + 1, in, n, TEXT_CLEAN_MULTILINE);
}

typedef struct Tail {
        char data[HEALTH_OUTPUT_MAX];
        size_t len;
        bool cut; /* the start was dropped, maybe in the middle of a character */
} Tail;

static void tail_append(Tail *t, const char *p, size_t n)
{
        if (n >= sizeof(t->data)) {
                memcpy(t->data, p + n - sizeof(t->data), sizeof(t->data));
                t->len = sizeof(t->data);
                t->cut = true;
                return;
        }
        if (t->len + n > sizeof(t->data)) {
                size_t drop = t->len + n - sizeof(t->data);
                memmove(t->data, t->data + drop, t->len - drop);
                t->len -= drop;
                t->cut = true;
        }
        memcpy(t->data + t->len, p, n);
        t->len += n;
}

/* Cleans the tail into a new string: the rest of a character cut at the start is left out, not shown as
 * '?'. */
static char *tail_clean(const Tail *t)
{
        size_t skip = 0;
        char *s;

        while (t->cut && skip < 3 && skip < t->len && ((unsigned char)t->data[skip] & 0xc0) == 0x80)
                skip++;
        s = malloc(t->len - skip + 1);
        if (s)
                health_clean_output(t->data + skip, t->len - skip, s);
        return s;
}

/* ---- processes ---- */

static int spawn_in_group(char *const *argv, bool search_path, pid_t *ret_pid, int *ret_fd)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, deflt;
        int p[2], r;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_adddup2(&fa, p[1], 2);
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        sigemptyset(&deflt);
        for (int sig = 1; sig < SIGRTMIN; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        sigaddset(&deflt, sig);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &deflt);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr,
                                 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        if (search_path)
                r = posix_spawnp(ret_pid, argv[0], &fa, &attr, argv, environ);
        else
                r = posix_spawn(ret_pid, argv[0], &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(p[1]);
        if (r != 0) {
                close(p[0]);
                return -r;
        }
        *ret_fd = p[0];
        return 0;
}

typedef struct Wait {
        pid_t pid;
        int pidfd;
        int out; /* -1 after EOF */
        int status;
        bool reaped, timed_out, lost;
        int kill_stage;       /* 0 none, 1 SIGTERM sent, 2 SIGKILL sent */
        uint64_t next_usec;   /* the timeout, then the end of the grace period */
        uint64_t drain_until; /* after the process exited: how long to keep reading */
} Wait;

static void wait_reap(Wait *w)
{
        pid_t k;

        if (w->reaped)
                return;
        k = waitpid(w->pid, &w->status, WNOHANG);
        if (k < 0 && errno == ECHILD)
                w->lost = true; /* reaped by someone else (SIGCHLD ignored): the status is unknown */
        else if (k != w->pid)
                return;
        w->reaped = true;
        /* leftovers of the group (background children) are killed as systemd would at the unit's end */
        (void)kill(-w->pid, SIGKILL);
        w->drain_until = now_usec(CLOCK_MONOTONIC) + 100 * USEC_PER_MSEC;
}

static void wait_escalate(Wait *w, uint64_t now)
{
        if (w->reaped || now < w->next_usec)
                return;
        if (w->kill_stage == 0) {
                w->timed_out = true;
                (void)kill(-w->pid, SIGTERM);
                w->kill_stage = 1;
                w->next_usec = now + HEALTH_KILL_GRACE_USEC;
        } else if (w->kill_stage == 1) {
                (void)kill(-w->pid, SIGKILL);
                w->kill_stage = 2;
                w->next_usec = UINT64_MAX;
        }
}

/* Reads the process's output into t until it exited and its output is closed (or drained for 100 ms),
 * enforcing the timeout. */
static void wait_process(Wait *w, uint64_t timeout_usec, Tail *t)
{
        char buf[4096];

        w->next_usec = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        while (!w->reaped || (w->out >= 0 && now_usec(CLOCK_MONOTONIC) < w->drain_until)) {
                struct pollfd p[2] = { { .fd = w->out, .events = POLLIN },
                                       { .fd = w->reaped ? -1 : w->pidfd, .events = POLLIN } };
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                uint64_t until = w->reaped ? w->drain_until : w->next_usec;
                int ms = until <= now ? 0 : (int)MIN((until - now + 999) / 1000, 1000);

                if (w->pidfd < 0 && !w->reaped)
                        ms = MIN(ms, 10); /* no pidfd: poll for the exit */
                if (poll(p, 2, ms) > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                        ssize_t n = read(w->out, buf, sizeof(buf));
                        if (n > 0)
                                tail_append(t, buf, (size_t)n);
                        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                                close(w->out);
                                w->out = -1;
                        }
                }
                wait_reap(w);
                wait_escalate(w, now_usec(CLOCK_MONOTONIC));
        }
}

static int set_text(char **dst, const char *fmt, ...) _printf_(2, 3);
static int set_text(char **dst, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

static void format_seconds(uint64_t usec, char *buf, size_t size)
{
        if (usec % USEC_PER_SEC == 0)
                (void)snprintf(buf, size, "%llu s", (unsigned long long)(usec / USEC_PER_SEC));
        else
                (void)snprintf(buf, size, "%.3g s", (double)usec / (double)USEC_PER_SEC);
}

/* Runs argv; fills res's ok, exit status, signal, timed_out, output and reason. */
static int run_process(char *const *argv, bool search_path, uint64_t timeout_usec, HealthCheckResult *res)
{
        Wait w = { .out = -1, .pidfd = -1 };
        _cleanup_free_ Tail *t = calloc(1, sizeof(Tail));
        char secs[32];
        int r;

        if (!t)
                return -ENOMEM;
        r = spawn_in_group(argv, search_path, &w.pid, &w.out);
        if (r < 0) {
                errno = -r;
                return set_text(&res->reason, "cannot start %s: %m", argv[0]);
        }
        w.pidfd = (int)syscall(SYS_pidfd_open, w.pid, 0);
        wait_process(&w, timeout_usec, t);
        if (w.pidfd >= 0)
                close(w.pidfd);
        if (w.out >= 0)
                close(w.out);

        res->output = tail_clean(t);
        if (!res->output)
                return -ENOMEM;
        if (!w.lost && WIFEXITED(w.status))
                res->exit_status = WEXITSTATUS(w.status);
        else if (!w.lost && WIFSIGNALED(w.status))
                res->signal = WTERMSIG(w.status);
        format_seconds(timeout_usec, secs, sizeof(secs));
        res->timed_out = w.timed_out;
        if (w.timed_out)
                return set_text(&res->reason, "timed out after %s", secs);
        if (w.lost)
                return set_text(&res->reason, "its exit status was lost");
        if (res->signal)
                return set_text(&res->reason, "killed by signal SIG%s", strna(sigabbrev_np(res->signal)));
        if (res->exit_status != 0)
                return set_text(&res->reason, "exited with status %d", res->exit_status);
        res->ok = true;
        return 0;
}

/* ---- systemd units ---- */

static int bus_error(Error *e, int r, const sd_bus_error *err, const char *what, const char *unit)
{
        if (err->message)
                return error_setf(e, r, "%s %s: %s", what, unit, err->message);
        return error_setf(e, r, "%s %s: %m", what, unit);
}

int health_unit_state_sd_bus(const char *unit, char *ret_state, size_t size, void *userdata, Error *e)
{
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        const char *path;
        char *state = NULL;
        int r;

        assert(unit);
        assert(ret_state);
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return error_setf(e, r, "cannot connect to the system bus: %m");
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnit", &err, &reply, "s", unit);
        if (r < 0 && sd_bus_error_has_name(&err, "org.freedesktop.systemd1.NoSuchUnit")) {
                state = strdup("inactive"); /* not loaded: not active */
                r = state ? 0 : -ENOMEM;
        } else if (r < 0)
                r = bus_error(e, r, &err, "GetUnit", unit);
        else if ((r = sd_bus_message_read(reply, "o", &path)) < 0)
                r = error_setf(e, r, "GetUnit(%s): bad reply: %m", unit);
        else if ((r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                                 "org.freedesktop.systemd1.Unit", "ActiveState", &err,
                                                 &state)) < 0)
                r = bus_error(e, r, &err, "ActiveState of", unit);
        if (r >= 0 && strlen(state) >= size)
                r = error_setf(e, -ENOBUFS, "ActiveState of %s is too long", unit);
        if (r >= 0)
                strcpy(ret_state, state);
        free(state);
        sd_bus_error_free(&err);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return r < 0 ? r : 0;
}

static int run_unit(const HealthCheck *c, const HealthRunOptions *o, HealthCheckResult *res)
{
        HealthUnitStateFn fn = o && o->unit_state ? o->unit_state : health_unit_state_sd_bus;
        char state[HEALTH_STATE_NAME_MAX] = "";
        Error e = {};
        int r;

        r = fn(c->unit, state, sizeof(state), o ? o->userdata : NULL, &e);
        if (r < 0)
                return set_text(&res->reason, "cannot get the state of %s: %s", c->unit, e.message);
        res->ok = streq(state, "active");
        return res->ok ? 0 : set_text(&res->reason, "unit %s is %s", c->unit, state);
}

/* ---- http:// probes ---- */

int health_http_url_split(const char *url, char **ret_host, char **ret_port, char **ret_path)
{
        const char *h, *hend, *p, *rest;
        _cleanup_free_ char *host = NULL, *port = NULL, *path = NULL;
        uint16_t u;

        assert(url);
        for (const char *q = url; *q; q++)
                if ((unsigned char)*q <= 0x20 || *q == 0x7f)
                        return -EINVAL;
        if (!startswith(url, "http://"))
                return strstr(url, "://") ? -EPROTONOSUPPORT : -EINVAL;
        h = url + strlen("http://");
        rest = h + strcspn(h, "/?#");
        if (*h == '[') {
                hend = memchr(h, ']', (size_t)(rest - h));
                if (!hend)
                        return -EINVAL;
                p = hend + 1;
                h++;
        } else {
                hend = memchr(h, ':', (size_t)(rest - h));
                if (!hend)
                        hend = rest;
                p = hend;
        }
        if (hend == h || memchr(h, '@', (size_t)(rest - h)))
                return -EINVAL;
        if (p < rest && *p != ':')
                return -EINVAL;
        host = strndup(h, (size_t)(hend - h));
        port = p < rest ? strndup(p + 1, (size_t)(rest - p - 1)) : strdup("80");
        size_t plen = strcspn(rest, "#"); /* the fragment is not sent */
        if (*rest == '/')
                path = strndup(rest, plen);
        else if (asprintf(&path, "/%.*s", (int)plen, rest) < 0)
                path = NULL;
        if (!host || !port || !path)
                return -ENOMEM;
        if (safe_atou16(port, &u) < 0 || u == 0)
                return -EINVAL;
        *ret_host = TAKE_PTR(host);
        *ret_port = TAKE_PTR(port);
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* Waits for events on fd until deadline: 0 ready, -ETIMEDOUT, or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                int k;

                if (now >= deadline)
                        return -ETIMEDOUT;
                k = poll(&p, 1, (int)MIN((deadline - now + 999) / 1000, 1000));
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k > 0)
                        return 0;
        }
}

static int connect_to(const char *host, const char *port, uint64_t deadline, int *ret_fd)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *ai = NULL;
        int r = -EHOSTUNREACH;

        if (getaddrinfo(host, port, &hints, &ai) != 0)
                return -EADDRNOTAVAIL;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                int err = 0;
                socklen_t len = sizeof(err);

                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS)
                        r = -errno;
                else if ((r = wait_fd(fd, POLLOUT, deadline)) >= 0 &&
                         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) >= 0 && err != 0)
                        r = -err;
                if (r >= 0) {
                        *ret_fd = fd;
                        break;
                }
                close(fd);
                if (r == -ETIMEDOUT)
                        break;
        }
        freeaddrinfo(ai);
        return r;
}

/* Sends the GET and reads the status code of the reply. */
static int http_status(int fd, const char *host, const char *port, const char *path, uint64_t deadline,
                       int *ret_code)
{
        _cleanup_free_ char *req = NULL;
        char reply[HEALTH_HTTP_REPLY_MAX + 1];
        size_t sent = 0, got = 0;
        bool v6 = strchr(host, ':'), default_port = streq(port, "80");
        int len, r, code;

        /* Host: as RFC 9112 wants it, the port only when it is not the default */
        len = asprintf(&req,
                       "GET %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: upkeep-agent\r\n"
                       "Connection: close\r\n\r\n",
                       path, v6 ? "[" : "", host, v6 ? "]" : "", default_port ? "" : ":",
                       default_port ? "" : port);
        if (len < 0)
                return -ENOMEM;
        while (sent < (size_t)len) {
                if ((r = wait_fd(fd, POLLOUT, deadline)) < 0)
                        return r;
                ssize_t n = send(fd, req + sent, (size_t)len - sent, MSG_NOSIGNAL);
                if (n < 0 && errno != EINTR && errno != EAGAIN)
                        return -errno;
                sent += n > 0 ? (size_t)n : 0;
        }
        while (got < HEALTH_HTTP_REPLY_MAX && !memmem(reply, got, "\r\n", 2)) {
                if ((r = wait_fd(fd, POLLIN, deadline)) < 0)
                        return r;
                ssize_t n = recv(fd, reply + got, HEALTH_HTTP_REPLY_MAX - got, 0);
                if (n == 0)
                        break;
                if (n < 0 && errno != EINTR && errno != EAGAIN)
                        return -errno;
                got += n > 0 ? (size_t)n : 0;
        }
        reply[got] = '\0';
        /* "HTTP/1.x NNN" followed by a space or the end of the line */
        if (got < 13 || !(startswith(reply, "HTTP/1.0 ") || startswith(reply, "HTTP/1.1 ")) ||
            (reply[12] != ' ' && reply[12] != '\r'))
                return -EBADMSG;
        code = 0;
        for (size_t i = 9; i < 12; i++) {
                if (reply[i] < '0' || reply[i] > '9')
                        return -EBADMSG;
                code = code * 10 + (reply[i] - '0');
        }
        if (code < 100 || code > 599)
                return -EBADMSG;
        *ret_code = code;
        return 0;
}

static int run_http(const HealthCheck *c, uint64_t timeout_usec, HealthCheckResult *res)
{
        _cleanup_free_ char *host = NULL, *port = NULL, *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        char secs[32];
        int r, code = 0;

        r = health_http_url_split(c->url, &host, &port, &path);
        if (r == -EPROTONOSUPPORT)
                return set_text(&res->reason, "%s: only http:// is supported here (https is not)", c->url);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_text(&res->reason, "%s: malformed URL", c->url);
        r = connect_to(host, port, deadline, &fd);
        if (r >= 0)
                r = http_status(fd, host, port, path, deadline, &code);
        format_seconds(timeout_usec, secs, sizeof(secs));
        if (r == -ETIMEDOUT) {
                res->timed_out = true;
                return set_text(&res->reason, "%s: timed out after %s", c->url, secs);
        }
        if (r == -EBADMSG)
                return set_text(&res->reason, "%s: not an HTTP reply", c->url);
        if (r == -EADDRNOTAVAIL)
                return set_text(&res->reason, "%s: cannot resolve %s", c->url, host);
        if (r < 0) {
                errno = -r;
                return set_text(&res->reason, "%s: %m", c->url);
        }
        res->ok = code >= 200 && code <= 299;
        return res->ok ? 0 : set_text(&res->reason, "%s answered %d", c->url, code);
}

/* ---- running ---- */

static int run_one(const HealthCheck *c, const HealthRunOptions *o, HealthCheckResult *res)
{
        uint64_t timeout = c->timeout_usec ? MIN(c->timeout_usec, HEALTH_CHECK_TIMEOUT_MAX_USEC)
                                           : HEALTH_CHECK_TIMEOUT_DEFAULT_USEC;
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        *res = (HealthCheckResult){ .kind = c->kind, .required = c->required, .exit_status = -1 };
        res->name = strdup(c->name);
        if (!res->name)
                return -ENOMEM;
        switch (c->kind) {
        case HEALTH_CHECK_SCRIPT: {
                char *bash_argv[] = { (char *)"/bin/bash", c->path, NULL };
                char *direct_argv[] = { c->path, NULL };
                r = run_process(c->bash ? bash_argv : direct_argv, false, timeout, res);
                break;
        }
        case HEALTH_CHECK_COMMAND:
                r = run_process(c->argv, true, timeout, res);
                break;
        case HEALTH_CHECK_UNIT:
                r = run_unit(c, o, res);
                break;
        case HEALTH_CHECK_HTTP:
                r = run_http(c, timeout, res);
                break;
        default:
                assert(!"unknown check kind");
                r = -EINVAL;
        }
        res->duration_usec = now_usec(CLOCK_MONOTONIC) - start;
        if (r >= 0 && !res->output)
                r = (res->output = strdup("")) ? 0 : -ENOMEM;
        if (r >= 0 && !res->reason)
                r = (res->reason = strdup("")) ? 0 : -ENOMEM;
        return r;
}

static void result_free(HealthCheckResult *r)
{
        free(r->name);
        free(r->output);
        free(r->reason);
}

void health_results_done(HealthResults *r)
{
        assert(r);
        for (size_t i = 0; i < r->n; i++)
                result_free(&r->results[i]);
        free(r->results);
        *r = (HealthResults){};
}

int health_checks_run(const HealthCheckList *l, const HealthRunOptions *o, HealthResults *ret, Error *e)
{
        HealthResults res = {};
        int r;

        assert(l);
        assert(ret);
        if (l->n > 0) {
                res.results = calloc(l->n, sizeof(HealthCheckResult));
                if (!res.results)
                        return error_setf(e, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < l->n; i++) {
                HealthCheckResult *cur = &res.results[res.n];

                if (res.red && l->checks[i].required && !(o && o->run_all)) {
                        res.n_skipped++;
                        continue;
                }
                r = run_one(&l->checks[i], o, cur);
                res.n++;
                if (r < 0) {
                        health_results_done(&res);
                        return error_setf(e, r, "running %s: %m", l->checks[i].name);
                }
                if (!cur->ok && cur->required)
                        res.red = true;
        }
        *ret = res;
        return 0;
}

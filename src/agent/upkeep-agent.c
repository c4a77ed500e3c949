/* upkeep-agent.c — the node daemon: reads Zincati's (and Upkeep's) configuration drop-ins, works out who
 * this node is, opens the OS backend, runs the update engine on its own thread and serves the status
 * socket (`upkeep status`, `upkeep update-now`) and the metrics socket (Prometheus text per connection). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include "agent-config.h"
#include "agent-engine.h"
#include "agent-identity.h"
#include "agent-status.h"
#include "config.h"
#include "daemon-util.h"
#include "dropin.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "os-detect.h"
#include "macros.h"
#include "strutil.h"
#include "strv.h"
#include "tz-load.h"
#include "worker-call.h"
#include "worker-protocol.h"

/* Zincati's application id for the app-specific machine id, so a node keeps its rollout position. */
#define NODE_UUID_APP_ID SD_ID128_MAKE(de, 35, 10, 6b, 6e, c2, 46, 88, b6, 3a, fd, da, a1, 56, 67, 9b)
#define CLIENT_TIMEOUT_MS 2000
#define METRICS_MAX_BYTES (1u << 20)
#define STOP_TIMEOUT_MS 10000
#define CHECK_OS_TIMEOUT_SEC 300

/* The daemon: what main() sets up, in order, and takes down. */
typedef struct Agent {
        AgentConfig *config;
        TimeZone *tz; /* when config->calendar */
        char *platform;
        char *worker;  /* upkeep-agent-worker's path */
        char uuid[33]; /* the node uuid */
        struct utsname uts;
        sd_event *event;
        Engine *engine;
        int status_fd, metrics_fd;
} Agent;

static void usage(void)
{
        printf("upkeep-agent " UPKEEP_VERSION
               " — keeps this host on the newest release its update graph offers\n\n"
               "usage: upkeep-agent [options]\n\n"
               "  -r, --root DIR   read the configuration directories under DIR (default $UPKEEP_AGENT_ROOT "
               "or /)\n"
               "      --check-config  print the merged configuration, each value with the fragment it\n"
               "                   came from (or \"default\"), and exit: 0 when it is valid, else 1\n"
               "  -v, --verbose    log debug messages\n"
               "  -h, --help       show this help\n"
               "      --version    show the version\n\n"
               "Configuration: *.toml fragments in, lowest priority first,\n");
        for (size_t i = 0; i < DROPIN_AGENT_N_DIRS; i++)
                printf("  %s\n", DROPIN_AGENT_DIRS[i]);
        printf("(Zincati's files are read unchanged; see docs/agent-config.md.)\n");
}

/* upkeep-agent-worker: $UPKEEP_AGENT_WORKER, else beside this executable (a build tree, or a prefix that
 * installs both in one directory), else in LIBEXECDIR. */
static char *worker_path(void)
{
        const char *env = getenv("UPKEEP_AGENT_WORKER");
        char self[PATH_MAX], *p;
        ssize_t n;

        if (env && *env)
                return strdup(env);
        n = readlink("/proc/self/exe", self, sizeof self - 32);
        if (n > 0) {
                self[n] = 0;
                p = strrchr(self, '/');
                if (p) {
                        strcpy(p + 1, "upkeep-agent-worker");
                        if (access(self, X_OK) == 0)
                                return strdup(self);
                }
        }
        if (access(LIBEXECDIR "/upkeep-agent-worker", X_OK) == 0)
                return strdup(LIBEXECDIR "/upkeep-agent-worker");
        log_error("upkeep-agent-worker not found beside %s nor in " LIBEXECDIR " (set UPKEEP_AGENT_WORKER)",
                  n > 0 ? self : "this program");
        return NULL;
}

/* The OS layer answers (a test sysroot exists, rpm-ostree runs and takes our driver registration): a
 * status through the worker, once, before anything else. */
static int check_os(const char *worker, const AgentConfig *c)
{
        _cleanup_json_ json_t *os = worker_os_new(c, true), *res = NULL;
        _cleanup_free_ char *text = NULL;
        Error e = {};
        int r;

        if (!os)
                return log_error_errno(-ENOMEM, "out of memory");
        r = worker_request_format(WORKER_COMMAND_STATUS, NULL, os, &text, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        r = worker_call(worker, text, CHECK_OS_TIMEOUT_SEC, NULL, NULL, NULL, &res, &e);
        if (r < 0)
                return log_error_errno(r, "running %s: %s", worker, e.message);
        if (worker_result_check(res, NULL, &e) < 0)
                return log_error_errno(
                        -EIO, "opening the %s backend: %s",
                        c->os_backend == AGENT_OS_BACKEND_RPM_OSTREE ? "rpm-ostree" : "ostree", e.message);
        return 0;
}

/* [upkeep] os_backend = "auto" (the default): rpm-ostree where it manages the host (os-detect.h), under
 * the same root as the configuration. */
static void choose_backend(const char *root, AgentConfig *c)
{
        OsDetectProbe p;

        if (c->os_backend != AGENT_OS_BACKEND_AUTO)
                return;
        if (!root || !*root)
                root = getenv("UPKEEP_AGENT_ROOT");
        os_detect_probe(root, c, &p);
        c->os_backend = os_detect_choose(c, &p);
        log_debug("OS backend %s (detected: %s/run/ostree-booted %s, rpm-ostree D-Bus service %s, "
                  "executable %s)",
                  c->os_backend == AGENT_OS_BACKEND_RPM_OSTREE ? "rpm-ostree" : "ostree", root ? root : "",
                  p.ostree_booted ? "present" : "absent", p.rpmostree_dbus ? "present" : "absent",
                  p.rpmostree_binary ? "present" : "absent");
}

/* The configuration fragments under root, in merge order: *ret_files (for dropin_files_free()) and
 * *ret_frags pointing into them. */
static int collect_fragments(const char *root, DropinFile **ret_files, size_t *ret_n,
                             AgentFragment **ret_frags)
{
        DropinFile *files = NULL;
        AgentFragment *frags;
        size_t n = 0;
        Error e = {};
        int r;

        r = dropin_collect(root, DROPIN_AGENT_DIRS, DROPIN_AGENT_N_DIRS, &files, &n, &e);
        if (r < 0)
                return log_error_errno(r, "configuration: %s", e.message);
        frags = calloc(n ? n : 1, sizeof *frags);
        if (!frags) {
                dropin_files_free(files, n);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                frags[i] =
                        (AgentFragment){ .path = files[i].path, .data = files[i].data, .len = files[i].len };
                log_debug("configuration fragment %s", files[i].path);
        }
        *ret_files = files;
        *ret_n = n;
        *ret_frags = frags;
        return 0;
}

static int load_config(const char *root, AgentConfig **ret)
{
        DropinFile *files = NULL;
        size_t n = 0;
        _cleanup_free_ AgentFragment *frags = NULL;
        char **warnings = NULL;
        Error e = {};
        int r;

        if (collect_fragments(root, &files, &n, &frags) < 0)
                return -EINVAL;
        r = agent_config_merge(frags, n, ret, &warnings, &e);
        dropin_files_free(files, n);
        if (r < 0)
                return log_error_errno(r, "configuration: %s", e.message);
        daemon_log_warnings(warnings);
        choose_backend(root, *ret);
        return 0;
}

/* --check-config: the merged configuration, each value with the fragment it came from; 0 or 1. */
static int check_config(const char *root)
{
        _cleanup_agent_config_ AgentConfig *c = NULL;
        DropinFile *files = NULL;
        size_t n = 0;
        _cleanup_free_ AgentFragment *frags = NULL;
        Buf out = BUF_INIT(1u << 20);
        Error e = {};
        int r;

        if (collect_fragments(root, &files, &n, &frags) < 0)
                return EXIT_FAILURE;
        for (size_t i = 0; i < n; i++)
                printf("# fragment %s\n", files[i].path);
        r = agent_config_describe(frags, n, &out, &e);
        if (r >= 0)
                r = agent_config_merge(frags, n, &c, NULL, &e);
        dropin_files_free(files, n);
        if (r < 0) {
                buf_free(&out);
                log_error_errno(r, "configuration: %s", e.message);
                return EXIT_FAILURE;
        }
        fwrite(out.data, 1, out.len, stdout);
        buf_free(&out);
        if (c->os_backend == AGENT_OS_BACKEND_AUTO) {
                choose_backend(root, c);
                printf("# os_backend \"auto\" chooses %s on this host\n",
                       c->os_backend == AGENT_OS_BACKEND_RPM_OSTREE ? "rpm-ostree" : "ostree");
        }
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int node_uuid(const AgentConfig *c, char ret[33])
{
        sd_id128_t id;
        int r;

        if (c->node_uuid) {
                snprintf(ret, 33, "%s", c->node_uuid);
                return 0;
        }
        r = sd_id128_get_machine_app_specific(NODE_UUID_APP_ID, &id);
        if (r < 0)
                return log_error_errno(
                        r,
                        "cannot derive the node uuid from /etc/machine-id (%m); set [identity] node_uuid");
        return identity_format_uuid(id.bytes, ret);
}

static char *node_platform(const AgentConfig *c)
{
        _cleanup_free_ char *cmdline = NULL;
        char *p = NULL;
        size_t len;
        int r;

        if (c->platform)
                return strdup(c->platform);
        r = read_full_file("/proc/cmdline", IDENTITY_CMDLINE_MAX, &cmdline, &len);
        if (r >= 0)
                r = identity_parse_platform(cmdline, &p);
        if (r < 0) {
                log_warning_errno(
                        r, "no ignition.platform.id= on the kernel command line (%m); sending an empty "
                           "platform (set [upkeep] platform to override)");
                return strdup("");
        }
        return p;
}

/* mkdir -p, each created directory with mode. */
static int mkdir_p(const char *path, mode_t mode)
{
        char buf[PATH_MAX];

        if (strlen(path) >= sizeof buf)
                return -ENAMETOOLONG;
        strcpy(buf, path);
        for (char *p = buf + 1;; p++)
                if (*p == '/' || *p == 0) {
                        char c = *p;
                        *p = 0;
                        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                                return -errno;
                        if (!c)
                                return 0;
                        *p = c;
                }
}

/* A listening unix socket at path (its directory created), mode applied to the socket file. */
static int listen_unix(const char *path, mode_t mode)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *dir = strdup(path);
        int fd;

        if (!dir)
                return -ENOMEM;
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                int r = mkdir_p(dir, 0755);
                if (r < 0)
                        return r;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void)unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, mode) < 0 || listen(fd, 16) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int write_all_timeout(int fd, const char *p, size_t n)
{
        while (n > 0) {
                struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) <= 0)
                        return -ETIMEDOUT;
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static void reply_json(int fd, json_t *reply)
{
        char *s = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        if (s) {
                size_t n = strlen(s);
                s[n] = '\n'; /* json_dumps' NUL becomes the newline */
                (void)write_all_timeout(fd, s, n + 1);
                free(s);
        }
}

static void reply_error(int fd, const char *msg)
{
        json_t *r = json_pack("{s:b,s:s}", "ok", false, "error", msg);
        reply_json(fd, r);
        json_decref(r);
}

/* One status client: root (or our own user) only; one request, one reply. */
static void serve_status(int lfd, Engine *engine)
{
        struct ucred cred;
        socklen_t len = sizeof cred;
        char buf[AGENT_REQUEST_MAX + 1];
        size_t n = 0;
        AgentRequestMethod method;
        Error e = {};
        int fd;

        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != 0 && cred.uid != getuid())) {
                reply_error(fd, "permission denied: the agent's status socket is for root");
                close(fd);
                return;
        }
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, CLIENT_TIMEOUT_MS) <= 0) {
                        reply_error(fd, "request timed out");
                        close(fd);
                        return;
                }
                ssize_t k = read(fd, buf + n, sizeof buf - n);
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (k <= 0)
                        break;
                n += (size_t)k;
                if (memchr(buf, '\n', n) || n == sizeof buf)
                        break;
        }
        if (n == sizeof buf) {
                reply_error(fd, "request too large");
                close(fd);
                return;
        }
        char *nl = memchr(buf, '\n', n);
        if (nl)
                n = (size_t)(nl - buf);
        if (agent_request_parse(buf, n, &method, &e) < 0) {
                reply_error(fd, e.message);
                close(fd);
                return;
        }
        if (method == AGENT_REQUEST_UPDATE_NOW) {
                log_info("update check requested through the status socket");
                engine_update_now(engine);
        }
        {
                AgentSnapshot *s = malloc(sizeof *s);
                if (!s) {
                        reply_error(fd, "out of memory");
                        close(fd);
                        return;
                }
                engine_snapshot(engine, s);
                json_t *st = agent_status_to_json(s);
                json_t *r = st ? json_pack("{s:b,s:o}", "ok", true, "status", st) : NULL;
                if (r && method == AGENT_REQUEST_UPDATE_NOW)
                        json_object_set_new(r, "message", json_string("update check started"));
                if (r)
                        reply_json(fd, r);
                else
                        reply_error(fd, "out of memory");
                json_decref(r);
                free(s);
        }
        close(fd);
}

static void serve_metrics(int lfd, Engine *engine)
{
        Buf out = BUF_INIT(METRICS_MAX_BYTES);
        AgentSnapshot *s;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
                return;
        s = malloc(sizeof *s);
        if (s) {
                engine_snapshot(engine, s);
                if (agent_metrics_write(s, &out) >= 0)
                        (void)write_all_timeout(fd, out.data, out.len);
                free(s);
        }
        buf_free(&out);
        close(fd);
}

/* Parses the command line: 1 to go on (*ret_root set), 2 for --check-config, 0 to exit successfully,
 * -EINVAL. */
static int parse_argv(int argc, char **argv, const char **ret_root)
{
        static const struct option options[] = {
                { "root", required_argument, NULL, 'r' }, { "check-config", no_argument, NULL, 0x101 },
                { "verbose", no_argument, NULL, 'v' },    { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 0x100 },  {},
        };
        int c, mode = 1;

        while ((c = getopt_long(argc, argv, "r:vh", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        *ret_root = optarg;
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        usage();
                        return 0;
                case 0x100:
                        printf("upkeep-agent " UPKEEP_VERSION "\n");
                        return 0;
                case 0x101:
                        mode = 2;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                log_error("unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        return mode;
}

/* Who this node is: its uuid, architecture, platform, and the time zone of its update windows. */
static int identify(Agent *a)
{
        Error e = {};
        int r;

        if (node_uuid(a->config, a->uuid) < 0)
                return -EINVAL;
        if (uname(&a->uts) < 0)
                return log_error_errno(-errno, "uname: %m");
        a->platform = node_platform(a->config);
        if (!a->platform)
                return -ENOMEM;
        if (a->config->calendar) {
                r = tz_load(a->config->time_zone, &a->tz, &e);
                if (r < 0)
                        return log_error_errno(r, "updates.periodic.time_zone: %s", e.message);
        }
        return 0;
}

static void on_sighup(void *userdata)
{
        log_info("SIGHUP: the configuration is read at start; restart the agent to apply changes");
}

static int on_status(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        serve_status(fd, userdata);
        return 0;
}

static int on_metrics(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        serve_metrics(fd, userdata);
        return 0;
}

/* The event loop (signals; call before starting the engine thread, which inherits the signal mask), the
 * two sockets and the engine, which the sockets' callbacks ask. */
static int setup(Agent *a)
{
        static const DaemonReload reload = { .fn = on_sighup };
        const AgentConfig *c = a->config;
        Error e = {};
        int r;

        r = daemon_event_new(&reload, &a->event);
        if (r < 0)
                return log_error_errno(r, "event loop: %m");
        a->status_fd = listen_unix(c->status_socket, 0600);
        if (a->status_fd < 0)
                return log_error_errno(a->status_fd, "status socket %s: %m", c->status_socket);
        a->metrics_fd = listen_unix(c->metrics_socket, 0666);
        if (a->metrics_fd < 0)
                return log_error_errno(a->metrics_fd, "metrics socket %s: %m", c->metrics_socket);
        r = engine_new(&(EngineSetup){ .config = c,
                                       .worker_path = a->worker,
                                       .tz = a->tz,
                                       .node_uuid = a->uuid,
                                       .basearch = a->uts.machine,
                                       .platform = a->platform },
                       &a->engine, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        r = sd_event_add_io(a->event, NULL, a->status_fd, EPOLLIN, on_status, a->engine);
        if (r >= 0)
                r = sd_event_add_io(a->event, NULL, a->metrics_fd, EPOLLIN, on_metrics, a->engine);
        if (r < 0)
                return log_error_errno(r, "watching the sockets: %m");
        r = engine_start(a->engine);
        if (r < 0)
                return log_error_errno(r, "starting the engine thread: %m");
        return 0;
}

/* Stops the engine (a worker in flight is stopped with SIGTERM) and removes the sockets. Returns ret. */
static int shutdown_agent(Agent *a, int ret)
{
        if (a->engine && engine_stop(a->engine, STOP_TIMEOUT_MS) < 0) {
                log_warning("the engine is still busy after %u ms; exiting anyway", STOP_TIMEOUT_MS);
                _exit(ret);
        }
        a->engine = engine_free(a->engine);
        a->event = sd_event_unref(a->event);
        if (a->status_fd >= 0) {
                close(a->status_fd);
                (void)unlink(a->config->status_socket);
        }
        if (a->metrics_fd >= 0) {
                close(a->metrics_fd);
                (void)unlink(a->config->metrics_socket);
        }
        a->status_fd = a->metrics_fd = -EBADF;
        return ret;
}

static void agent_done(Agent *a)
{
        (void)shutdown_agent(a, EXIT_FAILURE);
        agent_config_free(a->config);
        tz_free(a->tz);
        free(a->platform);
        free(a->worker);
}

int main(int argc, char **argv)
{
        _cleanup_(agent_done) Agent a = { .status_fd = -EBADF, .metrics_fd = -EBADF };
        const char *root = NULL;
        int r;

        daemon_seed_hash_keys();
        log_set_prefix(1);
        r = parse_argv(argc, argv, &root);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (r == 2)
                return check_config(root);
        if (load_config(root, &a.config) < 0 || identify(&a) < 0)
                return EXIT_FAILURE;
        a.worker = worker_path();
        if (!a.worker)
                return EXIT_FAILURE;
        /* the OS layer must answer before the agent says it is ready: a first status through the worker */
        if (check_os(a.worker, a.config) < 0)
                return EXIT_FAILURE;
        if (setup(&a) < 0)
                return shutdown_agent(&a, EXIT_FAILURE);

        log_info("upkeep-agent %s: node %s, group %s, strategy %s, %s backend%s%s", UPKEEP_VERSION, a.uuid,
                 a.config->group, agent_strategy_to_string(a.config->strategy),
                 a.config->os_backend == AGENT_OS_BACKEND_RPM_OSTREE ? "rpm-ostree" : "ostree",
                 a.config->sysroot ? ", sysroot " : "", a.config->sysroot ? a.config->sysroot : "");
        daemon_notifyf("READY=1");
        r = sd_event_loop(a.event);
        if (r < 0)
                log_error_errno(r, "event loop: %m");
        return shutdown_agent(&a, r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* upkeep-agent.c — the node daemon: reads Zincati's (and Upkeep's) configuration drop-ins, works out who
 * this node is, opens the OS backend, runs the update engine on its own thread and serves the status
 * socket (`upkeep status`, `upkeep update-now`) and the metrics socket (Prometheus text per connection). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include "agent-config.h"
#include "agent-engine.h"
#include "agent-identity.h"
#include "agent-socket.h"
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
        AgentSockets *sockets;
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
        r = engine_new(&(EngineSetup){ .config = c,
                                       .worker_path = a->worker,
                                       .tz = a->tz,
                                       .node_uuid = a->uuid,
                                       .basearch = a->uts.machine,
                                       .platform = a->platform },
                       &a->engine, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        r = agent_sockets_new(a->event, a->engine, c->status_socket, c->metrics_socket, &a->sockets, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        r = engine_start(a->engine);
        if (r < 0)
                return log_error_errno(r, "starting the engine thread: %m");
        return 0;
}

/* Closes the sockets and whatever clients are still connected, stops the engine (a worker in flight is
 * stopped with SIGTERM). Returns ret. */
static int shutdown_agent(Agent *a, int ret)
{
        a->sockets = agent_sockets_free(a->sockets);
        if (a->engine && engine_stop(a->engine, STOP_TIMEOUT_MS) < 0) {
                log_warning("the engine is still busy after %u ms; exiting anyway", STOP_TIMEOUT_MS);
                _exit(ret);
        }
        a->engine = engine_free(a->engine);
        a->event = sd_event_unref(a->event);
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
        _cleanup_(agent_done) Agent a = {};
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

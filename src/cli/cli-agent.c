/* cli-agent.c — `upkeep status`, `upkeep update-now`, `upkeep forget-release`: this node's upkeep-agent
 * through its status socket. */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-config.h"
#include "agent-status.h"
#include "cli.h"
#include "json-util.h"
#include "log.h"
#include "status-health.h"
#include "strutil.h"
#include "time-util.h"

#define AGENT_REPLY_MAX (1u << 20)
#define AGENT_TIMEOUT_MS 10000

static void agent_usage(FILE *f)
{
        fprintf(f,
                "usage:\n"
                "  upkeep status [--socket PATH] [--json] [--wait-health[=SECONDS]]\n"
                "      What this node's upkeep-agent is doing: deployments, state, strategy, lock, last\n"
                "      check, last error, download progress, health checks, bad releases. With\n"
                "      --wait-health: wait (default 1800 s) until the agent has judged this boot; exit 0\n"
                "      when it is good, 1 when it needs manual intervention or time ran out (the\n"
                "      boot-complete gate, upkeep-health-gate.service).\n"
                "  upkeep update-now [--allow VERSION] [--socket PATH] [--json]\n"
                "      Check for an update now, ignoring the rollout wariness; with --allow, VERSION may\n"
                "      be staged even though it is recorded as a bad release.\n"
                "  upkeep forget-release VERSION|CHECKSUM [--socket PATH] [--json]\n"
                "      Remove a release from the record of releases that failed on this node.\n"
                "  The socket defaults to " AGENT_DEFAULT_STATUS_SOCKET " (root only).\n");
}

/* Reads the agent's whole reply (it closes the connection after it) and parses it. */
static int agent_read_reply(int fd, const char *socket_path, json_t **ret)
{
        Buf reply = BUF_INIT(AGENT_REPLY_MAX);
        Error e = {};
        int r;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char chunk[4096];
                r = poll(&p, 1, AGENT_TIMEOUT_MS);
                if (r == 0) {
                        r = log_error_errno(ETIMEDOUT, "upkeep-agent did not answer within %d s",
                                            AGENT_TIMEOUT_MS / 1000);
                        break;
                }
                if (r < 0 && errno == EINTR)
                        continue;
                ssize_t k = r < 0 ? -1 : read(fd, chunk, sizeof chunk);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = log_error_errno(errno, "reading from %s: %m", socket_path);
                        break;
                }
                if (k == 0) {
                        r = 0;
                        break;
                }
                r = buf_append(&reply, chunk, (size_t)k);
                if (r < 0) {
                        log_error("upkeep-agent's reply is larger than %u bytes", AGENT_REPLY_MAX);
                        break;
                }
        }
        if (r >= 0) {
                while (reply.len > 0 && reply.data[reply.len - 1] == '\n')
                        reply.len--;
                r = json_parse_strict(reply.data ? reply.data : "", reply.len, ret, &e);
                if (r < 0)
                        log_error("upkeep-agent sent a bad reply: %s", e.message);
        }
        buf_free(&reply);
        return r;
}

/* One request, one reply: see src/agent/agent-request.h. */
static int agent_call(const char *socket_path, const json_t *request, json_t **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *req = json_dumps(request, JSON_COMPACT);
        _cleanup_close_ int fd = -EBADF;
        size_t len;
        ssize_t n;
        int r;

        if (!req || !(req = realloc(req, strlen(req) + 2)))
                return log_error_errno(ENOMEM, "out of memory");
        len = strlen(req);
        req[len++] = '\n';
        if (strlen(socket_path) >= sizeof sa.sun_path)
                return log_error_errno(ENAMETOOLONG, "socket path too long: %s", socket_path);
        strcpy(sa.sun_path, socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket: %m");
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                r = -errno;
                return log_error_errno(r, "cannot reach upkeep-agent at %s: %m%s", socket_path,
                                       r == -EACCES ? " (the status socket is for root)" : "");
        }
        n = write(fd, req, len);
        if (n != (ssize_t)len) {
                r = n < 0 ? -errno : -EIO; /* a short write leaves errno as it was */
                return log_error_errno(r, "writing to %s: %m", socket_path);
        }
        return agent_read_reply(fd, socket_path, ret);
}

static int agent_print(const json_t *reply, bool json)
{
        const json_t *status = json_object_get(reply, "status"), *msg = json_object_get(reply, "message");
        Buf out = BUF_INIT(1u << 20);
        char m[AGENT_TEXT_MAX];
        int r;

        if (json) {
                char *s = json_dumps(reply, JSON_INDENT(2));
                if (!s)
                        return log_error_errno(ENOMEM, "out of memory");
                puts(s);
                free(s);
                return 0;
        }
        if (json_is_string(msg)) {
                agent_text_copy(m, sizeof m, json_string_value(msg));
                m[0] = (char)toupper((unsigned char)m[0]);
                printf("%s.\n\n", m);
        }
        r = agent_status_format(status, &out);
        if (r < 0) {
                buf_free(&out);
                return log_error_errno(EIO, "upkeep-agent sent a reply without a status");
        }
        r = status_health_format(status, &out);
        if (r >= 0)
                fwrite(out.data, 1, out.len, stdout);
        buf_free(&out);
        return r < 0 ? log_error_errno(r, "upkeep-agent's status: %m") : 0;
}

/* The request for `upkeep VERB [ARG]`, or NULL when out of memory. */
static json_t *agent_request(const char *verb, const char *arg)
{
        if (streq(verb, "forget-release"))
                return json_pack("{s:s,s:s}", "method", verb, "release", arg);
        if (arg)
                return json_pack("{s:s,s:s}", "method", verb, "allow", arg);
        return json_pack("{s:s}", "method", verb);
}

#define WAIT_HEALTH_DEFAULT_SECS 1800

/* agent_call() without its error messages: while waiting, an agent that is not up yet is expected. */
static int agent_call_quiet(const char *socket_path, const json_t *request, json_t **ret)
{
        int level = log_get_max_level(), r;

        log_set_max_level(-1);
        r = agent_call(socket_path, request, ret);
        log_set_max_level(level);
        return r;
}

/* `upkeep status --wait-health`: asks the agent once a second (it may not be up yet) until its boot
 * assessment passes or fails, or the time is up. */
static int wait_health(const char *socket_path, uint64_t secs)
{
        _cleanup_json_ json_t *request = agent_request("status", NULL);
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + secs * USEC_PER_SEC;
        char last[64] = "";

        if (!request)
                return log_error_errno(ENOMEM, "out of memory");
        for (;;) {
                _cleanup_json_ json_t *reply = NULL;
                const char *state = "";
                HealthGate g = HEALTH_GATE_WAIT;

                if (agent_call_quiet(socket_path, request, &reply) >= 0 &&
                    json_is_true(json_object_get(reply, "ok")))
                        g = status_health_gate(json_object_get(reply, "status"), &state);
                else
                        state = "(agent not answering)";
                if (g == HEALTH_GATE_PASS) {
                        printf("this boot is good (health: %s)\n", *state ? state : "no assessment");
                        return 0;
                }
                if (g == HEALTH_GATE_FAIL)
                        return log_error_errno(EIO,
                                               "this boot needs manual intervention (health: %s); see "
                                               "`upkeep status`",
                                               state);
                if (!streq(last, state)) {
                        char shown[64];
                        agent_text_copy(shown, sizeof shown, state);
                        printf("waiting for the boot assessment (health: %s)\n", *shown ? shown : "-");
                        fflush(stdout);
                        snprintf(last, sizeof last, "%s", state);
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return log_error_errno(ETIMEDOUT, "no verdict on this boot after %" PRIu64 " s",
                                               secs);
                (void)usleep(USEC_PER_SEC);
        }
}

/* upkeep status [--wait-health] | update-now [--allow VERSION] | forget-release VERSION */
int agent_cmd(int argc, char **argv)
{
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
                { "allow", required_argument, NULL, 'a' },  { "wait-health", optional_argument, NULL, 'w' },
                { "help", no_argument, NULL, 'h' },         {},
        };
        const char *socket_path = AGENT_DEFAULT_STATUS_SOCKET, *verb = argv[0], *arg = NULL;
        _cleanup_json_ json_t *request = NULL, *reply = NULL;
        bool json = false, forget = streq(verb, "forget-release");
        uint64_t wait_secs = 0;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 's':
                        socket_path = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'a':
                        if (!streq(verb, "update-now"))
                                return log_error_errno(EINVAL, "--allow is an option of update-now");
                        arg = optarg;
                        break;
                case 'w':
                        if (!streq(verb, "status"))
                                return log_error_errno(EINVAL, "--wait-health is an option of status");
                        wait_secs = WAIT_HEALTH_DEFAULT_SECS;
                        if (optarg && (safe_atou64(optarg, &wait_secs) < 0 || wait_secs == 0 ||
                                       wait_secs > 7 * 24 * 3600))
                                return log_error_errno(EINVAL,
                                                       "--wait-health: '%s' is not a number of seconds "
                                                       "(1 to 604800)",
                                                       optarg);
                        break;
                case 'h':
                        agent_usage(stdout);
                        return 0;
                default:
                        agent_usage(stderr);
                        return -EINVAL;
                }
        if (forget && optind < argc)
                arg = argv[optind++];
        if (forget && !arg) {
                agent_usage(stderr);
                return log_error_errno(EINVAL, "forget-release needs a release version or checksum");
        }
        if (optind < argc) {
                agent_usage(stderr);
                return log_error_errno(EINVAL, "unexpected argument '%s'", argv[optind]);
        }
        if (wait_secs > 0)
                return wait_health(socket_path, wait_secs);
        request = agent_request(verb, arg);
        if (!request)
                return log_error_errno(ENOMEM, "out of memory");
        r = agent_call(socket_path, request, &reply);
        if (r < 0)
                return r;
        if (!json_is_true(json_object_get(reply, "ok"))) {
                const json_t *m = json_object_get(reply, "error");
                char text[AGENT_TEXT_MAX];
                agent_text_copy(text, sizeof text,
                                json_is_string(m) ? json_string_value(m) : "request failed");
                return log_error_errno(EIO, "upkeep-agent: %s", text);
        }
        /* an agent older than --allow starts a plain update check and says nothing of it */
        if (arg && !forget && !strstr(json_string_value(json_object_get(reply, "message")) ?: "", arg))
                log_warning("this upkeep-agent does not know --allow: it started a plain update check");
        return agent_print(reply, json);
}

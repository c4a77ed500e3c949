/* upkeep.c — the Upkeep command line for operators and release engineers.
 *
 *   upkeep graph build --releases R --updates U --basearch A [--stream S] [--wariness W] [--now EPOCH]
 *                      [--oci] [--format json|text|dot]
 *   upkeep graph query URL --stream S --basearch A [--wariness W] [--node-uuid U] [--oci]
 *                      [--format json|text|dot]
 *   upkeep lock status|release|pause|resume ... [--url URL] [--token-file PATH] [--json]
 *   upkeep status [--socket PATH] [--json]
 *   upkeep update-now [--socket PATH] [--json]
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent-config.h"
#include "agent-status.h"
#include "daemon-util.h"
#include "buf.h"
#include "fileio.h"
#include "json-util.h"
#include "lock-config.h"
#include "config.h"
#include "graph-build.h"
#include "graph-metadata.h"
#include "graph.h"
#include "http-client.h"
#include "log.h"
#include "source.h"
#include "strutil.h"
#include "time-util.h"

#define CLI_MAX_DOCUMENT (64u * 1024u * 1024u)

typedef enum Format { FORMAT_JSON, FORMAT_TEXT, FORMAT_DOT } Format;

static int parse_format(const char *s, Format *ret)
{
        if (streq(s, "json"))
                *ret = FORMAT_JSON;
        else if (streq(s, "text"))
                *ret = FORMAT_TEXT;
        else if (streq(s, "dot"))
                *ret = FORMAT_DOT;
        else
                return log_error_errno(EINVAL, "unknown format '%s' (json, text or dot)", s);
        return 0;
}

static int print_graph(const Graph *g, const bool *hidden, Format f)
{
        Buf b = BUF_INIT(1u << 30);
        int r;

        switch (f) {
        case FORMAT_JSON:
                r = graph_write_json(g, hidden, &b);
                break;
        case FORMAT_TEXT:
                r = graph_write_text(g, hidden, &b);
                break;
        default:
                r = graph_write_dot(g, hidden, &b);
        }
        if (r >= 0) {
                fwrite(b.data, 1, b.len, stdout);
                if (f == FORMAT_JSON)
                        putchar('\n');
                r = fflush(stdout) == 0 ? 0 : -EIO;
        }
        buf_free(&b);
        return r;
}

static void graph_usage(FILE *f)
{
        fprintf(f, "usage:\n"
                   "  upkeep graph build --releases FILE|URL --updates FILE|URL --basearch ARCH\n"
                   "                     [--stream NAME] [--wariness W] [--now EPOCH] [--oci]\n"
                   "                     [--format json|text|dot]\n"
                   "      The graph a node of wariness W sees at time EPOCH (default: now). Without\n"
                   "      --wariness, the whole graph with no rollout throttling.\n"
                   "  upkeep graph query URL --stream NAME --basearch ARCH [--wariness W]\n"
                   "                     [--node-uuid UUID] [--oci] [--format json|text|dot]\n"
                   "      Ask a running upkeep-graph (or any Cincinnati server) at URL.\n");
}

static const struct option graph_options[] = {
        { "releases", required_argument, NULL, 'r' },
        { "updates", required_argument, NULL, 'u' },
        { "basearch", required_argument, NULL, 'a' },
        { "stream", required_argument, NULL, 's' },
        { "wariness", required_argument, NULL, 'w' },
        { "now", required_argument, NULL, 'n' },
        { "oci", no_argument, NULL, 'o' },
        { "format", required_argument, NULL, 'f' },
        { "node-uuid", required_argument, NULL, 'U' },
        { "help", no_argument, NULL, 'h' },
        {},
};

typedef struct GraphArgs {
        const char *releases, *updates, *basearch, *stream, *node_uuid, *url;
        bool has_wariness, oci;
        double wariness;
        int64_t now;
        Format format;
} GraphArgs;

static int parse_graph_args(int argc, char **argv, GraphArgs *a)
{
        int c;

        a->now = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_SEC);
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", graph_options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        a->releases = optarg;
                        break;
                case 'u':
                        a->updates = optarg;
                        break;
                case 'a':
                        a->basearch = optarg;
                        break;
                case 's':
                        a->stream = optarg;
                        break;
                case 'U':
                        a->node_uuid = optarg;
                        break;
                case 'w':
                        if (wariness_parse(optarg, &a->wariness) < 0)
                                return log_error_errno(EINVAL, "--wariness: '%s' is not a number", optarg);
                        a->has_wariness = true;
                        break;
                case 'n':
                        if (safe_atoi64(optarg, &a->now) < 0)
                                return log_error_errno(EINVAL, "--now: '%s' is not a unix time in seconds",
                                                       optarg);
                        break;
                case 'o':
                        a->oci = true;
                        break;
                case 'f':
                        if (parse_format(optarg, &a->format) < 0)
                                return -EINVAL;
                        break;
                case 'h':
                        graph_usage(stdout);
                        exit(EXIT_SUCCESS);
                default:
                        graph_usage(stderr);
                        return -EINVAL;
                }
        return 0;
}

static int fetch(const char *spec, char **data, size_t *len)
{
        HttpClientOptions o = { .max_body_bytes = CLI_MAX_DOCUMENT };
        HttpClient *client = NULL;
        Error e = { { 0 } };
        int r;

        if (source_is_url(spec) && (r = http_client_new(&o, &client)) < 0)
                return log_error_errno(r, "cannot set up the HTTP client");
        r = source_fetch(spec, client, CLI_MAX_DOCUMENT, data, len, &e);
        http_client_free(client);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        return 0;
}

static int graph_build_cmd(int argc, char **argv)
{
        _cleanup_free_ char *rdata = NULL, *udata = NULL;
        _cleanup_free_ bool *hidden = NULL;
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        GraphArgs a = { 0 };
        Error e = { { 0 } };
        size_t rlen, ulen;
        int r;

        if ((r = parse_graph_args(argc, argv, &a)) < 0)
                return r;
        if (optind < argc)
                return log_error_errno(EINVAL, "unexpected argument '%s'", argv[optind]);
        if (!a.releases || !a.updates || !a.basearch) {
                graph_usage(stderr);
                return log_error_errno(EINVAL, "--releases, --updates and --basearch are required");
        }
        if ((r = fetch(a.releases, &rdata, &rlen)) < 0 || (r = fetch(a.updates, &udata, &ulen)) < 0)
                return r;
        r = release_index_parse(rdata, rlen, &ri, &e);
        if (r < 0)
                return log_error_errno(r, "%s: %s", a.releases, e.message);
        r = update_metadata_parse(udata, ulen, &um, &e);
        if (r < 0) {
                release_index_free(ri);
                return log_error_errno(r, "%s: %s", a.updates, e.message);
        }
        for (size_t i = 0; i < um->n_warnings; i++)
                log_warning("%s: %s", a.updates, um->warnings[i]);
        if (a.stream && !streq(um->stream, a.stream))
                r = log_error_errno(EINVAL, "%s: update metadata is for stream '%s', not '%s'", a.updates,
                                    um->stream, a.stream);
        else {
                r = graph_build(ri, um, a.basearch, a.oci ? GRAPH_SCHEME_OCI : GRAPH_SCHEME_CHECKSUM, &g,
                                &e);
                if (r < 0)
                        log_error_errno(r, "%s", e.message);
        }
        release_index_free(ri);
        update_metadata_free(um);
        if (r < 0)
                return r;
        if (a.has_wariness) {
                hidden = calloc(g->n_nodes + 1, sizeof(bool));
                if (!hidden) {
                        graph_free(g);
                        return log_error_errno(ENOMEM, "out of memory");
                }
                graph_hidden_nodes(g, a.wariness, a.now, hidden);
        }
        r = print_graph(g, hidden, a.format);
        graph_free(g);
        return r;
}

static int append_param(Buf *b, const char *name, const char *value)
{
        int r = buf_printf(b, "%c%s=", strchr(b->data, '?') ? '&' : '?', name);
        for (const unsigned char *p = (const unsigned char *)value; r >= 0 && *p; p++)
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    strchr("-._~", *p))
                        r = buf_putc(b, (char)*p);
                else
                        r = buf_printf(b, "%%%02X", *p);
        return r;
}

/* Joins base with "v1/graph" as an RFC 3986 relative reference, as Zincati does; a base that already
 * names the endpoint (".../v1/graph", with or without a trailing slash) is taken as it is. */
static int graph_url(const char *base, Buf *b)
{
        const char *scheme_end = strstr(base, "://");
        const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
        size_t len = strlen(base);

        if (!scheme_end)
                return -EINVAL;
        if (len > 0 && base[len - 1] == '/')
                len--;
        if (path && len >= strlen("/v1/graph") && base + len - strlen("/v1/graph") >= path &&
            strncmp(base + len - strlen("/v1/graph"), "/v1/graph", strlen("/v1/graph")) == 0)
                return buf_append(b, base, len);
        if (!path)
                return buf_printf(b, "%s/v1/graph", base);
        const char *slash = strrchr(path, '/');
        int r = buf_append(b, base, (size_t)(slash - base) + 1);
        return r < 0 ? r : buf_puts(b, "v1/graph");
}

static int graph_query_cmd(int argc, char **argv)
{
        static const char *const headers[] = { "Accept: application/json", NULL };
        HttpClientOptions o = { .max_body_bytes = CLI_MAX_DOCUMENT };
        HttpClient *client = NULL;
        HttpResponse resp = { 0 };
        GraphArgs a = { 0 };
        Buf url = BUF_INIT(8192);
        Error e = { { 0 } };
        char num[32];
        Graph *g = NULL;
        int r;

        if ((r = parse_graph_args(argc, argv, &a)) < 0)
                return r;
        if (optind + 1 != argc || !a.stream || !a.basearch) {
                graph_usage(stderr);
                return log_error_errno(EINVAL, "a URL, --stream and --basearch are required");
        }
        a.url = argv[optind];
        if (!source_is_url(a.url))
                return log_error_errno(EINVAL, "'%s' is not an http(s) URL", a.url);
        r = graph_url(a.url, &url);
        if (r >= 0)
                r = append_param(&url, "basearch", a.basearch);
        if (r >= 0)
                r = append_param(&url, "stream", a.stream);
        if (r >= 0 && a.has_wariness) {
                snprintf(num, sizeof(num), "%.6f", a.wariness);
                r = append_param(&url, "rollout_wariness", num);
        }
        if (r >= 0 && a.node_uuid)
                r = append_param(&url, "node_uuid", a.node_uuid);
        if (r >= 0 && a.oci)
                r = append_param(&url, "oci", "true");
        if (r < 0) {
                buf_free(&url);
                return log_error_errno(EINVAL, "cannot build the request URL from '%s'", a.url);
        }
        r = http_client_new(&o, &client);
        if (r >= 0)
                r = http_client_request(client, "GET", url.data, headers, NULL, 0, &resp, &e);
        http_client_free(client);
        if (r < 0) {
                log_error_errno(r, "%s", e.message);
                goto out;
        }
        if (resp.status != 200) {
                r = log_error_errno(EPROTO, "%s: HTTP %ld: %s", url.data, resp.status,
                                    resp.body_len ? resp.body : "(empty body)");
                goto out;
        }
        if (a.format == FORMAT_JSON) {
                fwrite(resp.body, 1, resp.body_len, stdout);
                putchar('\n');
                r = fflush(stdout) == 0 ? 0 : -EIO;
                goto out;
        }
        r = graph_parse_json(resp.body, resp.body_len, &g, &e);
        if (r < 0) {
                log_error_errno(r, "%s: %s", url.data, e.message);
                goto out;
        }
        r = print_graph(g, NULL, a.format);
        graph_free(g);
out:
        http_response_done(&resp);
        buf_free(&url);
        return r;
}

/* ---- upkeep lock ---- */

static void lock_usage(FILE *f)
{
        fprintf(f, "usage:\n"
                   "  upkeep lock status [GROUP]          groups, slots, holders and their ages, windows, "
                   "pause\n"
                   "  upkeep lock release GROUP ID        force-release a holder's slot\n"
                   "  upkeep lock pause GROUP             stop granting slots in GROUP\n"
                   "  upkeep lock resume GROUP            grant slots again\n"
                   "options:\n"
                   "  --url URL            upkeep-lock's address (default http://127.0.0.1:3333)\n"
                   "  --token-file PATH    the admin token (or $UPKEEP_ADMIN_TOKEN; "
                   "default " LOCK_ADMIN_TOKEN_DEFAULT
                   ", the token upkeep-lock generates at its first start, readable by root)\n"
                   "  --json               print the server's JSON answer\n");
}

static void format_age(int64_t secs, char *out, size_t n)
{
        if (secs < 120)
                snprintf(out, n, "%llds", (long long)secs);
        else if (secs < 7200)
                snprintf(out, n, "%lldm", (long long)(secs / 60));
        else if (secs < 172800)
                snprintf(out, n, "%lldh%02lldm", (long long)(secs / 3600), (long long)(secs % 3600 / 60));
        else
                snprintf(out, n, "%lldd", (long long)(secs / 86400));
}

static void format_time(int64_t t, char *out, size_t n)
{
        struct tm tm;
        time_t tt = (time_t)t;
        if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm))
                snprintf(out, n, "%lld", (long long)t);
}

static int print_groups(const char *body, size_t len)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *groups, *g;
        Error e = { { 0 } };
        size_t i;

        if (json_parse_strict(body, len, &root, &e) < 0)
                return log_error_errno(EPROTO, "the server's answer is not JSON: %s", e.message);
        groups = json_object_get(root, "groups");
        if (!groups) { /* one group: list it alone */
                groups = json_array();
                if (!groups || json_array_append(groups, root) < 0) {
                        json_decref(groups);
                        return log_error_errno(ENOMEM, "out of memory");
                }
        } else
                json_incref(groups);
        printf("%-20s %5s %7s  %-6s  %s\n", "GROUP", "SLOTS", "HOLDERS", "PAUSED", "WINDOW");
        json_array_foreach(groups, i, g) {
                json_t *holders = json_object_get(g, "holders"), *h, *w = json_object_get(g, "window");
                char window[128] = "always open";
                size_t k;

                if (json_is_true(json_object_get(w, "configured"))) {
                        char t[64] = "";
                        bool open = json_is_true(json_object_get(w, "open"));
                        json_t *next = json_object_get(w, open ? "next_close" : "next_open");
                        if (json_is_integer(next))
                                format_time(json_integer_value(next), t, sizeof(t));
                        snprintf(window, sizeof(window), "%s%s%s", open ? "open" : "closed",
                                 *t ? (open ? ", closes " : ", opens ") : "", t);
                }
                printf("%-20s %5lld %7zu  %-6s  %s\n", json_string_value(json_object_get(g, "name")) ?: "?",
                       (long long)json_integer_value(json_object_get(g, "slots")), json_array_size(holders),
                       json_is_true(json_object_get(g, "paused")) ? "yes" : "no", window);
                json_array_foreach(holders, k, h) {
                        char age[32], since[64];
                        format_age(json_integer_value(json_object_get(h, "age_secs")), age, sizeof(age));
                        format_time(json_integer_value(json_object_get(h, "since")), since, sizeof(since));
                        printf("    holder %-34s since %s (%s)\n",
                               json_string_value(json_object_get(h, "id")) ?: "?", since, age);
                }
        }
        json_decref(groups);
        return 0;
}

/* The admin token: from token_file, else $UPKEEP_ADMIN_TOKEN, else the token upkeep-lock generates on its
 * defaults (LOCK_ADMIN_TOKEN_DEFAULT) when this user may read it, else none (*ret = NULL). */
static int lock_read_token(const char *token_file, char **ret)
{
        _cleanup_free_ char *token = NULL;
        const char *env;
        size_t n;
        int r;

        if ((env = getenv("UPKEEP_ADMIN_TOKEN")) && !token_file) {
                if (!(token = strdup(env)))
                        return log_error_errno(ENOMEM, "out of memory");
                *ret = TAKE_PTR(token);
                return 0;
        }
        r = read_full_file(token_file ? token_file : LOCK_ADMIN_TOKEN_DEFAULT, 4096, &token, &n);
        if (r < 0 && token_file)
                return log_error_errno(r, "%s: %m", token_file);
        if (r < 0) { /* no generated token here (another host, not root): ask without one */
                *ret = NULL;
                return 0;
        }
        while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' '))
                token[--n] = 0;
        *ret = TAKE_PTR(token);
        return 0;
}

/* Appends "/" and the group name percent-encoded (every byte but A-Za-z0-9-._~), as upkeep-lock decodes it:
 * Airlock's group names may hold '/', spaces or '%'. */
static int put_group(Buf *url, const char *group)
{
        int r = buf_putc(url, '/');

        for (const unsigned char *p = (const unsigned char *)group; r >= 0 && *p; p++)
                r = (isalnum(*p) || strchr("-._~", *p)) ? buf_putc(url, (char)*p)
                                                        : buf_printf(url, "%%%02X", *p);
        return r;
}

/* The URL (base + /v1/groups...) and body of the request for verb and its arguments argv[0..argc). */
static int lock_build_request(const char *base, const char *verb, int argc, char **argv, Buf *url, Buf *body)
{
        int r = buf_puts(url, base);

        while (r >= 0 && url->len > 0 && url->data[url->len - 1] == '/')
                buf_truncate(url, url->len - 1);
        if (r >= 0)
                r = buf_puts(url, "/v1/groups");
        if (r < 0)
                return r;
        if (streq(verb, "status") && argc <= 1)
                return argc == 1 ? put_group(url, argv[0]) : 0;
        if (streq(verb, "release") && argc == 2) {
                r = put_group(url, argv[0]);
                if (r >= 0)
                        r = buf_puts(url, "/release");
                if (r >= 0)
                        r = buf_puts(body, "{\"id\":");
                if (r >= 0)
                        r = buf_put_json_string(body, argv[1], strlen(argv[1]));
                if (r >= 0)
                        r = buf_putc(body, '}');
                return r;
        }
        if ((streq(verb, "pause") || streq(verb, "resume")) && argc == 1) {
                r = put_group(url, argv[0]);
                return r < 0 ? r : buf_printf(url, "/%s", verb);
        }
        lock_usage(stderr);
        return -EINVAL;
}

/* What to do about an admin API that is off (404 on /v1/groups) or refuses the token (401). */
static const char *lock_hint(long status, const char *token)
{
        if (status == 401 && !token)
                return "\nupkeep-lock's admin API needs a token: give --token-file or $UPKEEP_ADMIN_TOKEN; "
                       "on the "
                       "lock server's host, sudo upkeep lock status reads " LOCK_ADMIN_TOKEN_DEFAULT;
        if (status == 401)
                return "\nthe admin token was refused: is it the one upkeep-lock has (admin_token, "
                       "admin_token_file "
                       "or " LOCK_ADMIN_TOKEN_DEFAULT ")?";
        if (status == 404)
                return "\nupkeep-lock's admin API may be off: it is on with admin_token, admin_token_file "
                       "or the "
                       "token it generates at first start (" LOCK_ADMIN_TOKEN_DEFAULT ")";
        return "";
}

/* Sends the request and prints the answer (a status table, or the server's JSON). */
static int lock_call(const char *verb, const Buf *url, const Buf *body, const char *token, bool json)
{
        HttpClientOptions o = { .max_body_bytes = CLI_MAX_DOCUMENT };
        HttpClient *client = NULL;
        HttpResponse resp = { 0 };
        Buf auth = BUF_INIT(8192);
        const char *headers[] = { "Accept: application/json", NULL, NULL };
        Error e = { { 0 } };
        int r;

        if (token && (r = buf_printf(&auth, "Authorization: Bearer %s", token)) < 0)
                goto out;
        headers[1] = token ? auth.data : NULL;
        r = http_client_new(&o, &client);
        if (r >= 0)
                r = http_client_request(client, streq(verb, "status") ? "GET" : "POST", url->data, headers,
                                        body->len ? body->data : NULL, body->len, &resp, &e);
        if (r < 0)
                log_error_errno(r, "%s", e.message);
        else if (resp.status != 200)
                r = log_error_errno(EPROTO, "%s: HTTP %ld: %s%s", url->data, resp.status,
                                    resp.body_len ? resp.body : "(empty body)",
                                    lock_hint(resp.status, token));
        else if (json || !streq(verb, "status"))
                printf("%s\n", resp.body);
        else
                r = print_groups(resp.body, resp.body_len);
out:
        http_client_free(client);
        http_response_done(&resp);
        buf_free(&auth);
        return r;
}

static int lock_cmd(int argc, char **argv)
{
        static const struct option options[] = {
                { "url", required_argument, NULL, 'u' },
                { "token-file", required_argument, NULL, 't' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *base = "http://127.0.0.1:3333", *token_file = NULL, *verb;
        _cleanup_free_ char *token = NULL;
        Buf url = BUF_INIT(8192), body = BUF_INIT(4096);
        bool json = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'u':
                        base = optarg;
                        break;
                case 't':
                        token_file = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        lock_usage(stdout);
                        return 0;
                default:
                        lock_usage(stderr);
                        return -EINVAL;
                }
        if (optind >= argc) {
                lock_usage(stderr);
                return -EINVAL;
        }
        verb = argv[optind++];
        if ((r = lock_read_token(token_file, &token)) < 0)
                return r;
        if (!source_is_url(base))
                return log_error_errno(EINVAL, "--url: '%s' is not an http(s) URL", base);
        r = lock_build_request(base, verb, argc - optind, argv + optind, &url, &body);
        if (r >= 0)
                r = lock_call(verb, &url, &body, token, json);
        buf_free(&url);
        buf_free(&body);
        return r;
}

/* ---- the node agent's status socket ---- */

#define AGENT_REPLY_MAX (1u << 20)
#define AGENT_TIMEOUT_MS 10000

static void agent_usage(FILE *f)
{
        fprintf(f, "usage:\n"
                   "  upkeep status [--socket PATH] [--json]\n"
                   "      What this node's upkeep-agent is doing: deployments, state, strategy, lock, last\n"
                   "      check, last error, download progress.\n"
                   "  upkeep update-now [--socket PATH] [--json]\n"
                   "      Check for an update now, ignoring the rollout wariness.\n"
                   "  The socket defaults to " AGENT_DEFAULT_STATUS_SOCKET " (root only).\n");
}

/* One request, one reply: see src/agent/agent-status.h. */
static int agent_call(const char *socket_path, const char *method, json_t **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char req[64];
        Buf reply = BUF_INIT(AGENT_REPLY_MAX);
        Error e = {};
        ssize_t n;
        int fd, r = 0;

        if (strlen(socket_path) >= sizeof sa.sun_path)
                return log_error_errno(ENAMETOOLONG, "socket path too long: %s", socket_path);
        strcpy(sa.sun_path, socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket: %m");
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                r = -errno;
                close(fd);
                return log_error_errno(r, "cannot reach upkeep-agent at %s: %m%s", socket_path,
                                       r == -EACCES ? " (the status socket is for root)" : "");
        }
        snprintf(req, sizeof req, "{\"method\":\"%s\"}\n", method);
        n = write(fd, req, strlen(req));
        if (n != (ssize_t)strlen(req)) {
                r = n < 0 ? -errno : -EIO; /* a short write leaves errno as it was */
                close(fd);
                return log_error_errno(r, "writing to %s: %m", socket_path);
        }
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
        close(fd);
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

static int agent_cmd(int argc, char **argv)
{
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *socket_path = AGENT_DEFAULT_STATUS_SOCKET, *method;
        _cleanup_json_ json_t *reply = NULL;
        bool json = false;
        int c, r;

        method = streq(argv[0], "status") ? "status" : "update-now";
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 's':
                        socket_path = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        agent_usage(stdout);
                        return 0;
                default:
                        agent_usage(stderr);
                        return -EINVAL;
                }
        if (optind < argc) {
                agent_usage(stderr);
                return log_error_errno(EINVAL, "unexpected argument '%s'", argv[optind]);
        }
        r = agent_call(socket_path, method, &reply);
        if (r < 0)
                return r;
        if (!json_is_true(json_object_get(reply, "ok"))) {
                const json_t *m = json_object_get(reply, "error");
                return log_error_errno(EIO, "upkeep-agent: %s",
                                       json_is_string(m) ? json_string_value(m) : "request failed");
        }
        if (json) {
                char *s = json_dumps(reply, JSON_INDENT(2));
                if (!s)
                        return log_error_errno(ENOMEM, "out of memory");
                puts(s);
                free(s);
                return 0;
        }
        if (streq(method, "update-now"))
                printf("Update check started.\n\n");
        {
                Buf out = BUF_INIT(1u << 20);
                r = agent_status_format(json_object_get(reply, "status"), &out);
                if (r < 0) {
                        buf_free(&out);
                        return log_error_errno(EIO, "upkeep-agent sent a reply without a status");
                }
                fwrite(out.data, 1, out.len, stdout);
                buf_free(&out);
        }
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "upkeep — auto-updates for fleets of image-based Linux hosts\n\n"
                "commands:\n"
                "  graph build     print the update graph built from a release index and update metadata\n"
                "  graph query     print the update graph a running server answers\n"
                "  lock status     upkeep-lock's groups: slots, holders and their ages, windows, pause\n"
                "  lock release    force-release a holder's slot\n"
                "  lock pause      stop granting slots in a group\n"
                "  lock resume     grant slots in a paused group again\n"
                "  status          what this node's upkeep-agent is doing\n"
                "  update-now      make this node's upkeep-agent check for an update now\n"
                "  --version       print the version\n\n"
                "'upkeep graph --help' and 'upkeep lock --help' for the options.\n");
}

int main(int argc, char **argv)
{
        int r;

        daemon_seed_hash_keys();
        log_set_prefix(0);
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                usage(stdout);
                return 0;
        }
        if (streq(argv[1], "--version")) {
                printf("upkeep %s\n", UPKEEP_VERSION);
                return 0;
        }
        if (streq(argv[1], "graph")) {
                if (argc < 3 || streq(argv[2], "--help") || streq(argv[2], "-h")) {
                        graph_usage(argc < 3 ? stderr : stdout);
                        return argc < 3 ? 2 : 0;
                }
                if (streq(argv[2], "build"))
                        r = graph_build_cmd(argc - 2, argv + 2);
                else if (streq(argv[2], "query"))
                        r = graph_query_cmd(argc - 2, argv + 2);
                else {
                        graph_usage(stderr);
                        return 2;
                }
                return r < 0 ? 1 : 0;
        }
        if (streq(argv[1], "lock"))
                return lock_cmd(argc - 1, argv + 1) < 0 ? 1 : 0;
        if (streq(argv[1], "status") || streq(argv[1], "update-now"))
                return agent_cmd(argc - 1, argv + 1) < 0 ? 1 : 0;
        log_error("unknown command '%s'", argv[1]);
        usage(stderr);
        return 2;
}

/* cli-graph.c — `upkeep graph build` (the graph upkeep-graph would serve, from a release index and update
 * metadata) and `upkeep graph query` (what a running server answers), as JSON, text or Graphviz dot. */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "graph-build.h"
#include "log.h"
#include "source.h"
#include "strutil.h"
#include "time-util.h"

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

void graph_usage(FILE *f)
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

int cli_fetch(const char *spec, char **data, size_t *len)
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

int graph_build_cmd(int argc, char **argv)
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
        if ((r = cli_fetch(a.releases, &rdata, &rlen)) < 0 || (r = cli_fetch(a.updates, &udata, &ulen)) < 0)
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

int graph_query_cmd(int argc, char **argv)
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

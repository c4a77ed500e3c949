/* upkeep-agent-worker.c — the short-lived process that performs one of upkeep-agent's actions that need
 * the network or the OS layer (libcurl, libostree/GLib), so the resident daemon maps neither. Protocol
 * (worker-protocol.h, docs/agent.md "The worker"): one JSON request on stdin; zero or more
 * {"progress":{...}} lines and then one result line on stdout; exit status 0 whenever a result was
 * written (success or not). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent-config.h"
#include "agent-identity.h"
#include "agent-target.h"
#include "buf.h"
#include "config.h"
#include "daemon-util.h"
#include "fileio.h"
#include "graph-cache.h"
#include "graph.h"
#include "http-client.h"
#include "json-util.h"
#include "os-backend.h"
#include "strutil.h"
#include "strv.h"
#include "worker-protocol.h"

/* A graph answer: about 44 KB for Fedora CoreOS's 179 stable releases today; parsing costs several times
 * the document, so the cap stays near what real graphs need, with a wide margin. */
#define GRAPH_MAX_BYTES (4u << 20)
#define GRAPH_CACHE_FILE_MAX (GRAPH_MAX_BYTES + GRAPH_CACHE_URL_MAX + GRAPH_CACHE_ETAG_MAX + 64)
_Static_assert(GRAPH_CACHE_ETAG_MAX == HTTP_ETAG_MAX, "the cache keeps the ETags the client keeps");

/* Writes one line (taken) to stdout; a line that could not be made becomes "out of memory". */
static void put_line(int r, char *line)
{
        if (r < 0 || !line)
                puts("{\"ok\":false,\"error\":\"out of memory\",\"errno\":12}");
        else
                fputs(line, stdout);
        fflush(stdout);
        free(line);
}

/* The success line: {"ok":true} plus the members of j (taken). */
static void emit(json_t *j)
{
        char *line = NULL;
        int r = j ? worker_success_format(j, &line) : -ENOMEM;
        put_line(r, line);
}

static int fail(int r, WorkerErrorKind kind, const char *msg)
{
        char *line = NULL;
        int k = worker_failure_format(r, kind, msg, &line);
        put_line(k, line);
        return 0;
}

/* A failed graph request, with the kind Zincati counts it as. */
static void fail_graph(int r, WorkerErrorKind kind, const char *metric_kind, const char *msg)
{
        char *line = NULL;
        int k = worker_failure_format_metric(r, kind, metric_kind, msg, &line);
        put_line(k, line);
}

static const char *jstr(const json_t *o, const char *k)
{
        const json_t *v = json_object_get(o, k);
        return json_is_string(v) ? json_string_value(v) : NULL;
}

static int open_backend(const json_t *req, OsBackend **ret, Error *e)
{
        const json_t *os = json_object_get(req, "os"), *booted;
        OsBackendOptions o = { .client_id = "upkeep-agent" };
        const char *kind;

        if (!json_is_object(os))
                return error_setf(e, -EINVAL, "request: \"os\" must be an object");
        kind = jstr(os, "backend");
        o.kind = kind && streq(kind, "rpm-ostree") ? OS_BACKEND_RPM_OSTREE : OS_BACKEND_OSTREE;
        o.sysroot = jstr(os, "sysroot");
        o.osname = jstr(os, "osname");
        o.remote = jstr(os, "remote");
        o.stream_metadata_key = jstr(os, "stream_metadata_key");
        o.rpm_ostree_path = jstr(os, "rpm_ostree_path");
        o.skip_register = !json_is_true(json_object_get(os, "register"));
        booted = json_object_get(os, "booted");
        if (json_is_object(booted)) {
                o.booted_osname = jstr(booted, "osname");
                o.booted_checksum = jstr(booted, "checksum");
                o.booted_serial = (int)json_integer_value(json_object_get(booted, "serial"));
        }
        return os_backend_open(&o, ret, e);
}

static json_t *deployments_json(const OsStatus *st)
{
        json_t *a = json_array();

        for (size_t i = 0; a && i < st->n_deployments; i++) {
                const OsDeployment *d = &st->deployments[i];
                json_array_append_new(a,
                                      json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:I,s:i,s:b,s:b,s:b}", "osname",
                                                d->osname, "checksum", d->checksum, "image", d->image,
                                                "version", d->version, "stream", d->stream, "timestamp",
                                                (json_int_t)d->timestamp, "serial", d->serial, "booted",
                                                d->booted, "staged", d->staged, "rollback", d->rollback));
        }
        return a;
}

static int cmd_status(const json_t *req)
{
        OsBackend *b = NULL;
        OsStatus st = {};
        Error e = {};
        int r;

        r = open_backend(req, &b, &e);
        if (r >= 0)
                r = os_backend_status(b, &st, &e);
        if (r < 0) {
                os_backend_free(b);
                return fail(r, WORKER_ERROR_OS, e.message);
        }
        emit(json_pack("{s:o}", "deployments", deployments_json(&st)));
        os_status_done(&st);
        os_backend_free(b);
        return 0;
}

static char *expand(const json_t *p, const char *template, const char *stream, Error *e)
{
        char *url = NULL;
        if (!template) {
                error_setf(e, -EINVAL, "no base URL");
                return NULL;
        }
        if (agent_config_expand_url(template, jstr(p, "basearch") ?: "", jstr(p, "group") ?: "",
                                    jstr(p, "platform") ?: "", stream ?: "", &url, e) < 0)
                return NULL;
        return url;
}

static HttpClient *client_with(size_t max_body, const char *accept_encoding)
{
        HttpClient *c = NULL;
        HttpClientOptions ho = { .connect_timeout_ms = 10000,
                                 .total_timeout_ms = 60000,
                                 .max_body_bytes = max_body,
                                 .accept_encoding = accept_encoding };
        return http_client_new(&ho, &c) < 0 ? NULL : c;
}

static HttpClient *client(size_t max_body)
{
        return client_with(max_body, NULL);
}

static WorkerDecision decision(TargetDecision d)
{
        static const WorkerDecision decisions[] = {
                [TARGET_NOT_IN_GRAPH] = WORKER_DECISION_NOT_IN_GRAPH,
                [TARGET_NO_UPDATE] = WORKER_DECISION_NO_UPDATE,
                [TARGET_UPDATE] = WORKER_DECISION_UPDATE,
                [TARGET_DOWNGRADE_REFUSED] = WORKER_DECISION_DOWNGRADE_REFUSED,
        };
        return (size_t)d < ELEMENTSOF(decisions) ? decisions[d] : WORKER_DECISION_DOWNGRADE_REFUSED;
}

/* A graph answer other than 2xx: the server's error kind when its body is Cincinnati's error object
 * ({"kind": ..., "value": ...}), else Zincati's generic_http_NNN. */
static void http_failure(const char *base, const HttpResponse *resp)
{
        _cleanup_json_ json_t *j = NULL;
        char body[128] = "", kind[64], msg[WORKER_MESSAGE_MAX];
        Error ignored = {};
        size_t n = 0;

        for (const char *c = resp->body ? resp->body : ""; *c && n + 1 < sizeof body; c++)
                body[n++] = (*c < 0x20 || *c == 0x7f) ? ' ' : *c;
        body[n] = 0;
        snprintf(msg, sizeof msg, "%s answered HTTP %ld: %s", base, resp->status, body);
        snprintf(kind, sizeof kind, "generic_http_%ld", resp->status);
        if (resp->body && json_parse_strict(resp->body, resp->body_len, &j, &ignored) >= 0 &&
            jstr(j, "kind") && *jstr(j, "kind") && jstr(j, "value"))
                snprintf(kind, sizeof kind, "%s", jstr(j, "kind"));
        fail_graph(-EPROTO, WORKER_ERROR_HTTP_STATUS, kind, msg);
}

/* The cache file's bytes when it holds an answer for url (*ret_entry points into them; the caller frees
 * them), else NULL. */
static char *cache_load(const char *path, const char *url, GraphCacheEntry *ret_entry)
{
        char *data = NULL;
        size_t len;

        if (!path || read_full_file(path, GRAPH_CACHE_FILE_MAX, &data, &len) < 0)
                return NULL;
        if (graph_cache_parse(data, len, ret_entry) < 0 || !streq(ret_entry->url, url)) {
                free(data);
                return NULL;
        }
        return data;
}

/* Keeps the answer to url for the next poll; an answer without an ETag drops the cache instead. Errors
 * only cost the next poll its If-None-Match. */
static void cache_store(const char *path, const char *url, const HttpResponse *resp)
{
        Buf b = BUF_INIT(GRAPH_CACHE_FILE_MAX);
        Error e = {};

        if (!path)
                return;
        if (graph_cache_format(url, resp->etag, resp->body, resp->body_len, &b) < 0 ||
            write_file_atomic(path, b.data, b.len, 0644, &e) < 0)
                (void)unlink(path);
        buf_free(&b);
}

/* GETs the graph at url, conditionally when the cache at cache_path (NULL: none) holds an answer for it.
 * 0 with *ret_g, or a negative errno with the failure line written. */
static int get_graph(const char *base, const char *url, const char *cache_path, Graph **ret_g)
{
        _cleanup_free_ char *cached_data = NULL;
        GraphCacheEntry cached = {};
        char inm[32 + GRAPH_CACHE_ETAG_MAX], msg[WORKER_MESSAGE_MAX];
        const char *headers[] = { "Accept: application/json", NULL, NULL };
        HttpClient *http = client_with(GRAPH_MAX_BYTES, "gzip"); /* upkeep-graph sends ~4x fewer bytes */
        HttpResponse resp = {};
        Error e = {};
        int r;

        if (!http)
                return fail(-ENOMEM, WORKER_ERROR_IDENTITY, "cannot create the HTTP client"), -ENOMEM;
        cached_data = cache_load(cache_path, url, &cached);
        if (cached_data) {
                snprintf(inm, sizeof inm, "If-None-Match: %s", cached.etag);
                headers[1] = inm;
        }
        r = http_client_request(http, "GET", url, headers, NULL, 0, &resp, &e);
        if (r < 0) {
                snprintf(msg, sizeof msg, "%s: %s", base, e.message);
                fail_graph(r, WORKER_ERROR_CONNECTION, "client_failed_request", msg);
        } else if (resp.status == 304 && cached_data) { /* the graph has not changed since the last poll */
                if ((r = graph_parse_json(cached.body, cached.body_len, ret_g, &e)) < 0) {
                        (void)unlink(cache_path);
                        snprintf(msg, sizeof msg, "the cached answer of %s is bad: %s", base, e.message);
                        fail_graph(r, WORKER_ERROR_GRAPH_PARSE, "client_failed_json_decoding", msg);
                }
        } else if (resp.status < 200 || resp.status > 299) { /* any 2xx is a success, as in Zincati */
                http_failure(base, &resp);
                r = -EPROTO;
        } else if ((r = graph_parse_json(resp.body, resp.body_len, ret_g, &e)) < 0) {
                snprintf(msg, sizeof msg, "%s sent a bad graph: %s", base, e.message);
                fail_graph(r, WORKER_ERROR_GRAPH_PARSE, "client_failed_json_decoding", msg);
        } else if (!cached_data || !resp.etag || !streq(resp.etag, cached.etag))
                cache_store(cache_path, url, &resp); /* the same ETag is the same answer: kept already */
        http_response_done(&resp);
        http_client_free(http);
        return r;
}

/* The graph server's answer to this node (its identity and booted deployment): *ret_g, with the URL asked
 * in url. On failure the failure line is written and a negative errno returned. */
static int fetch_graph(const json_t *p, const OsDeployment *booted, Buf *url, Graph **ret_g)
{
        _cleanup_free_ char *base = NULL;
        Identity id = {};
        Error e = {};
        char msg[WORKER_MESSAGE_MAX];
        int r;

        base = expand(p, jstr(p, "base_url"), booted->stream, &e);
        if (!base) {
                snprintf(msg, sizeof msg, "cincinnati.base_url: %s", e.message);
                return fail(-EINVAL, WORKER_ERROR_IDENTITY, msg), -EINVAL;
        }
        snprintf(id.node_uuid, sizeof id.node_uuid, "%s", jstr(p, "node_uuid") ?: "");
        id.group = (char *)jstr(p, "group");
        id.basearch = (char *)jstr(p, "basearch");
        id.platform = (char *)jstr(p, "platform");
        id.stream = booted->stream;
        id.os_version = booted->version;
        id.os_checksum = (char *)os_deployment_payload(booted);
        id.oci = booted->image != NULL;
        if (json_is_number(json_object_get(p, "rollout_wariness"))) {
                id.has_rollout_wariness = true;
                id.rollout_wariness = json_number_value(json_object_get(p, "rollout_wariness"));
        }
        r = graph_request_url(base, &id, url);
        if (r >= 0)
                r = buf_putc(url, 0);
        if (r < 0) {
                snprintf(msg, sizeof msg, "cannot build the graph request URL from %s", base);
                return fail(r, WORKER_ERROR_IDENTITY, msg), r;
        }
        return get_graph(base, url->data, jstr(p, "cache"), ret_g);
}

/* Zincati's decision against the denylist: the releases deployed here (a staged one is resumed, not
 * skipped) and those that failed here. On failure the failure line is written. */
static int choose(const json_t *p, const OsStatus *st, const Graph *g, TargetChoice *ret)
{
        _cleanup_strv_free_ char **deny = NULL;
        const json_t *failed = json_object_get(p, "failed");
        size_t n_deny = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < st->n_deployments; i++)
                if (!st->deployments[i].staged && st->deployments[i].checksum)
                        r = strv_push(&deny, &n_deny, os_deployment_payload(&st->deployments[i]));
        for (size_t i = 0; r >= 0 && i < json_array_size(failed); i++)
                if (json_is_string(json_array_get(failed, i)))
                        r = strv_push(&deny, &n_deny, json_string_value(json_array_get(failed, i)));
        if (r >= 0)
                r = agent_choose_target(g, os_deployment_payload(st->booted), deny,
                                        json_is_true(json_object_get(p, "allow_downgrade")), ret);
        if (r < 0)
                fail(r, WORKER_ERROR_IDENTITY, "choosing a target: out of memory");
        return r;
}

static void emit_check(const OsStatus *st, const Graph *g, const Buf *url, const TargetChoice *choice)
{
        json_t *out = json_pack("{s:s,s:o,s:{s:I,s:I,s:I},s:s,s:b,s:s?}", "url", url->data, "deployments",
                                deployments_json(st), "graph", "nodes", (json_int_t)g->n_nodes, "edges",
                                (json_int_t)g->n_edges, "ignored", (json_int_t)choice->n_ignored, "decision",
                                worker_decision_to_string(decision(choice->decision)), "deadend",
                                choice->decision != TARGET_NOT_IN_GRAPH && choice->deadend, "deadend_reason",
                                choice->deadend ? choice->deadend_reason : NULL);

        if (out && choice->target != TARGET_NONE)
                json_object_set_new(out, "target",
                                    json_pack("{s:s?,s:s?}", "version", g->nodes[choice->target].version,
                                              "payload", g->nodes[choice->target].payload));
        emit(out);
}

/* Reads the deployments, asks the graph server, chooses the target (Zincati's decision). */
static int cmd_check(const json_t *req)
{
        const json_t *p = json_object_get(req, "graph");
        OsBackend *b = NULL;
        OsStatus st = {};
        Graph *g = NULL;
        TargetChoice choice;
        Buf url = BUF_INIT(3 * AGENT_CONFIG_MAX_URL);
        Error e = {};
        char msg[WORKER_MESSAGE_MAX];
        int r;

        if (!json_is_object(p))
                return fail(-EINVAL, WORKER_ERROR_IDENTITY, "request: \"graph\" must be an object");
        r = open_backend(req, &b, &e);
        if (r >= 0)
                r = os_backend_status(b, &st, &e);
        if (r < 0) {
                snprintf(msg, sizeof msg, "reading deployments: %s", e.message);
                fail(r, WORKER_ERROR_IDENTITY, msg);
        } else if (!st.booted)
                fail(-ENOENT, WORKER_ERROR_IDENTITY, "no booted deployment found");
        else if (fetch_graph(p, st.booted, &url, &g) >= 0 && choose(p, &st, g, &choice) >= 0)
                emit_check(&st, g, &url, &choice);
        if (g)
                graph_free(g);
        buf_free(&url);
        os_status_done(&st);
        os_backend_free(b);
        return 0;
}

/* The lock result: the HTTP status and, for a refusal, the server's {"kind","value"}. */
static void emit_lock_reply(const HttpResponse *resp, const char *url)
{
        _cleanup_json_ json_t *reply = NULL;
        const char *kind = NULL, *value = NULL;
        Error jerr = {};

        if ((resp->status < 200 || resp->status > 299) &&
            json_parse_strict(resp->body, resp->body_len, &reply, &jerr) >= 0 && json_is_object(reply)) {
                kind = jstr(reply, "kind");
                value = jstr(reply, "value");
        }
        emit(json_pack("{s:i,s:s?,s:s?,s:s}", "status", (int)resp->status, "kind", kind, "value", value,
                       "url", url));
}

/* One FleetLock call, shaped as Zincati sends it (pretty JSON, no Content-Type), with
 * "Authorization: Bearer <lock.token>" when the request has a token (never written anywhere else). */
static int cmd_lock(const json_t *req)
{
        const json_t *p = json_object_get(req, "lock");
        const char *api = jstr(p, "api"), *token = NULL;
        _cleanup_free_ char *base = NULL, *auth = NULL;
        HttpClient *http = NULL;
        HttpResponse resp = {};
        Buf url = BUF_INIT(2 * AGENT_CONFIG_MAX_URL), body = BUF_INIT(4096);
        Error e = {};
        char msg[WORKER_MESSAGE_MAX];
        int r;

        if (!json_is_object(p) || !api || (!streq(api, "pre-reboot") && !streq(api, "steady-state")))
                return fail(-EINVAL, WORKER_ERROR_CONFIG,
                            "request: \"lock\" needs api pre-reboot or steady-state");
        if (worker_lock_token_get(req, &token, &e) < 0)
                return fail(-EINVAL, WORKER_ERROR_CONFIG, e.message);
        if (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                return fail(-ENOMEM, WORKER_ERROR_CONFIG, "out of memory");
        base = expand(p, jstr(p, "base_url"), jstr(p, "stream"), &e);
        if (!base) {
                snprintf(msg, sizeof msg, "updates.fleet_lock.base_url: %s", e.message);
                return fail(-EINVAL, WORKER_ERROR_CONFIG, msg);
        }
        r = agent_url_join(base, streq(api, "pre-reboot") ? "v1/pre-reboot" : "v1/steady-state", &url);
        if (r >= 0)
                r = buf_putc(&url, 0);
        if (r >= 0)
                r = buf_printf(
                        &body,
                        "{\n  \"client_params\": {\n    \"id\": \"%s\",\n    \"group\": \"%s\"\n  }\n}",
                        jstr(p, "node_uuid") ?: "", jstr(p, "group") ?: "");
        http = r >= 0 ? client(64u << 10) : NULL;
        if (!http) {
                snprintf(msg, sizeof msg, "cannot build the request to %s", base);
                r = fail(-EINVAL, WORKER_ERROR_CONFIG, msg);
                goto out;
        }
        r = http_client_request(http, "POST", url.data,
                                (const char *const[]){ "fleet-lock-protocol: true", auth, NULL }, body.data,
                                body.len, &resp, &e);
        if (r < 0) {
                snprintf(msg, sizeof msg, "%s: %s", url.data, e.message);
                r = fail(r, WORKER_ERROR_CONNECTION, msg);
                goto out;
        }
        emit_lock_reply(&resp, url.data);
        r = 0;
out:
        http_response_done(&resp);
        http_client_free(http);
        buf_free(&url);
        buf_free(&body);
        return r;
}

/* One outcome report for the daemon's spool: POST the body as JSON, answer the server's status and the
 * start of its answer; the spool decides what the status means (agent-report.h). */
static int cmd_report(const json_t *req)
{
        const char *url, *token, *body;
        _cleanup_free_ char *auth = NULL;
        HttpClient *http;
        HttpResponse resp = {};
        char excerpt[161], msg[WORKER_MESSAGE_MAX];
        Error e = {};
        int r;

        if (worker_report_get(req, &url, &token, &body, &e) < 0)
                return fail(-EINVAL, WORKER_ERROR_CONFIG, e.message);
        if (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                return fail(-ENOMEM, WORKER_ERROR_CONFIG, "out of memory");
        http = client(64u << 10);
        if (!http)
                return fail(-ENOMEM, WORKER_ERROR_CONFIG, "cannot make an HTTP client");
        r = http_client_request(http, "POST", url,
                                (const char *const[]){ "Content-Type: application/json", auth, NULL }, body,
                                strlen(body), &resp, &e);
        if (r < 0) {
                snprintf(msg, sizeof msg, "%s: %s", url, e.message);
                (void)fail(r, WORKER_ERROR_CONNECTION, msg);
        } else {
                size_t n = MIN(resp.body_len, sizeof excerpt - 1);
                for (size_t i = 0; i < n; i++)
                        excerpt[i] = resp.body[i] >= 0x20 && resp.body[i] < 0x7f ? resp.body[i] : '?';
                excerpt[n] = 0;
                emit(json_pack("{s:i,s:s}", "status", (int)resp.status, "excerpt", excerpt));
        }
        http_response_done(&resp);
        http_client_free(http);
        return 0;
}

static void on_progress(const OsProgress *p, void *userdata)
{
        WorkerProgress wp = { .bytes = p->bytes_transferred,
                              .fetched = p->objects_fetched,
                              .requested = p->objects_requested };
        char *line = NULL;

        if (worker_progress_format(&wp, &line) >= 0) /* a progress line that cannot be made is skipped */
                put_line(0, line);
}

static int cmd_stage_or_finalize(const json_t *req, bool stage)
{
        const json_t *rel = json_object_get(req, "release");
        const char *payload = jstr(rel, "payload"), *version = jstr(rel, "version");
        OsBackend *b = NULL;
        Error e = {};
        int r;

        if (!payload)
                return fail(-EINVAL, WORKER_ERROR_OS, "request: \"release\" needs a payload");
        r = open_backend(req, &b, &e);
        if (r >= 0) {
                if (stage)
                        r = os_backend_stage(b, payload, version,
                                             json_is_true(json_object_get(req, "allow_downgrade")),
                                             on_progress, NULL, &e);
                else
                        r = os_backend_finalize(b, payload, &e);
        }
        if (r < 0) {
                os_backend_free(b);
                return fail(r, WORKER_ERROR_OS, e.message);
        }
        emit(json_pack("{s:b}", "reboots", !stage && os_backend_finalize_reboots(b)));
        os_backend_free(b);
        return 0;
}

static WorkerErrorKind set_default_error_kind(int r)
{
        return r == -ENOENT  ? WORKER_ERROR_NO_DEPLOYMENT
               : r == -EBUSY ? WORKER_ERROR_LOCKED
                             : WORKER_ERROR_OS;
}

/* Makes the deployment of args.checksum the default: {"changed":..., "dropped_staged":...,
 * "kept_staged":...}. */
static int cmd_set_default(const json_t *req)
{
        OsSetDefaultResult res;
        const char *checksum;
        OsBackend *b = NULL;
        Error e = {};
        int r;

        r = worker_set_default_checksum(req, &checksum, &e);
        if (r < 0)
                return fail(r, WORKER_ERROR_OS, e.message);
        r = open_backend(req, &b, &e);
        if (r >= 0)
                r = os_backend_set_default(b, checksum, &res, &e);
        os_backend_free(b);
        if (r < 0)
                return fail(r, set_default_error_kind(r), e.message);
        emit(json_pack("{s:b,s:s*,s:s*}", "changed", res.changed, "dropped_staged",
                       res.dropped_staged[0] ? res.dropped_staged : NULL, "kept_staged",
                       res.kept_staged[0] ? res.kept_staged : NULL));
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ json_t *req = NULL;
        WorkerCommand cmd;
        size_t len = 0;
        Error e = {};

        daemon_seed_hash_keys();
        /* --help and --version answer whoever asks (a shell whose parent is PID 1 too) */
        if (argc > 1 && streq(argv[1], "--help")) {
                printf("upkeep-agent-worker " UPKEEP_VERSION
                       ": performs one action for upkeep-agent; reads a "
                       "JSON request on stdin (see docs/agent.md)\n");
                return 0;
        }
        if (argc > 1 && streq(argv[1], "--version")) {
                printf("upkeep-agent-worker " UPKEEP_VERSION "\n");
                return 0;
        }
        /* the agent's action dies with the agent (a download in flight is safe to interrupt) */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1)
                return fail(-ESRCH, _WORKER_ERROR_INVALID, "the agent is gone"), 2;
        if (read_full_fd(STDIN_FILENO, WORKER_REQUEST_MAX, &data, &len) < 0)
                return fail(-EIO, _WORKER_ERROR_INVALID, "cannot read the request (at most 1 MiB on stdin)"),
                       2;
        if (worker_request_parse(data, len, &cmd, &req, &e) < 0)
                return fail(-EINVAL, _WORKER_ERROR_INVALID, e.message), 2;
        switch (cmd) {
        case WORKER_COMMAND_STATUS:
                return cmd_status(req);
        case WORKER_COMMAND_CHECK:
                return cmd_check(req);
        case WORKER_COMMAND_LOCK:
                return cmd_lock(req);
        case WORKER_COMMAND_STAGE:
                return cmd_stage_or_finalize(req, true);
        case WORKER_COMMAND_FINALIZE:
                return cmd_stage_or_finalize(req, false);
        case WORKER_COMMAND_REPORT:
                return cmd_report(req);
        case WORKER_COMMAND_SET_DEFAULT:
                return cmd_set_default(req);
        default:
                return fail(-EINVAL, _WORKER_ERROR_INVALID, "unknown command"), 2;
        }
}

/* worker-protocol.c — the request and reply lines between upkeep-agent and upkeep-agent-worker, and the
 * names of their commands, decisions and error kinds (worker-protocol.h). */
#include <assert.h>
#include <string.h>

#include "json-util.h"
#include "macros.h"
#include "strutil.h"
#include "worker-protocol.h"

/* systemd's pattern: a table indexed by the enum, sized by its _MAX; unknown names give -EINVAL. */
#define DEFINE_STRING_TABLE_LOOKUP(name, type)                                                              \
        const char *name##_to_string(type i)                                                                \
        {                                                                                                   \
                if (i < 0 || (size_t)i >= ELEMENTSOF(name##_table))                                         \
                        return NULL;                                                                        \
                return name##_table[i];                                                                     \
        }                                                                                                   \
        type name##_from_string(const char *s)                                                              \
        {                                                                                                   \
                if (!s)                                                                                     \
                        return (type)-EINVAL;                                                               \
                for (size_t i = 0; i < ELEMENTSOF(name##_table); i++)                                       \
                        if (name##_table[i] && streq(name##_table[i], s))                                   \
                                return (type)i;                                                             \
                return (type)-EINVAL;                                                                       \
        }

static const char *const worker_command_table[_WORKER_COMMAND_MAX] = {
        [WORKER_COMMAND_STATUS] = "status",     [WORKER_COMMAND_CHECK] = "check",
        [WORKER_COMMAND_LOCK] = "lock",         [WORKER_COMMAND_STAGE] = "stage",
        [WORKER_COMMAND_FINALIZE] = "finalize", [WORKER_COMMAND_SET_DEFAULT] = "set-default",
        [WORKER_COMMAND_REPORT] = "report",
};
DEFINE_STRING_TABLE_LOOKUP(worker_command, WorkerCommand)

static const char *const worker_decision_table[_WORKER_DECISION_MAX] = {
        [WORKER_DECISION_UPDATE] = "update",
        [WORKER_DECISION_NO_UPDATE] = "no_update",
        [WORKER_DECISION_NOT_IN_GRAPH] = "not_in_graph",
        [WORKER_DECISION_DOWNGRADE_REFUSED] = "downgrade_refused",
};
DEFINE_STRING_TABLE_LOOKUP(worker_decision, WorkerDecision)

static const char *const worker_error_kind_table[_WORKER_ERROR_MAX] = {
        [WORKER_ERROR_CONNECTION] = "connection",
        [WORKER_ERROR_HTTP_STATUS] = "http_status",
        [WORKER_ERROR_GRAPH_PARSE] = "graph_parse",
        [WORKER_ERROR_IDENTITY] = "identity",
        [WORKER_ERROR_CONFIG] = "config",
        [WORKER_ERROR_OS] = "os",
        [WORKER_ERROR_NO_DEPLOYMENT] = "no_deployment",
        [WORKER_ERROR_LOCKED] = "locked",
};
DEFINE_STRING_TABLE_LOOKUP(worker_error_kind, WorkerErrorKind)

static const char *jstr(const json_t *o, const char *k)
{
        const json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
        return json_is_string(v) ? json_string_value(v) : NULL;
}

static uint64_t juint(const json_t *o, const char *k)
{
        const json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
        json_int_t i = json_is_integer(v) ? json_integer_value(v) : 0;
        return i > 0 ? (uint64_t)i : 0;
}

/* ---- the request ---- */

json_t *worker_os_new(const AgentConfig *c, bool register_driver)
{
        assert(c);
        return json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:b}", "backend",
                         c->os_backend == AGENT_OS_BACKEND_RPM_OSTREE ? "rpm-ostree" : "ostree", "sysroot",
                         c->sysroot, "osname", c->osname, "remote", c->remote, "stream_metadata_key",
                         c->stream_metadata_key, "rpm_ostree_path", c->rpm_ostree_path, "register",
                         register_driver);
}

int worker_request_format(WorkerCommand cmd, json_t *args, const json_t *os, char **ret, Error *e)
{
        _cleanup_json_ json_t *req = args ? args : json_object();
        const char *name = worker_command_to_string(cmd);
        char *text;

        assert(name);
        assert(ret);
        if (!req || !json_is_object(req) || json_object_set_new(req, "command", json_string(name)) < 0 ||
            (os && json_object_set(req, "os", (json_t *)os) < 0))
                return error_setf(e, -ENOMEM, "out of memory");
        text = json_dumps(req, JSON_COMPACT);
        if (!text)
                return error_setf(e, -ENOMEM, "out of memory");
        if (strlen(text) > WORKER_REQUEST_MAX) {
                free(text);
                return error_setf(e, -E2BIG, "the %s request is larger than %u bytes", name,
                                  WORKER_REQUEST_MAX);
        }
        *ret = text;
        return 0;
}

int worker_request_parse(const char *data, size_t len, WorkerCommand *ret_command, json_t **ret_request,
                         Error *e)
{
        _cleanup_json_ json_t *req = NULL;
        WorkerCommand cmd;
        const char *name;

        assert(data || len == 0);
        if (len > WORKER_REQUEST_MAX)
                return error_setf(e, -E2BIG, "the request is larger than %u bytes", WORKER_REQUEST_MAX);
        if (len > 0 && data[len - 1] == '\n')
                len--;
        if (json_parse_strict(data, len, &req, e) < 0 || !json_is_object(req))
                return error_setf(e, -EINVAL, "the request is not a JSON object");
        name = jstr(req, "command");
        if (!name)
                return error_setf(e, -EINVAL, "the request has no \"command\"");
        cmd = worker_command_from_string(name);
        if (cmd < 0)
                return error_setf(e, -EINVAL, "unknown command");
        *ret_command = cmd;
        *ret_request = TAKE_PTR(req);
        return 0;
}

bool worker_lock_token_valid(const char *token)
{
        size_t n = 0;

        if (!token)
                return false;
        for (; token[n]; n++)
                if (n >= WORKER_LOCK_TOKEN_MAX || token[n] <= ' ' || token[n] > '~')
                        return false;
        return n > 0;
}

int worker_lock_token_get(const json_t *req, const char **ret_token, Error *e)
{
        const json_t *v = json_object_get(json_object_get(req, "lock"), "token");

        assert(ret_token);
        if (!v) {
                *ret_token = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return error_setf(e, -EINVAL, "request: \"lock\".\"token\" must be a string");
        if (json_string_length(v) > WORKER_LOCK_TOKEN_MAX ||
            strlen(json_string_value(v)) != json_string_length(v) ||
            !worker_lock_token_valid(json_string_value(v)))
                return error_setf(e, -EINVAL,
                                  "request: \"lock\".\"token\" must be 1 to %u printable ASCII characters "
                                  "without spaces",
                                  WORKER_LOCK_TOKEN_MAX);
        *ret_token = json_string_value(v);
        return 0;
}

json_t *worker_report_args_new(const char *url, const char *token, const char *body)
{
        assert(url);
        assert(body);
        return json_pack("{s:{s:s,s:s*,s:s}}", "report", "url", url, "token", token, "body", body);
}

static bool url_ok(const char *url)
{
        if (!startswith(url, "http://") && !startswith(url, "https://"))
                return false;
        for (const char *p = url; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return false;
        return strlen(url) <= 4096;
}

int worker_report_get(const json_t *req, const char **ret_url, const char **ret_token, const char **ret_body,
                      Error *e)
{
        const json_t *rep = json_object_get(req, "report"), *url = json_object_get(rep, "url"),
                     *token = json_object_get(rep, "token"), *body = json_object_get(rep, "body");

        assert(ret_url && ret_token && ret_body);
        if (!json_is_object(rep))
                return error_setf(e, -EINVAL, "request: \"report\" must be an object");
        if (!json_is_string(url) || strlen(json_string_value(url)) != json_string_length(url) ||
            !url_ok(json_string_value(url)))
                return error_setf(e, -EINVAL,
                                  "request: \"report\".\"url\" must be an http:// or https:// URL");
        if (token && (!json_is_string(token) || json_string_length(token) > WORKER_LOCK_TOKEN_MAX ||
                      strlen(json_string_value(token)) != json_string_length(token) ||
                      !worker_lock_token_valid(json_string_value(token))))
                return error_setf(e, -EINVAL,
                                  "request: \"report\".\"token\" must be 1 to %u printable ASCII characters "
                                  "without spaces",
                                  WORKER_LOCK_TOKEN_MAX);
        if (!json_is_string(body) || json_string_length(body) == 0 ||
            json_string_length(body) > WORKER_REPORT_BODY_MAX ||
            strlen(json_string_value(body)) != json_string_length(body))
                return error_setf(e, -EINVAL, "request: \"report\".\"body\" must be 1 to %u bytes of text",
                                  WORKER_REPORT_BODY_MAX);
        *ret_url = json_string_value(url);
        *ret_token = token ? json_string_value(token) : NULL;
        *ret_body = json_string_value(body);
        return 0;
}

int worker_report_status(const json_t *res, long *ret_status)
{
        const json_t *v = json_object_get(res, "status");

        if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599)
                return -EBADMSG;
        *ret_status = (long)json_integer_value(v);
        return 0;
}

json_t *worker_set_default_args_new(const char *checksum)
{
        assert(checksum);
        return json_pack("{s:s}", "checksum", checksum);
}

static bool hex64(const char *s)
{
        size_t n = 0;

        for (; s[n]; n++)
                if (n >= 64 || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == 64;
}

int worker_set_default_checksum(const json_t *req, const char **ret_checksum, Error *e)
{
        const json_t *v = json_is_object(req) ? json_object_get(req, "checksum") : NULL;

        assert(ret_checksum);
        if (!json_is_string(v) || json_string_length(v) != 64 || !hex64(json_string_value(v)))
                return error_setf(
                        e, -EINVAL,
                        "request: \"checksum\" must be a commit checksum (64 lower-case hex digits)");
        *ret_checksum = json_string_value(v);
        return 0;
}

/* ---- the worker's lines ---- */

/* json_dumps + "\n"; takes j. */
static int format_line(json_t *j, char **ret)
{
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL, *line;
        size_t n;

        json_decref(j);
        if (!s)
                return -ENOMEM;
        n = strlen(s);
        line = realloc(s, n + 2);
        if (!line) {
                free(s);
                return -ENOMEM;
        }
        line[n] = '\n';
        line[n + 1] = 0;
        *ret = line;
        return 0;
}

int worker_progress_format(const WorkerProgress *p, char **ret)
{
        assert(p);
        return format_line(json_pack("{s:{s:I,s:I,s:I}}", "progress", "bytes", (json_int_t)p->bytes,
                                     "fetched", (json_int_t)p->fetched, "requested",
                                     (json_int_t)p->requested),
                           ret);
}

int worker_success_format(json_t *result, char **ret)
{
        json_t *j = json_pack("{s:b}", "ok", true); /* "ok" first, as a reader of the line expects it */

        if (j && result && json_object_update(j, result) < 0) {
                json_decref(j);
                j = NULL;
        }
        json_decref(result);
        return format_line(j, ret);
}

int worker_failure_format(int error, WorkerErrorKind kind, const char *message, char **ret)
{
        return worker_failure_format_metric(error, kind, NULL, message, ret);
}

int worker_failure_format_metric(int error, WorkerErrorKind kind, const char *metric_kind,
                                 const char *message, char **ret)
{
        json_t *j = json_pack("{s:b,s:s,s:i}", "ok", false, "error", message ? message : "failed", "errno",
                              error < 0 ? -error : error);

        if (j && kind >= 0 && worker_error_kind_to_string(kind))
                json_object_set_new(j, "error_kind", json_string(worker_error_kind_to_string(kind)));
        if (j && metric_kind && *metric_kind)
                json_object_set_new(j, "metric_kind", json_string(metric_kind));
        return format_line(j, ret);
}

const char *worker_result_metric_kind(const json_t *result)
{
        const json_t *v = json_object_get(result, "metric_kind");
        return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

int worker_line_parse(const char *line, size_t len, WorkerProgress *ret_progress, json_t **ret_result,
                      Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        const json_t *p;

        assert(line || len == 0);
        if (len > WORKER_LINE_MAX)
                return error_setf(e, -E2BIG, "a line of the worker's output is larger than %u bytes",
                                  WORKER_LINE_MAX);
        if (json_parse_strict(line, len, &j, e) < 0 || !json_is_object(j))
                return error_setf(e, -EBADMSG, "the worker wrote a line that is not a JSON object");
        p = json_object_get(j, "progress");
        if (p) {
                if (!json_is_object(p))
                        return error_setf(e, -EBADMSG, "the worker wrote a progress line without an object");
                *ret_progress = (WorkerProgress){ .bytes = juint(p, "bytes"),
                                                  .fetched = juint(p, "fetched"),
                                                  .requested = juint(p, "requested") };
                return 0;
        }
        *ret_result = TAKE_PTR(j);
        return 1;
}

/* ---- the results ---- */

int worker_result_check(const json_t *result, WorkerErrorKind *ret_kind, Error *e)
{
        const json_t *code;
        const char *msg;
        json_int_t n;

        if (ret_kind)
                *ret_kind = _WORKER_ERROR_INVALID;
        if (json_is_true(json_object_get(result, "ok")))
                return 0;
        msg = jstr(result, "error");
        code = json_object_get(result, "errno");
        n = json_is_integer(code) ? json_integer_value(code) : 0;
        if (ret_kind)
                *ret_kind = worker_error_kind_from_string(jstr(result, "error_kind"));
        return error_setf(e, n > 0 && n < 4096 ? -(int)n : -EIO, "%s", msg ? msg : "the worker failed");
}

int worker_deployment_find(const json_t *deployments, const char *role, WorkerDeployment *ret)
{
        size_t i;
        json_t *d;

        assert(role);
        assert(ret);
        json_array_foreach(deployments, i, d)
                if (json_is_true(json_object_get(d, role))) {
                        *ret = (WorkerDeployment){ .osname = jstr(d, "osname"),
                                                   .checksum = jstr(d, "checksum"),
                                                   .version = jstr(d, "version"),
                                                   .stream = jstr(d, "stream"),
                                                   .serial = json_object_get(d, "serial") };
                        return 1;
                }
        return 0;
}

void worker_check_result_parse(const json_t *result, WorkerCheckResult *ret)
{
        const json_t *graph = json_object_get(result, "graph"), *target = json_object_get(result, "target");

        assert(ret);
        *ret = (WorkerCheckResult){
                .deployments = json_object_get(result, "deployments"),
                .url = jstr(result, "url"),
                .nodes = juint(graph, "nodes"),
                .edges = juint(graph, "edges"),
                .ignored = juint(graph, "ignored"),
                .decision = worker_decision_from_string(jstr(result, "decision")),
                .deadend = json_is_true(json_object_get(result, "deadend")),
                .deadend_reason = jstr(result, "deadend_reason") ?: "",
                .target_version = jstr(target, "version"),
                .target_payload = jstr(target, "payload"),
        };
}

void worker_lock_result_parse(const json_t *result, WorkerLockResult *ret)
{
        const json_t *status = json_object_get(result, "status");

        assert(ret);
        *ret = (WorkerLockResult){ .status = json_is_integer(status) ? (long)json_integer_value(status) : 0,
                                   .kind = jstr(result, "kind"),
                                   .value = jstr(result, "value") };
}

void worker_set_default_result_parse(const json_t *result, WorkerSetDefaultResult *ret)
{
        assert(ret);
        *ret = (WorkerSetDefaultResult){ .changed = json_is_true(json_object_get(result, "changed")),
                                         .dropped_staged = jstr(result, "dropped_staged"),
                                         .kept_staged = jstr(result, "kept_staged") };
}

/* lock-admin.c — upkeep-lock's admin API (see lock-admin.h and docs/lock.md): GET /v1/groups and
 * /v1/groups/NAME (the state as stored), POST /v1/groups/NAME/release {"id": ID}, .../pause and
 * .../resume (written to the backend, so that every instance sharing it sees them). */
#include "lock-admin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lock-request.h"
#include "log.h"
#include "strutil.h"
#include "time-util.h"

/* Appends one group's state as JSON. */
static int group_json(Manager *m, Group *g, int64_t now, Buf *b, Error *e)
{
        _cleanup_(semaphore_done) Semaphore s = { 0 };
        const GroupPolicy *p = &g->cfg->policy;
        int64_t next_start = 0, next_end = 0;
        int r = m->backend->ops->get(m->backend, g->cfg->name, &s, e);

        if (r == -ENOENT) {
                semaphore_init(&s, p->slots);
                r = 0;
        }
        if (r < 0)
                return r;
        r = buf_puts(b, "{\"name\":");
        if (r >= 0)
                r = buf_put_json_string(b, g->cfg->name, strlen(g->cfg->name));
        if (r >= 0)
                r = buf_printf(b, ",\"slots\":%llu,\"holders\":[", (unsigned long long)p->slots);
        for (size_t i = 0; r >= 0 && i < s.n_holders; i++) {
                r = buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
                if (r >= 0)
                        r = buf_put_json_string(b, s.holders[i].id, strlen(s.holders[i].id));
                if (r >= 0)
                        r = buf_printf(b, ",\"since\":%lld,\"age_secs\":%lld}",
                                       (long long)s.holders[i].since,
                                       (long long)(s.holders[i].since ? now - s.holders[i].since : 0));
        }
        if (r >= 0)
                r = buf_printf(b,
                               "],\"paused\":%s,\"paused_in_config\":%s,\"max_hold_secs\":%lld,"
                               "\"settle_secs\":%lld,\"last_release\":%lld,"
                               "\"window\":{\"configured\":%s,\"open\":%s",
                               s.paused || p->paused ? "true" : "false", p->paused ? "true" : "false",
                               (long long)p->max_hold_secs, (long long)p->settle_secs,
                               (long long)s.last_release, g->calendar ? "true" : "false",
                               group_window_open(g, now) ? "true" : "false");
        if (r >= 0 && g->calendar &&
            calendar_next_open(g->calendar, g->tz, now, &next_start, &next_end) >= 0)
                r = buf_printf(b, ",\"next_open\":%lld,\"next_close\":%lld", (long long)next_start,
                               (long long)next_end);
        if (r >= 0 && g->calendar)
                r = buf_puts(b, ",\"time_zone\":") >= 0
                            ? buf_put_json_string(b, g->cfg->time_zone, strlen(g->cfg->time_zone))
                            : -ENOBUFS;
        if (r >= 0)
                r = buf_puts(b, "}}");
        return r;
}

typedef struct AdminOp {
        const char *release_id;
        int pause; /* 1 pause, 0 resume, -1 leave */
        int64_t now;
        bool released;
} AdminOp;

static int admin_op_apply(Semaphore *s, void *userdata)
{
        AdminOp *op = userdata;

        op->released = false;
        if (op->release_id) {
                int r = semaphore_unlock(s, op->release_id, op->now);
                op->released = r > 0;
                return r;
        }
        if (op->pause >= 0 && s->paused != (op->pause == 1)) {
                s->paused = op->pause == 1;
                return 1;
        }
        return 0;
}

/* The end of every answer with a body: b becomes the reply, or r (with e) says why not. */
static int admin_reply(Manager *m, int r, const Error *e, Buf *b, HttpReply *reply)
{
        if (r < 0 && r != -ENOMEM && r != -ENOBUFS) {
                buf_free(b);
                manager_count_backend_error(m);
                return http_reply_error(reply, 503, "backend_unavailable", e->message);
        }
        if (r < 0) {
                buf_free(b);
                return r;
        }
        reply->status = 200;
        reply->content_type = "application/json";
        reply->owned = buf_steal(b, &reply->owned_len);
        return reply->owned ? 0 : -ENOMEM;
}

static int reply_method_not_allowed(HttpReply *reply, const char *allow, const char *msg)
{
        http_reply_add_header(reply, "Allow", allow);
        return http_reply_error(reply, 405, "method_not_allowed", msg);
}

/* GET /v1/groups: every group. */
static int admin_list(Manager *m, Generation *gen, HttpReply *reply)
{
        Buf b = BUF_INIT(16u << 20);
        int64_t now = now_unix();
        Error e = { { 0 } };
        int r;

        r = buf_puts(&b, "{\"groups\":[");
        for (size_t i = 0; r >= 0 && i < gen->n_groups; i++) {
                if (i)
                        r = buf_putc(&b, ',');
                if (r >= 0)
                        r = group_json(m, &gen->groups[i], now, &b, &e);
        }
        if (r >= 0)
                r = buf_puts(&b, "]}");
        return admin_reply(m, r, &e, &b, reply);
}

/* GET /v1/groups/NAME */
static int admin_show(Manager *m, Group *g, HttpReply *reply)
{
        Buf b = BUF_INIT(16u << 20);
        Error e = { { 0 } };
        int r = group_json(m, g, now_unix(), &b, &e);

        return admin_reply(m, r, &e, &b, reply);
}

/* POST /v1/groups/NAME/{release,pause,resume} */
static int admin_action(Manager *m, Group *g, const char *action, const LockRequest *req, HttpReply *reply)
{
        _cleanup_free_ char *id = NULL;
        AdminOp op = { .pause = -1, .now = now_unix() };
        Buf b = BUF_INIT(16u << 20);
        Error e = { { 0 } };
        int r;

        if (streq(action, "release")) {
                r = admin_release_parse(req->body, req->body_len, &id, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return http_reply_error(reply, 400, "invalid_request", e.message);
                op.release_id = id;
        } else
                op.pause = streq(action, "pause");
        r = lock_backend_update(m->backend, g->cfg->name, g->cfg->policy.slots, admin_op_apply, &op, NULL,
                                &e);
        if (r < 0) {
                manager_count_backend_error(m);
                return http_reply_error(reply, 503, "backend_unavailable", e.message);
        }
        if (op.release_id)
                log_notice("group %s: admin released %s (%s)", g->cfg->name, id,
                           op.released ? "it held a slot" : "it held none");
        else
                log_notice("group %s: admin %s", g->cfg->name,
                           op.pause ? "paused reboots" : "resumed reboots");
        r = buf_puts(&b, "{\"group\":");
        if (r >= 0)
                r = buf_put_json_string(&b, g->cfg->name, strlen(g->cfg->name));
        if (r >= 0)
                r = buf_printf(&b, ",\"action\":\"%s\"", action);
        if (r >= 0 && op.release_id)
                r = buf_printf(&b, ",\"released\":%s", op.released ? "true" : "false");
        if (r >= 0)
                r = buf_putc(&b, '}');
        return admin_reply(m, r, &e, &b, reply);
}

/* Percent-decodes a URL path into out (at most n bytes with the NUL; '+' stays '+', as in any path).
 * -EINVAL for a malformed escape or %00, -ENAMETOOLONG when it does not fit. */
static int path_unescape(const char *s, char *out, size_t n)
{
        size_t j = 0;

        for (; *s; s++) {
                char c = *s;
                if (c == '%') {
                        int hi = unhexchar(s[1]), lo = hi < 0 ? -1 : unhexchar(s[2]);
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                                return -EINVAL;
                        c = (char)(hi * 16 + lo);
                        s += 2;
                }
                if (j + 1 >= n)
                        return -ENAMETOOLONG;
                out[j++] = c;
        }
        out[j] = 0;
        return 0;
}

/* "/NAME" or "/NAME/ACTION" after /v1/groups, percent-decoded (so a name may hold '/', as %2F): the
 * whole of it when it names a group, else the last segment is the action. */
static Group *admin_find_group(Generation *gen, const char *rest, const char **ret_action)
{
        const char *slash = strrchr(rest + 1, '/');
        char name[LOCK_GROUP_NAME_MAX + 1];
        Group *g = strlen(rest + 1) <= LOCK_GROUP_NAME_MAX ? generation_find_group(gen, rest + 1) : NULL;

        *ret_action = "";
        if (g || !slash || (size_t)(slash - rest - 1) > LOCK_GROUP_NAME_MAX)
                return g;
        memcpy(name, rest + 1, (size_t)(slash - rest - 1));
        name[slash - rest - 1] = 0;
        *ret_action = slash + 1;
        return generation_find_group(gen, name);
}

int lock_admin_handle(Manager *m, Generation *gen, const LockRequest *req, HttpReply *reply)
{
        const char *rest, *action;
        char decoded[2 * LOCK_GROUP_NAME_MAX], msg[600];
        Group *g;
        int r;

        if (!gen->admin_token)
                return http_reply_error(
                        reply, 404, "not_found",
                        "the admin API is off (no admin token configured, none generated: see [auth] "
                        "generate_admin_token and the log)");
        if (!bearer_matches(req->authorization, gen->admin_token)) {
                http_reply_add_header(reply, "WWW-Authenticate", "Bearer");
                return http_reply_error(reply, 401, "unauthorized",
                                        "the admin API needs the admin bearer token");
        }
        r = path_unescape(req->path + strlen("/v1/groups"), decoded, sizeof(decoded));
        if (r < 0)
                return http_reply_error(reply, 404, "not_found",
                                        r == -EINVAL ? "no such endpoint (bad percent-encoding)"
                                                     : "no such endpoint");
        rest = decoded;
        if (!*rest || streq(rest, "/")) {
                if (!streq(req->method, "GET"))
                        return reply_method_not_allowed(reply, "GET", "use GET");
                return admin_list(m, gen, reply);
        }
        if (rest[0] != '/')
                return http_reply_error(reply, 404, "not_found", "no such endpoint");
        g = admin_find_group(gen, rest, &action);
        if (!g) {
                size_t n = *action ? (size_t)(action - rest - 2) : strlen(rest + 1);
                snprintf(msg, sizeof(msg), "unknown group '%.*s'", (int)MIN(n, (size_t)LOCK_GROUP_NAME_MAX),
                         rest + 1);
                return http_reply_error(reply, 404, "unknown_group", msg);
        }
        if (!*action) {
                if (!streq(req->method, "GET"))
                        return reply_method_not_allowed(reply, "GET", "use GET");
                return admin_show(m, g, reply);
        }
        if (!streq(action, "release") && !streq(action, "pause") && !streq(action, "resume"))
                return http_reply_error(reply, 404, "not_found", "no such endpoint");
        if (!streq(req->method, "POST"))
                return reply_method_not_allowed(reply, "POST", "use POST");
        return admin_action(m, g, action, req, reply);
}

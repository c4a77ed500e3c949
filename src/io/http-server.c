/* http-server.c — the HTTP server adapter over libmicrohttpd (see http-server.h).
 *
 * Each connection owns one Request context (allocated when it opens, reused for each of its requests,
 * freed when it closes). The URI log callback — the only place that sees the raw, undecoded request
 * target — fills it in and hands it to MHD as the request's context. The body is collected into a Buf
 * capped at max_body_bytes; the handler runs once with the complete body. Replies are handed to MHD
 * without copying: blobs are released by MHD's free callback, owned buffers are free()d by it. JSON error
 * bodies come from http-reply.c.
 *
 * Limits and what answers them (as observed with libmicrohttpd 0.9.75):
 *   - request line + headers: MHD's per-connection memory pool is max(8 KiB, 2 × max_header_bytes +
 *     4 KiB). Whatever fits in it is measured exactly by the adapter and answered 431 (or 414 when the
 *     request target alone is over the cap) with a JSON body. What does not fit is refused by MHD
 *     itself, before the handler: 431 (header lines) or 414 (request line) with MHD's own small HTML
 *     body and "Connection: close"; MHD stops reading, so the close usually reaches the client as a
 *     reset after the answer. MHD never parses the query (see on_uri()); more than MAX_QUERY_ARGS
 *     arguments get 400.
 *   - framing (request smuggling): see check_framing(); 400 or 501 and the connection is closed.
 *   - body: a Content-Length above max_body_bytes is refused before the body is read (413, and MHD
 *     closes the connection since it answered early); a chunked body is counted as it arrives,
 *     discarded once past the cap and answered 413 when it ends (the connection stays usable). If it
 *     keeps going for more than BODY_DRAIN_MAX bytes past the cap the connection is closed unanswered.
 *   - connections: MHD_OPTION_CONNECTION_LIMIT overall; per client address and a deadline for receiving
 *     each request, however slowly it trickles in: http-guard.h (refused or late connections are closed
 *     unanswered); idle time: MHD_OPTION_CONNECTION_TIMEOUT (a client that sends nothing for that long).
 *   - TLS: a GnuTLS priority string, by default TLS 1.2/1.3 with ECDHE/DHE and AEAD ciphers only.
 * Answers are never queued on MHD's first call for a request: MHD 0.9.75 closes the connection after
 * any response queued then, so only refusals are. */
#include "http-server.h"

#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "http-guard.h"
#include "http-loop.h"
#include "http-reply.h"
#include "macros.h"
#include "strutil.h"
#include "time-util.h"

#define DEFAULT_MAX_CONNECTIONS 4096U
#define DEFAULT_PER_ADDRESS 32U
#define DEFAULT_IDLE_TIMEOUT_SEC 30U
#define DEFAULT_REQUEST_TIMEOUT_SEC 10U
/* TLS 1.2 and 1.3 only, ECDHE/DHE key exchange (forward secrecy), AEAD ciphers only (GCM, ChaCha20). */
#define DEFAULT_TLS_PRIORITIES                                                                              \
        "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:"           \
        "-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:-MAC-ALL:+AEAD"
#define DEFAULT_MAX_HEADER_BYTES ((size_t)8 * 1024)
#define DEFAULT_MAX_BODY_BYTES ((size_t)64 * 1024)
/* MHD's per-connection memory pool holds the read buffer (it starts at half the pool), one record of
 * about 64 bytes per header line (not per query argument: see on_uri()), and the response header. 2 × the
 * header cap + 4 KiB lets a request at the cap carry about sixty header lines. MHD zeroes the whole pool
 * before each request of a kept-alive connection, so its size is a per-request cost: measured, a 36 KiB
 * pool cost 9% of the graph server's CPU in memset() alone. */
#define POOL_MIN ((size_t)8 * 1024)
#define POOL_SLACK ((size_t)4096)
#define MAX_HEADER_BYTES_LIMIT ((size_t)1024 * 1024) /* the pool is per connection: keep it sane */
/* How much of an over-long chunked body is read and thrown away so that a 413 can still be sent. */
#define BODY_DRAIN_MAX ((size_t)1024 * 1024)
/* Requests with more query arguments get 400 (the target's length is capped by max_header_bytes). */
#define MAX_QUERY_ARGS 256
/* The characters of an RFC 9110 token (header names are tokens). */
#define TOKEN_CHARS "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define STR_(x) #x
#define STR(x) STR_(x)
/* The most MHD options http_server_start() passes, MHD_OPTION_END included. */
#define SERVER_OPTIONS_MAX 21

typedef enum RequestState {
        REQUEST_NEW,       /* headers received, handler not called yet */
        REQUEST_BODY,      /* collecting the body */
        REQUEST_TOO_LARGE, /* body past the cap: draining, 413 at the end */
        REQUEST_DEFERRED,  /* the handler deferred its reply: parked until it comes */
        REQUEST_ANSWERED,  /* a response is queued */
} RequestState;

typedef enum DeferState {
        DEFER_NONE,
        DEFER_PENDING, /* deferred, the handler has not returned yet */
        DEFER_PARKED,  /* the connection is suspended, waiting for the reply */
        DEFER_DONE,    /* the reply is in */
} DeferState;

/* A request's deferred reply (see http_request_defer()). One per connection, reused: HTTP/1.1 handles
 * a connection's requests one at a time. */
struct HttpDeferred {
        HttpServer *server;
        struct MHD_Connection *connection;
        DeferState state; /* under server->defer_lock */
        int result;
        HttpReply reply;
};

/* The state of the request in progress on one connection. Allocated when the connection opens and
 * reused for each of its requests (HTTP/1.1 handles them one at a time), so that a request normally
 * costs no allocation of the adapter's own beyond its body. */
typedef struct Request {
        Buf body;
        size_t drained;
        size_t target_len; /* length of the raw request target */
        RequestState state;
        bool active; /* between the URI callback and the completion callback */
        bool target_too_long;
        bool too_many_args; /* more than MAX_QUERY_ARGS */
        char *target;       /* path NUL query NUL: inline_target or heap_target */
        char *query;        /* points into target */
        char *heap_target;
        size_t heap_size;
        Blob *held; /* the blob behind a shared response being sent, kept until the request completes */
        HttpDeferred deferred;
        GuardConn guard;
        char inline_target[256];
        char peer[INET6_ADDRSTRLEN]; /* the client's address, formatted once per connection */
        bool peer_counted;           /* and its key (http_guard_addr_key()), computed then too */
        uint64_t peer_key;
} Request;

/* A canned JSON error response, built once per server and shared by all connections. */
typedef struct CannedError {
        struct MHD_Response *response;
} CannedError;

struct HttpServer {
        struct MHD_Daemon *daemon;
        HttpLoop *loop; /* one thread: ours, around MHD's epoll (http-loop.c); NULL: MHD's poll() pool */
        HttpHandler handler;
        void *userdata;
        size_t max_header_bytes;
        size_t max_body_bytes;
        size_t pool_size;
        unsigned max_connections;
        uint16_t port;
        unsigned long in_flight; /* atomic: requests between the URI callback and completion */
        bool allow_deferred;
        pthread_mutex_t defer_lock;     /* the deferred replies' states */
        unsigned long deferred_pending; /* atomic: deferred replies not finished yet */
        char *tls_cert;
        char *tls_key;
        CannedError too_large;         /* 413 */
        CannedError headers_too_large; /* 431 */
        CannedError target_too_long;   /* 414 */
        CannedError no_memory;         /* 500 */
        HttpGuard guard;
        bool started;
        char start_error[256]; /* libmicrohttpd's first complaint while starting */
};

const char *http_request_header(const HttpRequest *req, const char *name)
{
        if (!req || !req->internal || !name)
                return NULL;
        return MHD_lookup_connection_value(req->internal, MHD_HEADER_KIND, name);
}

static int canned_error_init(CannedError *c, const char *kind, const char *value)
{
        c->response = http_error_response(kind, value, false);
        return c->response ? 0 : -ENOMEM;
}

static void canned_error_done(CannedError *c)
{
        if (c->response)
                MHD_destroy_response(c->response);
        c->response = NULL;
}

static enum MHD_Result queue_canned(struct MHD_Connection *c, Request *r, const CannedError *e,
                                    unsigned status)
{
        if (r)
                r->state = REQUEST_ANSWERED;
        return MHD_queue_response(c, status, e->response);
}

/* Queues a freshly built JSON error (and closes the connection after it when close is set); falls back
 * to the canned 500 when memory is short. */
static enum MHD_Result queue_error(HttpServer *s, struct MHD_Connection *c, Request *r, unsigned status,
                                   const char *kind, const char *value, bool close)
{
        struct MHD_Response *resp = http_error_response(kind, value, close);
        enum MHD_Result ret;

        if (!resp)
                return queue_canned(c, r, &s->no_memory, MHD_HTTP_INTERNAL_SERVER_ERROR);
        if (r)
                r->state = REQUEST_ANSWERED;
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* Turns the handler's reply into an MHD response and queues it. Consumes the reply's body. */
static enum MHD_Result queue_reply(HttpServer *s, struct MHD_Connection *c, Request *r, HttpReply *reply)
{
        struct MHD_Response *resp;
        enum MHD_Result ret;
        Blob *held = NULL;
        int k;

        if (reply->status < 100 || reply->status > 999 || reply->n_headers > HTTP_REPLY_MAX_HEADERS) {
                http_reply_clear_body(reply);
                return queue_error(s, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                                   "handler produced an invalid reply", false);
        }
        k = http_reply_response(reply, &resp, &held);
        if (k == -ENOMEM)
                return queue_canned(c, r, &s->no_memory, MHD_HTTP_INTERNAL_SERVER_ERROR);
        if (k < 0)
                return queue_error(s, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                                   "handler produced an invalid reply header", false);
        r->state = REQUEST_ANSWERED;
        if (k > 0) {
                /* The blob's shared response: the request keeps the blob (and so the response's bytes)
                 * until it completes. */
                blob_unref(r->held);
                r->held = held;
                return MHD_queue_response(c, reply->status, resp);
        }
        ret = MHD_queue_response(c, reply->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* The client's address as text, and its key (see HttpRequest), once per connection. */
static void set_peer(struct MHD_Connection *c, Request *r)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;

        r->peer_counted = http_guard_addr_key(sa, &r->peer_key);
        http_guard_addr_format(sa, r->peer, sizeof(r->peer));
}

/* Queues what the handler (or whoever finished its deferred reply) answered: k < 0 is a 500. */
static enum MHD_Result answer(HttpServer *s, struct MHD_Connection *c, Request *r, int k, HttpReply *reply)
{
        if (k < 0) {
                char value[128];

                http_reply_clear_body(reply);
                snprintf(value, sizeof(value), "request handler failed: %s",
                         strerrordesc_np(-k) ?: "unknown error");
                return queue_error(s, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error", value, false);
        }
        return queue_reply(s, c, r, reply);
}

/* Takes the deferred reply, which has come in. */
static enum MHD_Result answer_deferred(HttpServer *s, struct MHD_Connection *c, Request *r)
{
        HttpReply reply = r->deferred.reply;

        r->deferred.reply = (HttpReply){};
        r->deferred.state = DEFER_NONE;
        return answer(s, c, r, r->deferred.result, &reply);
}

static enum MHD_Result dispatch(HttpServer *s, struct MHD_Connection *c, Request *r, const char *method)
{
        HttpReply reply = {};
        HttpRequest req = {
                .method = method,
                .path = r->target,
                .query = r->query,
                .body = r->body.len > 0 ? r->body.data : NULL,
                .body_len = r->body.len,
                .peer = r->peer,
                .peer_counted = r->peer_counted,
                .peer_key = r->peer_key,
                .internal = c,
        };
        int k;

        r->deferred.state = DEFER_NONE;
        k = s->handler(s->userdata, &req, &reply);
        /* The handler has seen the body; it need not live until the response is sent. */
        buf_free(&r->body);
        if (r->deferred.state == DEFER_NONE)
                return answer(s, c, r, k, &reply);

        /* Deferred: whatever the handler returned or filled is not the answer. */
        http_reply_clear_body(&reply);
        pthread_mutex_lock(&s->defer_lock);
        if (r->deferred.state == DEFER_DONE) { /* already answered, from this thread or another */
                pthread_mutex_unlock(&s->defer_lock);
                return answer_deferred(s, c, r);
        }
        /* Suspended before the state says so: whoever finishes resumes only a parked connection. */
        MHD_suspend_connection(c);
        r->deferred.state = DEFER_PARKED;
        r->state = REQUEST_DEFERRED;
        pthread_mutex_unlock(&s->defer_lock);
        return MHD_YES;
}

HttpDeferred *http_request_defer(const HttpRequest *req)
{
        const union MHD_ConnectionInfo *ci;
        Request *r;

        if (!req || !req->internal)
                return NULL;
        ci = MHD_get_connection_info(req->internal, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r = ci ? ci->socket_context : NULL;
        if (!r || !r->deferred.server || !r->deferred.server->allow_deferred ||
            r->deferred.state != DEFER_NONE)
                return NULL;
        r->deferred.connection = req->internal;
        r->deferred.result = 0;
        r->deferred.reply = (HttpReply){};
        r->deferred.state = DEFER_PENDING; /* only this thread sees it until the handler returns */
        __atomic_add_fetch(&r->deferred.server->deferred_pending, 1, __ATOMIC_RELAXED);
        return &r->deferred;
}

void http_deferred_finish(HttpDeferred *d, int k, HttpReply *reply)
{
        HttpServer *s;
        bool parked;

        if (!d)
                return;
        s = d->server;
        pthread_mutex_lock(&s->defer_lock);
        d->result = k;
        if (reply) {
                d->reply = *reply;
                *reply = (HttpReply){};
        }
        parked = d->state == DEFER_PARKED;
        d->state = DEFER_DONE;
        pthread_mutex_unlock(&s->defer_lock);
        /* A parked connection stays put until resumed, and the server does not stop before
         * deferred_pending drops: d is still valid here. MHD calls on_access() again. */
        if (parked) {
                MHD_resume_connection(d->connection);
                if (s->loop)
                        http_loop_wake(s->loop);
        }
        __atomic_sub_fetch(&s->deferred_pending, 1, __ATOMIC_RELEASE);
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                       const char *value, size_t value_size)
{
        size_t *total = cls;

        *total += key_size + 2 + value_size + 2; /* "key: value\r\n" */
        return MHD_YES;
}

/* Bytes of the request line and header block as the client sent them (give or take whitespace). */
static size_t request_head_size(struct MHD_Connection *c, const Request *r, const char *method,
                                const char *version)
{
        size_t total = strlen(method) + 1 + r->target_len + 1 + strlen(version) + 2 + 2;

        MHD_get_connection_values_n(c, MHD_HEADER_KIND, add_header_size, &total);
        return total;
}

/* What check_framing() needs to know of the header lines, duplicates included. */
typedef struct HeaderScan {
        unsigned n_length;   /* Content-Length lines */
        unsigned n_encoding; /* Transfer-Encoding lines */
        bool bad_name;       /* a name that is not an RFC 9110 token */
} HeaderScan;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
        HeaderScan *h = cls;

        h->bad_name = h->bad_name || key_size == 0 || strspn(key, TOKEN_CHARS) != key_size;
        h->n_length += (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0);
        h->n_encoding += (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0);
        return MHD_YES;
}

/* Refuses the request shapes that let a body be read two ways (request smuggling): header names that are
 * not tokens ("Transfer-Encoding : chunked" is not Transfer-Encoding to MHD), more than one Content-Length
 * (even identical ones), a Content-Length with a Transfer-Encoding; and transfer codings other than
 * chunked, which MHD would wait for until the idle timeout. The connection is closed after the answer. */
static enum MHD_Result check_framing(HttpServer *s, struct MHD_Connection *c, Request *r, bool *refused)
{
        const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        const char *why = NULL;
        HeaderScan h = {};

        MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_header, &h);
        if (r->too_many_args)
                why = "request target has more than " STR(MAX_QUERY_ARGS) " query arguments";
        else if (h.bad_name)
                why = "header name with whitespace or a character not allowed in a token";
        else if (h.n_length > 1)
                why = "more than one Content-Length header";
        else if (h.n_length > 0 && h.n_encoding > 0)
                why = "both Content-Length and Transfer-Encoding";
        *refused = why || h.n_encoding > 1 || (te && strcasecmp(te, "chunked") != 0);
        if (why)
                return queue_error(s, c, r, MHD_HTTP_BAD_REQUEST, "bad_request", why, true);
        if (*refused)
                return queue_error(s, c, r, MHD_HTTP_NOT_IMPLEMENTED, "not_implemented",
                                   "only the chunked transfer coding is supported", true);
        return MHD_YES;
}

static enum MHD_Result on_headers(HttpServer *s, struct MHD_Connection *c, Request *r, const char *method,
                                  const char *version)
{
        const char *cl, *te;
        uint64_t length = 0;
        enum MHD_Result ret;
        bool refused;

        if (r->target_too_long)
                return queue_canned(c, r, &s->target_too_long, MHD_HTTP_URI_TOO_LONG);
        if (request_head_size(c, r, method, version) > s->max_header_bytes)
                return queue_canned(c, r, &s->headers_too_large, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE);
        ret = check_framing(s, c, r, &refused);
        if (refused)
                return ret;

        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (cl && !te) {
                /* MHD has already refused a malformed Content-Length. */
                if (safe_atou64(cl, &length) < 0 || length > s->max_body_bytes)
                        return queue_canned(c, r, &s->too_large, MHD_HTTP_CONTENT_TOO_LARGE);
        }
        /* Even without a body the answer waits for the next call (see the top of the file). */
        r->state = REQUEST_BODY;
        if (length > 0 && buf_reserve(&r->body, (size_t)length) < 0)
                return queue_canned(c, r, &s->no_memory, MHD_HTTP_INTERNAL_SERVER_ERROR);
        return MHD_YES;
}

static enum MHD_Result access_step(HttpServer *s, struct MHD_Connection *c, Request *r, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size)
{
        size_t n = *upload_data_size;
        int k;

        switch (r->state) {
        case REQUEST_NEW:
                return on_headers(s, c, r, method, version);

        case REQUEST_BODY:
                if (n == 0)
                        return dispatch(s, c, r, method);
                *upload_data_size = 0;
                k = buf_append(&r->body, upload_data, n);
                if (k == -ENOBUFS) {
                        buf_free(&r->body);
                        r->state = REQUEST_TOO_LARGE;
                        r->drained = n;
                } else if (k < 0) {
                        buf_free(&r->body);
                        return MHD_NO;
                }
                return MHD_YES;

        case REQUEST_TOO_LARGE:
                if (n == 0)
                        return queue_canned(c, r, &s->too_large, MHD_HTTP_CONTENT_TOO_LARGE);
                *upload_data_size = 0;
                r->drained += n;
                return r->drained > BODY_DRAIN_MAX ? MHD_NO : MHD_YES;

        case REQUEST_DEFERRED: {
                bool done;

                *upload_data_size = 0;
                pthread_mutex_lock(&s->defer_lock);
                done = r->deferred.state == DEFER_DONE;
                pthread_mutex_unlock(&s->defer_lock);
                /* Called again once resumed; before that, MHD has nothing to call it for. */
                return done ? answer_deferred(s, c, r) : MHD_YES;
        }

        case REQUEST_ANSWERED:
                *upload_data_size = 0; /* MHD may still pass data it had read; ignore it */
                return MHD_YES;
        }
        return MHD_NO;
}

/* Accept policy: refuses a connection from an address that has its limit open already. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
        HttpServer *s = cls;

        return http_guard_accept(&s->guard, sa) ? MHD_YES : MHD_NO;
}

static void guard_open(HttpServer *s, struct MHD_Connection *c, Request *r)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

        http_guard_open(&s->guard, &r->guard, ci ? ci->connect_fd : -1, ai ? ai->client_addr : NULL);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
        HttpServer *s = cls;
        Request *r = *con_cls;
        enum MHD_Result ret;

        if (!r) /* the URI callback could not allocate the request */
                return queue_canned(c, NULL, &s->no_memory, MHD_HTTP_INTERNAL_SERVER_ERROR);
        ret = access_step(s, c, r, method, version, upload_data, upload_data_size);
        if (r->state >= REQUEST_DEFERRED)
                http_guard_received(&s->guard, &r->guard);
        return ret;
}

static void request_end(HttpServer *s, Request *r)
{
        if (!r->active)
                return;
        r->active = false;
        buf_free(&r->body);
        r->held = blob_unref(r->held);
        __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_RELEASE);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
        HttpServer *s = cls;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        Request *r = ci ? ci->socket_context : NULL;
        size_t n = strlen(uri), plen, args = 0;
        char *q;

        if (!r) /* the connection callback could not allocate it */
                return NULL;
        request_end(s, r); /* (MHD completes every request first; just in case) */

        r->target_len = n;
        r->target_too_long = n > s->max_header_bytes;
        if (r->target_too_long)
                n = 0; /* answered with 414; keep nothing */
        if (n + 2 <= sizeof(r->inline_target))
                r->target = r->inline_target;
        else {
                if (r->heap_size < n + 2) {
                        char *t = realloc(r->heap_target, n + 2);
                        if (!t)
                                return NULL;
                        r->heap_target = t;
                        r->heap_size = n + 2;
                }
                r->target = r->heap_target;
        }
        q = memchr(uri, '?', n);
        for (const char *a = q; a && *a; a++)
                args += *a == '&';
        plen = q ? (size_t)(q - uri) : n;
        memcpy(r->target, uri, plen);
        r->target[plen] = 0;
        r->query = r->target + plen + 1;
        if (q)
                memcpy(r->query, q + 1, n - plen - 1);
        r->query[q ? n - plen - 1 : 0] = 0;

        buf_free(&r->body);
        r->body = BUF_INIT(s->max_body_bytes);
        r->drained = 0;
        r->state = REQUEST_NEW;
        r->active = true;
        __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);

        r->too_many_args = q && args >= MAX_QUERY_ARGS;
        /* MHD 0.9.75 would now parse the query into one record per argument in the connection's memory
         * pool, and give up on a request with more than the pool holds without answering it. The
         * adapter never asks MHD for arguments (handlers get the raw query): hide them from MHD by
         * ending the query where it starts. uri points into MHD's writable read buffer. */
        q = memchr(uri, '?', r->target_len);
        if (q)
                q[1] = '\0';
        return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        HttpServer *s = cls;
        Request *r = *con_cls;

        if (!r)
                return;
        request_end(s, r);
        *con_cls = NULL;
        /* The next request's deadline runs from the end of this one. */
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
                http_guard_rearm(&s->guard, &r->guard);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
        Request *r;

        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                r = calloc(1, sizeof(*r));
                if (r) {
                        r->body = BUF_INIT(0);
                        r->deferred.server = cls;
                        set_peer(c, r);
                        guard_open(cls, c, r);
                }
                *socket_context = r;
                return;
        }
        r = *socket_context;
        if (!r)
                return;
        http_guard_close(&((HttpServer *)cls)->guard, &r->guard);
        /* Requests MHD dropped without completing them end here. */
        request_end(cls, r);
        http_reply_clear_body(&r->deferred.reply);
        blob_unref(r->held);
        free(r->heap_target);
        free(r);
        *socket_context = NULL;
}

static void server_free(HttpServer *s)
{
        if (!s)
                return;
        canned_error_done(&s->too_large);
        canned_error_done(&s->headers_too_large);
        canned_error_done(&s->target_too_long);
        canned_error_done(&s->no_memory);
        http_guard_done(&s->guard);
        pthread_mutex_destroy(&s->defer_lock);
        free(s->tls_cert);
        free(s->tls_key);
        free(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(HttpServer *, server_free);

static int canned_errors_init(HttpServer *s)
{
        char value[128];
        int r;

        snprintf(value, sizeof(value), "request body exceeds %zu bytes", s->max_body_bytes);
        r = canned_error_init(&s->too_large, "payload_too_large", value);
        if (r < 0)
                return r;
        snprintf(value, sizeof(value), "request line and headers exceed %zu bytes", s->max_header_bytes);
        r = canned_error_init(&s->headers_too_large, "header_fields_too_large", value);
        if (r < 0)
                return r;
        snprintf(value, sizeof(value), "request target exceeds %zu bytes", s->max_header_bytes);
        r = canned_error_init(&s->target_too_long, "uri_too_long", value);
        if (r < 0)
                return r;
        return canned_error_init(&s->no_memory, "internal_error", "out of memory");
}

/* Fills *ss with the address to listen on ("::": IPv6 and IPv4), adding the MHD flags it needs. */
static int listen_address(const char *address, uint16_t port, struct sockaddr_storage *ss, unsigned *flags,
                          Error *e)
{
        struct sockaddr_in *sa4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *sa6 = (struct sockaddr_in6 *)ss;

        if (streq(address, "::")) {
                sa6->sin6_family = AF_INET6;
                sa6->sin6_addr = in6addr_any;
                sa6->sin6_port = htons(port);
                *flags |= MHD_USE_DUAL_STACK;
        } else if (inet_pton(AF_INET, address, &sa4->sin_addr) == 1) {
                sa4->sin_family = AF_INET;
                sa4->sin_port = htons(port);
        } else if (inet_pton(AF_INET6, address, &sa6->sin6_addr) == 1) {
                sa6->sin6_family = AF_INET6;
                sa6->sin6_port = htons(port);
                *flags |= MHD_USE_IPv6;
        } else
                return error_setf(e, -EINVAL, "HTTP server: '%s' is not a numeric IPv4 or IPv6 address",
                                  address);
        return 0;
}

/* Keeps libmicrohttpd's first complaint while the server starts (the reason MHD_start_daemon() fails). */
_printf_(2, 0) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        HttpServer *s = cls;
        size_t n;

        if (__atomic_load_n(&s->started, __ATOMIC_ACQUIRE) || s->start_error[0])
                return;
        vsnprintf(s->start_error, sizeof(s->start_error), fmt, ap);
        n = strlen(s->start_error);
        while (n > 0 && (s->start_error[n - 1] == '\n' || s->start_error[n - 1] == '.'))
                s->start_error[--n] = 0;
}

/* The server's state before MHD starts: limits, its copy of the TLS key pair, the canned errors. */
static int server_new(const HttpServerConfig *config, HttpServer **ret, Error *e)
{
        _cleanup_(server_freep) HttpServer *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return error_setf(e, -ENOMEM, "HTTP server: out of memory");
        pthread_mutex_init(&s->defer_lock, NULL);
        s->max_connections = config->max_connections ?: DEFAULT_MAX_CONNECTIONS;
        r = http_guard_init(&s->guard, s->max_connections,
                            config->max_connections_per_address ?: DEFAULT_PER_ADDRESS,
                            config->request_timeout_sec ?: DEFAULT_REQUEST_TIMEOUT_SEC);
        if (r < 0)
                return error_setf(e, r, "HTTP server: out of memory");
        s->handler = config->handler;
        s->userdata = config->userdata;
        s->allow_deferred = config->allow_deferred;
        s->max_header_bytes = config->max_header_bytes ? config->max_header_bytes : DEFAULT_MAX_HEADER_BYTES;
        s->max_body_bytes = config->max_body_bytes ? config->max_body_bytes : DEFAULT_MAX_BODY_BYTES;
        if (s->max_header_bytes > MAX_HEADER_BYTES_LIMIT)
                return error_setf(e, -EINVAL, "HTTP server: header limit %zu is above %zu bytes",
                                  s->max_header_bytes, MAX_HEADER_BYTES_LIMIT);
        s->pool_size = MAX(POOL_MIN, 2 * s->max_header_bytes + POOL_SLACK);
        if (config->tls_cert_pem) {
                /* Kept for the daemon's lifetime: MHD refers to them. */
                s->tls_cert = strdup(config->tls_cert_pem);
                s->tls_key = strdup(config->tls_key_pem);
                if (!s->tls_cert || !s->tls_key)
                        return error_setf(e, -ENOMEM, "HTTP server: out of memory");
        }
        r = canned_errors_init(s);
        if (r < 0)
                return error_setf(e, r, "HTTP server: cannot build error responses");
        *ret = TAKE_PTR(s);
        return 0;
}

/* MHD's options for s, ending with MHD_OPTION_END. */
static void server_options(HttpServer *s, const HttpServerConfig *config, struct sockaddr_storage *ss,
                           struct MHD_OptionItem opts[static SERVER_OPTIONS_MAX])
{
        unsigned threads = config->threads ? config->threads : 1;
        size_t n = 0;

#define OPT(o, v, p) (opts[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (p) })
        OPT(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s); /* first: MHD logs about later options */
        OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->pool_size, NULL);
        OPT(MHD_OPTION_CONNECTION_LIMIT, s->max_connections, NULL);
        OPT(MHD_OPTION_CONNECTION_TIMEOUT,
            config->idle_timeout_sec ? config->idle_timeout_sec : DEFAULT_IDLE_TIMEOUT_SEC, NULL);
        OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, s);
        OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, s);
        OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, s);
        OPT(MHD_OPTION_SOCK_ADDR, 0, ss);
        if (threads > 1)
                OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
        else /* http-loop.c blocks SIGPIPE in its thread: MHD may use sendfile() */
                OPT(MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, NULL);
        if (s->tls_cert) {
                OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert);
                OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key);
                OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
                    (void *)(config->tls_priorities ?: DEFAULT_TLS_PRIORITIES));
        }
        OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
        assert(n <= SERVER_OPTIONS_MAX);
}

int http_server_start(const HttpServerConfig *config, HttpServer **ret, Error *e)
{
        _cleanup_(server_freep) HttpServer *s = NULL;
        struct sockaddr_storage ss = {};
        struct MHD_OptionItem opts[SERVER_OPTIONS_MAX];
        const char *address;
        /* One thread: MHD's epoll mode driven by http-loop.c (MHD's own epoll thread stalls, its poll()
         * costs grow with the connections). A pool: MHD's poll() threads. */
        unsigned flags = (config->threads > 1 ? MHD_USE_POLL_INTERNAL_THREAD : MHD_USE_EPOLL) |
                         MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
        const union MHD_DaemonInfo *info;
        int r;

        assert(config);
        assert(ret);
        if (!config->handler)
                return error_setf(e, -EINVAL, "HTTP server: no handler");
        if (!config->tls_cert_pem != !config->tls_key_pem)
                return error_setf(e, -EINVAL, "HTTP server: TLS needs both a certificate and a key");
        address = config->address ? config->address : "::";
        r = listen_address(address, config->port, &ss, &flags, e);
        if (r < 0)
                return r;
        if (config->tls_cert_pem) {
                if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                        return error_setf(
                                e, -EOPNOTSUPP,
                                "HTTP server: TLS requested but libmicrohttpd was built without TLS");
                flags |= MHD_USE_TLS;
        }
        if (config->allow_deferred)
                flags |= MHD_ALLOW_SUSPEND_RESUME;

        r = server_new(config, &s, e);
        if (r < 0)
                return r;
        r = http_guard_start(&s->guard);
        if (r < 0)
                return error_setf(e, r, "HTTP server: cannot start a thread: %m");
        server_options(s, config, &ss, opts);
        errno = 0;
        s->daemon = MHD_start_daemon(flags, config->port, on_accept, s, on_access, s, MHD_OPTION_ARRAY, opts,
                                     MHD_OPTION_END);
        if (!s->daemon && strstr(s->start_error, "priorit"))
                return error_setf(e, -EINVAL, "HTTP server: TLS priorities '%s' rejected: %s",
                                  config->tls_priorities ?: DEFAULT_TLS_PRIORITIES, s->start_error);
        if (!s->daemon) {
                r = errno > 0 ? -errno : -EIO;
                return error_setf(e, r, "HTTP server: cannot listen on %s%s%s:%u: %m%s%s",
                                  strchr(address, ':') ? "[" : "", address, strchr(address, ':') ? "]" : "",
                                  config->port, s->start_error[0] ? ": " : "", s->start_error);
        }
        __atomic_store_n(&s->started, true, __ATOMIC_RELEASE);
        if (!(flags & MHD_USE_INTERNAL_POLLING_THREAD) && (r = http_loop_start(s->daemon, &s->loop)) < 0) {
                MHD_stop_daemon(TAKE_PTR(s->daemon));
                return error_setf(e, r, "HTTP server: cannot start its thread: %s", strerror(-r));
        }
        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : config->port;

        *ret = TAKE_PTR(s);
        return 0;
}

uint16_t http_server_port(const HttpServer *s)
{
        return s ? s->port : 0;
}

void http_server_stop(HttpServer *s, unsigned timeout_ms)
{
        MHD_socket listen_fd;
        uint64_t deadline;

        if (!s)
                return;
        /* Stop accepting; connections already open keep being served. */
        listen_fd = s->loop ? http_loop_quiesce(s->loop) : MHD_quiesce_daemon(s->daemon);
        /* MHD has taken the socket out of its threads' sets by now; shutting it down makes
         * new clients get "connection refused" at once instead of waiting in the backlog until the
         * socket is closed below. */
        if (listen_fd != MHD_INVALID_SOCKET)
                (void)shutdown(listen_fd, SHUT_RDWR);
        /* Wait for the requests in flight (idle keep-alive connections do not count). */
        deadline = now_msec(CLOCK_MONOTONIC) + timeout_ms;
        while (__atomic_load_n(&s->in_flight, __ATOMIC_ACQUIRE) > 0 &&
               now_msec(CLOCK_MONOTONIC) < deadline) {
                struct timespec ts = timespec_from_nsec(5 * NSEC_PER_MSEC);
                nanosleep(&ts, NULL);
        }
        /* A request whose reply was deferred is still referred to by whoever will answer it: wait for
         * them all, however long (http-server.h). */
        while (__atomic_load_n(&s->deferred_pending, __ATOMIC_ACQUIRE) > 0) {
                struct timespec ts = timespec_from_nsec(5 * NSEC_PER_MSEC);
                nanosleep(&ts, NULL);
        }
        http_loop_stop(s->loop);
        MHD_stop_daemon(s->daemon);
        /* After quiescing, the listening socket is ours to close, once the threads are gone. */
        if (listen_fd != MHD_INVALID_SOCKET)
                close(listen_fd);
        server_free(s);
}

/* http-server.h — Upkeep's HTTP server adapter over libmicrohttpd.
 *
 * One handler callback answers every request; it runs on the server's thread(s) and must not block.
 * The adapter enforces the caps (request line + headers, body size, connections overall and per client
 * address, a deadline for receiving each request, idle timeout), answers
 * requests it rejects itself (oversized, malformed, ambiguously framed: see http-server.c) with a JSON
 * error body, binds to port 0 and reports the port it got, and stops gracefully: stop accepting, finish
 * what is in flight, then close. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "error.h"

typedef struct HttpServer HttpServer;

typedef struct HttpRequest {
        const char *method; /* "GET", "POST", ... */
        const char *path;   /* the path, percent-decoding NOT applied, without the query */
        const char *query;  /* raw query string after '?', not decoded; "" when none */
        const char *body;   /* NULL when empty */
        size_t body_len;
        const char *peer; /* textual peer address ("127.0.0.1", "::1") */
        /* The key the peer's connections are counted under (http_guard_addr_key(): an IPv4 address or an
         * IPv6 /64); peer_counted false for the host's own 127.0.0.1 and ::1, which are never limited. */
        bool peer_counted;
        uint64_t peer_key;
        void *internal; /* adapter state (header lookup) */
} HttpRequest;

/* Value of a request header (case-insensitive name), NULL when absent. */
const char *http_request_header(const HttpRequest *req, const char *name);

#define HTTP_REPLY_MAX_HEADERS 8

typedef struct HttpReply {
        unsigned status;          /* HTTP status code */
        const char *content_type; /* static string, or NULL for none */
        /* The body, one of (blob wins if set): */
        Blob *blob;  /* the adapter takes over this reference */
        char *owned; /* malloc()ed; the adapter frees it */
        size_t owned_len;
        /* Extra headers: static (or longer-lived than the reply) strings. */
        const char *header_names[HTTP_REPLY_MAX_HEADERS];
        const char *header_values[HTTP_REPLY_MAX_HEADERS];
        size_t n_headers;
} HttpReply;

/* Sets a JSON error body {"kind": kind, "value": value} with the given status. Returns 0 or -ENOMEM. */
int http_reply_error(HttpReply *reply, unsigned status, const char *kind, const char *value);
/* Adds a header (static strings). -E2BIG when full. */
int http_reply_add_header(HttpReply *reply, const char *name, const char *value);

/* Fills *reply. The handler always produces a reply; a returned negative errno makes the adapter answer
 * 500 {"kind":"internal_error"} instead (and drop whatever the handler put in reply). */
typedef int (*HttpHandler)(void *userdata, const HttpRequest *req, HttpReply *reply);

/* Deferred replies, for a handler that waits for something else (a backend write) without blocking the
 * server's thread: it calls http_request_defer() and returns 0 with the reply untouched, and whoever
 * holds the HttpDeferred later calls http_deferred_finish() exactly once, from any thread (possibly
 * before the handler has returned). Meanwhile the connection is parked: the thread serves others. The
 * request's fields are only valid during the handler call; copy what the answer needs. The server
 * waits for every deferred reply when it stops, so the party that answers must always answer. */
typedef struct HttpDeferred HttpDeferred;
/* NULL when the request cannot be deferred (out of memory): answer it directly. */
HttpDeferred *http_request_defer(const HttpRequest *req);
/* r and reply are what the handler would have returned and filled; the body is taken over. */
void http_deferred_finish(HttpDeferred *d, int r, HttpReply *reply);

typedef struct HttpServerConfig {
        const char *address;      /* numeric IPv4 or IPv6 address; NULL = "::" (dual-stack) */
        uint16_t port;            /* 0 = any free port */
        unsigned threads;         /* 1 = one event-loop thread; more = a pool of them */
        unsigned max_connections; /* default 4096 when 0 */
        /* Open connections per client address (an IPv4 address, or an IPv6 /64: one site's network);
         * more are closed as soon as they are accepted. Default 32 when 0; max_connections or more turns
         * it off in effect (behind a reverse proxy). */
        unsigned max_connections_per_address;
        /* A request (line, headers and body) must arrive whole within this many seconds of the
         * connection's opening or of the end of the previous response, however it trickles in;
         * otherwise the connection is closed without an answer. This also bounds how long a kept-alive
         * connection waits for its next request. Default 10 when 0. */
        unsigned request_timeout_sec;
        unsigned idle_timeout_sec; /* connections idle this long are closed; default 30 when 0 */
        size_t max_header_bytes;   /* request line + headers; default 8 KiB when 0 */
        size_t max_body_bytes;     /* larger bodies get 413; default 64 KiB when 0 */
        const char *tls_cert_pem;  /* PEM contents (not paths); both NULL = plain HTTP */
        const char *tls_key_pem;
        /* GnuTLS priority string; NULL = TLS 1.2 and 1.3 with ECDHE/DHE and AEAD ciphers only. A string
         * GnuTLS rejects fails http_server_start() with -EINVAL and an error saying so. */
        const char *tls_priorities;
        bool allow_deferred; /* handlers may use http_request_defer() */
        HttpHandler handler;
        void *userdata;
} HttpServerConfig;

int http_server_start(const HttpServerConfig *config, HttpServer **ret, Error *e);
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const HttpServer *s);
/* Graceful stop: closes the listening socket, lets in-flight requests finish (at most timeout_ms), then
 * stops the threads and frees everything. NULL is fine. */
void http_server_stop(HttpServer *s, unsigned timeout_ms);

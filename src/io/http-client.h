/* http-client.h — Upkeep's HTTP client adapter over libcurl: one reusable handle per user (so
 * connections are kept alive), with connect and total timeouts, a cap on the response body,
 * a bounded number of redirects, and optional TLS client certificates. Blocking; not thread-safe per
 * handle. Used to fetch remote update metadata, to talk to etcd and to the graph and lock servers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct HttpClient HttpClient;

typedef struct HttpClientOptions {
        unsigned connect_timeout_ms; /* default 5000 when 0 */
        unsigned total_timeout_ms;   /* default 30000 when 0 */
        size_t max_body_bytes;       /* default 16 MiB when 0; larger responses fail with -EFBIG */
        int max_redirects;           /* default 3 when 0; -1 = never follow */
        const char *ca_file;         /* NULL = system trust store */
        const char *client_cert;     /* PEM file paths, NULL = none */
        const char *client_key;
        const char *user_agent; /* default "upkeep/<version>" */
        /* Accept-Encoding offered and decoded (e.g. "gzip"); NULL = identity only. max_body_bytes caps
         * the decoded body, so a compression bomb fails with -EFBIG like any large answer. */
        const char *accept_encoding;
        bool no_proxy; /* ignore http_proxy & co. (etcd, local servers); default: honour them */
} HttpClientOptions;

typedef struct HttpResponse {
        long status;
        char *body; /* NUL-terminated, malloc()ed */
        size_t body_len;
        char *content_type; /* NULL when the server sent none */
        char *etag;         /* the ETag header's value, NULL when none (or longer than HTTP_ETAG_MAX) */
} HttpResponse;

#define HTTP_ETAG_MAX 256

void http_response_done(HttpResponse *r); /* frees the members, not r */

int http_client_new(const HttpClientOptions *o, HttpClient **ret);
HttpClient *http_client_free(HttpClient *c);

/* Performs one request. headers: NULL-terminated "Name: value" strings, or NULL. body may be NULL.
 * Returns 0 when an HTTP response arrived (any status: the caller judges it), or a negative errno with
 * e describing the failure: -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EFBIG (body cap), -EPROTO (bad
 * response, too many redirects), -EINVAL (bad URL or scheme other than http/https). */
int http_client_request(HttpClient *c, const char *method, const char *url, const char *const *headers,
                        const char *body, size_t body_len, HttpResponse *ret, Error *e);

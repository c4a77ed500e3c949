/* etcd-http.h — the etcd client's HTTP transport: keep-alive POSTs over libcurl, which is loaded with
 * dlopen() the first time an etcd client is created, so that upkeep-lock with its default (SQLite) backend
 * never maps libcurl and its TLS and resolver libraries (issue 12: about 3.8 MiB of its peak RSS).
 *
 * The same contract as http-client.h for what etcd.c uses: connect and total timeouts, a cap on the
 * answer's body, no redirects, no proxy, optional TLS CA file and client certificate. Errors: 0 when an
 * HTTP answer arrived (any status), else -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EPROTO (bad answer,
 * TLS handshake), -EFBIG (body cap), -EINVAL (bad URL, unusable certificate file), -ENOMEM, -EIO; and
 * -ELIBACC when libcurl cannot be loaded, with a message naming the library. Blocking; one request at a
 * time per EtcdHttp. */
#pragma once

#include <stddef.h>

#include "error.h"

#define ETCD_HTTP_LIBCURL "libcurl.so.4"

typedef struct EtcdHttp EtcdHttp;

typedef struct EtcdHttpOptions {
        unsigned connect_timeout_ms, total_timeout_ms; /* both required, > 0 */
        size_t max_body_bytes;                         /* required, > 0 */
        const char *ca_file;                           /* PEM paths; NULL = system trust store / none */
        const char *client_cert;
        const char *client_key;
} EtcdHttpOptions;

typedef struct EtcdHttpResponse {
        long status;
        char *body; /* NUL-terminated, malloc()ed */
        size_t body_len;
} EtcdHttpResponse;

/* Loads libcurl from `soname` (NULL: ETCD_HTTP_LIBCURL) once per process; later calls return the first
 * outcome. -ELIBACC with e naming the library and dlerror()'s reason when it or one of its functions is
 * missing. etcd_http_new() calls it; exposed for tests. */
int etcd_http_load(const char *soname, Error *e);

int etcd_http_new(const EtcdHttpOptions *o, EtcdHttp **ret, Error *e);
EtcdHttp *etcd_http_free(EtcdHttp *h);

/* POSTs body (JSON, Content-Type application/json) to url. */
int etcd_http_post(EtcdHttp *h, const char *url, const char *body, size_t len, EtcdHttpResponse *ret,
                   Error *e);
void etcd_http_response_done(EtcdHttpResponse *r); /* frees the members, not r */

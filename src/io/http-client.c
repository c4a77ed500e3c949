/* http-client.c — the HTTP client adapter over libcurl (see http-client.h).
 *
 * One easy handle per client, reused so that libcurl keeps connections alive between requests. Method
 * options are reset before every request. The response body is collected by a CurlSink (curl-sink.h) capped
 * at max_body_bytes: an announced Content-Length above the cap is refused before any byte is read
 * (CURLOPT_MAXFILESIZE_LARGE), and a body that grows past it aborts the transfer. */
#include "http-client.h"

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "curl-sink.h"
#include "macros.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000U
#define DEFAULT_TOTAL_TIMEOUT_MS 30000U
#define DEFAULT_MAX_BODY_BYTES ((size_t)16 * 1024 * 1024)
#define DEFAULT_MAX_REDIRECTS 3

struct HttpClient {
        CURL *curl;
        CurlSink sink; /* per request: the body, its flags, libcurl's error buffer */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_response_done(HttpResponse *r)
{
        if (!r)
                return;
        free(r->body);
        free(r->content_type);
        free(r->etag);
        r->body = r->content_type = r->etag = NULL;
        r->body_len = 0;
}

HttpClient *http_client_free(HttpClient *c)
{
        if (!c)
                return NULL;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        curl_sink_done(&c->sink);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(HttpClient *, http_client_free);

int http_client_new(const HttpClientOptions *o, HttpClient **ret)
{
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        HttpClientOptions def = {};
        CURLcode cc = CURLE_OK;
        int redirects;

        assert(ret);
        if (!o)
                o = &def;
        if (o->max_redirects < -1)
                return -EINVAL;

        pthread_once(&curl_once, curl_init_once);
        if (curl_init_result != CURLE_OK)
                return curl_init_result == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        curl_sink_init(&c->sink, o->max_body_bytes ? o->max_body_bytes : DEFAULT_MAX_BODY_BYTES);
        c->curl = curl_easy_init();
        if (!c->curl)
                return -ENOMEM;

        redirects = o->max_redirects == 0 ? DEFAULT_MAX_REDIRECTS : o->max_redirects;

#define SET(opt, val)                                                                                       \
        do {                                                                                                \
                if (cc == CURLE_OK)                                                                         \
                        cc = curl_easy_setopt(c->curl, (opt), (val));                                       \
        } while (0)
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_ms ?: DEFAULT_CONNECT_TIMEOUT_MS));
        SET(CURLOPT_TIMEOUT_MS, (long)(o->total_timeout_ms ?: DEFAULT_TOTAL_TIMEOUT_MS));
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        if (redirects < 0)
                SET(CURLOPT_FOLLOWLOCATION, 0L);
        else {
                SET(CURLOPT_FOLLOWLOCATION, 1L);
                SET(CURLOPT_MAXREDIRS, (long)redirects);
        }
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MIN(c->sink.body.max, (size_t)INT64_MAX));
        SET(CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "upkeep/" UPKEEP_VERSION);
        if (o->accept_encoding)
                SET(CURLOPT_ACCEPT_ENCODING, o->accept_encoding);
        if (o->no_proxy)
                SET(CURLOPT_NOPROXY, "*");
        SET(CURLOPT_ERRORBUFFER, c->sink.errbuf);
        SET(CURLOPT_WRITEFUNCTION, curl_sink_write);
        SET(CURLOPT_WRITEDATA, &c->sink);
        SET(CURLOPT_HEADERFUNCTION, curl_sink_header);
        SET(CURLOPT_HEADERDATA, &c->sink);
        if (o->ca_file)
                SET(CURLOPT_CAINFO, o->ca_file);
        if (o->client_cert)
                SET(CURLOPT_SSLCERT, o->client_cert);
        if (o->client_key)
                SET(CURLOPT_SSLKEY, o->client_key);
#undef SET
        if (cc == CURLE_OUT_OF_MEMORY)
                return -ENOMEM;
        if (cc != CURLE_OK)
                return -EOPNOTSUPP; /* an option this libcurl does not know */

        *ret = TAKE_PTR(c);
        return 0;
}

static bool has_header(const char *const *headers, const char *name)
{
        size_t n = strlen(name);

        for (size_t i = 0; headers && headers[i]; i++)
                if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':')
                        return true;
        return false;
}

static bool url_scheme_ok(const char *url)
{
        return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static bool method_ok(const char *m)
{
        if (!*m)
                return false;
        for (; *m; m++)
                if (!((*m >= 'A' && *m <= 'Z') || (*m >= 'a' && *m <= 'z') || *m == '-' || *m == '_'))
                        return false;
        return true;
}

/* The URL for messages, without any "user:password@". */
static void url_for_message(const char *url, char *buf, size_t n)
{
        const char *start = strstr(url, "://"), *at, *end;

        if (start) {
                start += 3;
                end = start + strcspn(start, "/?#");
                at = memchr(start, '@', (size_t)(end - start));
                if (at) {
                        snprintf(buf, n, "%.*s%s", (int)(start - url), url, at + 1);
                        return;
                }
        }
        snprintf(buf, n, "%s", url);
}

static int fail(HttpClient *c, CURLcode cc, const char *method, const char *url, Error *e)
{
        char u[256];
        long os_errno = 0;

        url_for_message(url, u, sizeof(u));
        if (cc == CURLE_COULDNT_CONNECT)
                curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
        return curl_sink_fail(&c->sink, cc, os_errno, curl_easy_strerror(cc), method, u, e);
}

/* Puts the reused handle back to a plain GET without body or custom method. */
static void reset_method(CURL *curl)
{
        /* CURLOPT_POSTFIELDS switches to POST, so it goes first and HTTPGET undoes it. */
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
}

/* The request's header list: the caller's headers, no "Expect: 100-continue" round trip, and no
 * Content-Type unless the caller set one. */
static int header_list(const char *const *headers, bool with_body, struct curl_slist **ret)
{
        struct curl_slist *list = NULL, *l;

        for (size_t i = 0; headers && headers[i]; i++) {
                if (!(l = curl_slist_append(list, headers[i])))
                        goto nomem;
                list = l;
        }
        if (!has_header(headers, "Expect")) {
                if (!(l = curl_slist_append(list, "Expect:")))
                        goto nomem;
                list = l;
        }
        if (with_body && !has_header(headers, "Content-Type")) {
                if (!(l = curl_slist_append(list, "Content-Type:")))
                        goto nomem;
                list = l;
        }
        *ret = list;
        return 0;
nomem:
        curl_slist_free_all(list);
        return -ENOMEM;
}

/* Sets up the reused handle for one request. */
static CURLcode setup_request(HttpClient *c, const char *method, const char *url, struct curl_slist *list,
                              bool with_body, const char *body, size_t body_len)
{
        CURLcode cc = CURLE_OK;

        reset_method(c->curl);
        curl_sink_reset(&c->sink);

#define SET(opt, val)                                                                                       \
        do {                                                                                                \
                if (cc == CURLE_OK)                                                                         \
                        cc = curl_easy_setopt(c->curl, (opt), (val));                                       \
        } while (0)
        SET(CURLOPT_URL, url);
        SET(CURLOPT_HTTPHEADER, list);
        if (with_body) {
                SET(CURLOPT_POSTFIELDS, body ? body : "");
                SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
                if (strcasecmp(method, "POST") != 0)
                        SET(CURLOPT_CUSTOMREQUEST, method);
        } else if (strcasecmp(method, "HEAD") == 0)
                SET(CURLOPT_NOBODY, 1L);
        else if (strcasecmp(method, "GET") != 0)
                SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
        return cc;
}

int http_client_request(HttpClient *c, const char *method, const char *url, const char *const *headers,
                        const char *body, size_t body_len, HttpResponse *ret, Error *e)
{
        struct curl_slist *list = NULL;
        bool with_body;
        CURLcode cc;
        char *content_type = NULL, *etag = NULL, *data;
        struct curl_header *h;
        const char *ct = NULL;
        long status = 0;
        size_t n;
        int r;

        assert(c);
        assert(url);
        assert(ret);
        if (!method)
                method = "GET";
        if (!method_ok(method))
                return error_setf(e, -EINVAL, "HTTP request: invalid method '%s'", method);
        if (!url_scheme_ok(url)) {
                char u[256];
                url_for_message(url, u, sizeof(u));
                return error_setf(e, -EINVAL, "%s %s: only http:// and https:// URLs are allowed", method,
                                  u);
        }
        if (body_len > 0 && !body)
                return error_setf(e, -EINVAL, "HTTP request: body length without a body");

        /* POST and PUT always carry a body (maybe empty); other methods only when given one. */
        with_body = strcasecmp(method, "POST") == 0 || strcasecmp(method, "PUT") == 0 || body_len > 0;
        if (header_list(headers, with_body, &list) < 0)
                return error_setf(e, -ENOMEM, "%s: out of memory", method);

        cc = setup_request(c, method, url, list, with_body, body, body_len);
        if (cc == CURLE_OK)
                cc = curl_easy_perform(c->curl);
        if (cc == CURLE_OK) {
                curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
                if (ct && !(content_type = strdup(ct)))
                        cc = CURLE_OUT_OF_MEMORY;
                if (curl_easy_header(c->curl, "ETag", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
                    strlen(h->value) <= HTTP_ETAG_MAX && !(etag = strdup(h->value)))
                        cc = CURLE_OUT_OF_MEMORY;
        }
        /* Nothing may keep pointing at the caller's memory. */
        reset_method(c->curl);
        curl_slist_free_all(list);

        if (cc != CURLE_OK) {
                r = fail(c, cc, method, url, e);
                curl_sink_reset(&c->sink);
                free(content_type);
                free(etag);
                return r;
        }
        data = buf_steal(&c->sink.body, &n);
        if (!data) {
                free(content_type);
                free(etag);
                return error_setf(e, -ENOMEM, "%s: out of memory", method);
        }
        *ret = (HttpResponse){
                .status = status, .body = data, .body_len = n, .content_type = content_type, .etag = etag
        };
        return 0;
}

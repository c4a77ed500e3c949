/* etcd-http.c — the etcd client's HTTP transport over a libcurl loaded at run time (see etcd-http.h).
 *
 * Only the declarations of curl.h are used at build time; the nine functions called here are looked up
 * with dlsym() in libcurl.so.4 the first time an etcd client is created. One easy handle per EtcdHttp,
 * reused so that libcurl keeps the connection alive; its options are set once, the URL and body per
 * request. The answer's body is collected by a CurlSink (curl-sink.h, which calls no libcurl function)
 * capped at max_body_bytes. */
#define CURL_DISABLE_TYPECHECK /* calls go through function pointers, not the type-checking macros */
#include "etcd-http.h"

#include <assert.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "config.h"
#include "curl-sink.h"
#include "macros.h"

/* The libcurl functions etcd needs. */
typedef struct Curl {
        CURLcode (*global_init)(long flags);
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
        CURLcode (*easy_perform)(CURL *curl);
        CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
        void (*easy_cleanup)(CURL *curl);
        const char *(*easy_strerror)(CURLcode code);
        struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
        void (*slist_free_all)(struct curl_slist *list);
} Curl;

struct EtcdHttp {
        CURL *curl;
        struct curl_slist *headers;
        CurlSink sink; /* per request: the body, its flags, libcurl's error buffer */
};

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static Curl curl;
static int load_result = 1; /* 1: not tried yet */
static char load_message[ERROR_MESSAGE_MAX];

/* Looks up the functions in handle; the name of the first missing one, or NULL. */
static const char *resolve(void *handle, Curl *c)
{
        static const struct {
                const char *name;
                size_t offset;
        } syms[] = {
                { "curl_global_init", offsetof(Curl, global_init) },
                { "curl_easy_init", offsetof(Curl, easy_init) },
                { "curl_easy_setopt", offsetof(Curl, easy_setopt) },
                { "curl_easy_perform", offsetof(Curl, easy_perform) },
                { "curl_easy_getinfo", offsetof(Curl, easy_getinfo) },
                { "curl_easy_cleanup", offsetof(Curl, easy_cleanup) },
                { "curl_easy_strerror", offsetof(Curl, easy_strerror) },
                { "curl_slist_append", offsetof(Curl, slist_append) },
                { "curl_slist_free_all", offsetof(Curl, slist_free_all) },
        };

        for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
                void *f = dlsym(handle, syms[i].name);
                if (!f)
                        return syms[i].name;
                memcpy((char *)c + syms[i].offset, &f, sizeof(f));
        }
        return NULL;
}

static int load(const char *soname)
{
        const char *missing;
        void *handle;
        Curl c;

        handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
                snprintf(load_message, sizeof(load_message),
                         "etcd: the etcd backend needs %s (libcurl), which cannot be loaded: %s", soname,
                         dlerror() ?: "unknown error");
                return -ELIBACC;
        }
        missing = resolve(handle, &c);
        if (missing) {
                snprintf(load_message, sizeof(load_message), "etcd: %s has no function %s", soname, missing);
                dlclose(handle);
                return -ELIBACC;
        }
        if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                snprintf(load_message, sizeof(load_message), "etcd: %s: curl_global_init() failed", soname);
                return -EIO; /* the library stays loaded: it may have started initializing */
        }
        curl = c;
        return 0;
}

int etcd_http_load(const char *soname, Error *e)
{
        int r;

        pthread_mutex_lock(&load_lock);
        if (load_result > 0)
                load_result = load(soname ?: ETCD_HTTP_LIBCURL);
        r = load_result;
        pthread_mutex_unlock(&load_lock);
        if (r < 0)
                return error_setf(e, r, "%s", load_message);
        return 0;
}

void etcd_http_response_done(EtcdHttpResponse *r)
{
        if (!r)
                return;
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
}

EtcdHttp *etcd_http_free(EtcdHttp *h)
{
        if (!h)
                return NULL;
        if (h->curl)
                curl.easy_cleanup(h->curl);
        if (h->headers)
                curl.slist_free_all(h->headers);
        curl_sink_done(&h->sink);
        free(h);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdHttp *, etcd_http_free);

static CURLcode set_options(EtcdHttp *h, const EtcdHttpOptions *o)
{
        CURLcode cc = CURLE_OK;

#define SET(opt, val)                                                                                       \
        do {                                                                                                \
                if (cc == CURLE_OK)                                                                         \
                        cc = curl.easy_setopt(h->curl, (opt), (val));                                       \
        } while (0)
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
        SET(CURLOPT_TIMEOUT_MS, (long)o->total_timeout_ms);
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MIN(h->sink.body.max, (size_t)INT64_MAX));
        SET(CURLOPT_USERAGENT, "upkeep/" UPKEEP_VERSION);
        SET(CURLOPT_NOPROXY, "*"); /* etcd members are reached directly, never through a proxy */
        SET(CURLOPT_ERRORBUFFER, h->sink.errbuf);
        SET(CURLOPT_WRITEFUNCTION, curl_sink_write);
        SET(CURLOPT_WRITEDATA, &h->sink);
        SET(CURLOPT_HEADERFUNCTION, curl_sink_header);
        SET(CURLOPT_HEADERDATA, &h->sink);
        SET(CURLOPT_HTTPHEADER, h->headers);
        if (o->ca_file)
                SET(CURLOPT_CAINFO, o->ca_file);
        if (o->client_cert)
                SET(CURLOPT_SSLCERT, o->client_cert);
        if (o->client_key)
                SET(CURLOPT_SSLKEY, o->client_key);
#undef SET
        return cc;
}

int etcd_http_new(const EtcdHttpOptions *o, EtcdHttp **ret, Error *e)
{
        _cleanup_(etcd_http_freep) EtcdHttp *h = NULL;
        struct curl_slist *l;
        CURLcode cc;
        int r;

        assert(o);
        assert(ret);
        assert(o->connect_timeout_ms > 0 && o->total_timeout_ms > 0 && o->max_body_bytes > 0);
        r = etcd_http_load(NULL, e);
        if (r < 0)
                return r;
        h = calloc(1, sizeof(*h));
        if (!h)
                return error_setf(e, -ENOMEM, "etcd: out of memory");
        curl_sink_init(&h->sink, o->max_body_bytes);
        h->curl = curl.easy_init();
        if (!h->curl)
                return error_setf(e, -ENOMEM, "etcd: out of memory");
        /* JSON bodies, and no "Expect: 100-continue" round trip for large ones */
        l = curl.slist_append(NULL, "Content-Type: application/json");
        if (l)
                h->headers = l;
        l = l ? curl.slist_append(h->headers, "Expect:") : NULL;
        if (!l)
                return error_setf(e, -ENOMEM, "etcd: out of memory");
        cc = set_options(h, o);
        if (cc != CURLE_OK)
                return error_setf(e, cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EOPNOTSUPP,
                                  "etcd: setting up libcurl: %s", curl.easy_strerror(cc));
        *ret = TAKE_PTR(h);
        return 0;
}

static int fail(EtcdHttp *h, CURLcode cc, const char *url, Error *e)
{
        long os_errno = 0;

        if (cc == CURLE_COULDNT_CONNECT)
                curl.easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
        return curl_sink_fail(&h->sink, cc, os_errno, curl.easy_strerror(cc), "POST", url, e);
}

int etcd_http_post(EtcdHttp *h, const char *url, const char *body, size_t len, EtcdHttpResponse *ret,
                   Error *e)
{
        CURLcode cc = CURLE_OK;
        long status = 0;
        char *data;
        size_t n;

        assert(h);
        assert(url);
        assert(body || len == 0);
        assert(ret);
        curl_sink_reset(&h->sink);
        cc = curl.easy_setopt(h->curl, CURLOPT_URL, url);
        if (cc == CURLE_OK)
                cc = curl.easy_setopt(h->curl, CURLOPT_POSTFIELDS, body ?: "");
        if (cc == CURLE_OK)
                cc = curl.easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (cc == CURLE_OK)
                cc = curl.easy_perform(h->curl);
        if (cc == CURLE_OK)
                cc = curl.easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
        /* nothing may keep pointing at the caller's memory */
        (void)curl.easy_setopt(h->curl, CURLOPT_POSTFIELDS, "");
        (void)curl.easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        if (cc != CURLE_OK) {
                int r = fail(h, cc, url, e);
                curl_sink_reset(&h->sink);
                return r;
        }
        data = buf_steal(&h->sink.body, &n);
        if (!data)
                return error_setf(e, -ENOMEM, "POST %s: out of memory", url);
        *ret = (EtcdHttpResponse){ .status = status, .body = data, .body_len = n };
        return 0;
}

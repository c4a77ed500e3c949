/* curl-sink.c — the response plumbing both libcurl users share (see curl-sink.h). Calls no libcurl
 * function: etcd-http.c reaches libcurl only through dlopen(). */
#include "curl-sink.h"

#include <errno.h>
#include <strings.h>

#include "macros.h"

void curl_sink_init(CurlSink *s, size_t max)
{
        *s = (CurlSink){ .body = BUF_INIT(max) };
}

void curl_sink_reset(CurlSink *s)
{
        buf_truncate(&s->body, 0);
        s->too_big = s->no_memory = false;
        s->errbuf[0] = 0;
}

void curl_sink_done(CurlSink *s)
{
        buf_free(&s->body);
}

size_t curl_sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
        CurlSink *s = userdata;
        size_t n = size * nmemb;
        int r = buf_append(&s->body, data, n);

        if (r == -ENOBUFS)
                s->too_big = true;
        else if (r < 0)
                s->no_memory = true;
        return r < 0 ? 0 : n; /* anything but n aborts the transfer */
}

size_t curl_sink_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        CurlSink *s = userdata;
        size_t n = size * nmemb;

        if (n >= 5 && strncasecmp(data, "HTTP/", 5) == 0)
                buf_truncate(&s->body, 0);
        return n;
}

int curl_code_errno(CURLcode cc, long os_errno)
{
        switch (cc) {
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
                        return -EHOSTUNREACH;
                return os_errno == ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ENGINE_NOTFOUND:
                return -EINVAL;
        case CURLE_TOO_MANY_REDIRECTS:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_HTTP3:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
                return -EPROTO;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

int curl_sink_fail(const CurlSink *s, CURLcode cc, long os_errno, const char *strerror_text,
                   const char *method, const char *url, Error *e)
{
        int r;

        if (s->too_big || cc == CURLE_FILESIZE_EXCEEDED)
                return error_setf(e, -EFBIG, "%s %s: response body exceeds the limit of %zu bytes", method,
                                  url, s->body.max);
        if (s->no_memory)
                return error_setf(e, -ENOMEM, "%s %s: out of memory", method, url);
        r = curl_code_errno(cc, os_errno);
        if (s->errbuf[0] && !streq(s->errbuf, strerror_text))
                return error_setf(e, r, "%s %s: %s (%s)", method, url, strerror_text, s->errbuf);
        return error_setf(e, r, "%s %s: %s", method, url, strerror_text);
}

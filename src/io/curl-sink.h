/* curl-sink.h — the response plumbing both libcurl users share (http-client.c, linked with libcurl, and
 * etcd-http.c, which reaches libcurl through dlopen()): the body and header callbacks collecting the last
 * response's body into a capped Buf, the per-request reset, the CURLcode -> negative errno mapping and the
 * failure message. Uses only libcurl's types and constants, never one of its functions, so that linking it
 * does not link libcurl. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

typedef struct CurlSink {
        Buf body;                     /* the last response's body, capped at body.max */
        bool too_big;                 /* the body grew past the cap: the transfer was aborted */
        bool no_memory;               /* appending to the body failed: the transfer was aborted */
        char errbuf[CURL_ERROR_SIZE]; /* for CURLOPT_ERRORBUFFER */
} CurlSink;

/* Sets up an empty sink whose body is capped at max bytes. */
void curl_sink_init(CurlSink *s, size_t max);
/* Empties the body and clears the flags and errbuf: before each request, and after a failed one. */
void curl_sink_reset(CurlSink *s);
/* Frees the body. */
void curl_sink_done(CurlSink *s);

/* CURLOPT_WRITEFUNCTION, with the sink as CURLOPT_WRITEDATA: appends to the body; past the cap (too_big)
 * or out of memory (no_memory) it returns 0, which aborts the transfer. */
size_t curl_sink_write(char *data, size_t size, size_t nmemb, void *userdata);
/* CURLOPT_HEADERFUNCTION, with the sink as CURLOPT_HEADERDATA: a new status line ("HTTP/…", after a
 * redirect or a 100 Continue) empties the body, so only the last response's body is kept. */
size_t curl_sink_header(char *data, size_t size, size_t nmemb, void *userdata);

/* The negative errno for a failed transfer's CURLcode. os_errno is CURLINFO_OS_ERRNO, only looked at for
 * CURLE_COULDNT_CONNECT. */
int curl_code_errno(CURLcode cc, long os_errno);
/* Fills e for a failed transfer and returns its negative errno: -EFBIG when the body went past the cap
 * (or CURLE_FILESIZE_EXCEEDED), -ENOMEM when it could not be stored, else curl_code_errno()'s with
 * "METHOD URL: strerror_text", followed by " (errbuf)" when errbuf says more. strerror_text is
 * curl_easy_strerror(cc); url is as it may appear in messages (without credentials). */
int curl_sink_fail(const CurlSink *s, CURLcode cc, long os_errno, const char *strerror_text,
                   const char *method, const char *url, Error *e);

/* graph-cache.h — the worker's copy of the last graph answer, so that its next poll asks the graph server
 * with If-None-Match and a 304 (no body) stands for the same graph: a steady-state poll of upkeep-graph
 * costs a few hundred bytes instead of the whole graph (44 KB for Fedora CoreOS's stable stream).
 *
 * The file: "upkeep-graph-cache 1\n", the request URL, "\n", the ETag, "\n", then the answer's body as
 * received (decoded). It is only used for the very URL it was fetched with (the URL names the booted
 * version, so an update or a new stream starts afresh), and anything malformed is treated as no cache. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define GRAPH_CACHE_MAGIC "upkeep-graph-cache 1\n"
#define GRAPH_CACHE_URL_MAX 8192
#define GRAPH_CACHE_ETAG_MAX 256 /* the HTTP client keeps ETags up to HTTP_ETAG_MAX, the same */

/* Views into the file's bytes (nothing is copied). */
typedef struct GraphCacheEntry {
        const char *url, *etag; /* NUL-terminated in a copy the caller owns: see graph_cache_parse() */
        const char *body;
        size_t body_len;
} GraphCacheEntry;

/* Whether etag may be stored and sent back: 1..GRAPH_CACHE_ETAG_MAX printable ASCII bytes (no CR, LF, NUL).
 */
bool graph_cache_etag_ok(const char *etag);
/* Appends the file's bytes for (url, etag, body) to out. -EINVAL for a URL or ETag that cannot be
 * stored, -ENOBUFS when out's cap is reached. */
int graph_cache_format(const char *url, const char *etag, const char *body, size_t len, Buf *out);
/* Parses data (len bytes, NUL-terminated, writable: the two line ends become NULs). -EBADMSG when it is
 * not a cache file. */
int graph_cache_parse(char *data, size_t len, GraphCacheEntry *ret);

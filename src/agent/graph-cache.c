/* graph-cache.c — the worker's copy of the last graph answer (see graph-cache.h). */
#include "graph-cache.h"

#include <errno.h>
#include <string.h>

#include "strutil.h"

bool graph_cache_etag_ok(const char *etag)
{
        if (string_check_plain(etag, GRAPH_CACHE_ETAG_MAX, true) < 0)
                return false;
        for (const char *p = etag; *p; p++)
                if ((unsigned char)*p > 0x7e) /* ASCII only: it goes back into a request header */
                        return false;
        return true;
}

static bool url_ok(const char *url)
{
        return string_check_plain(url, GRAPH_CACHE_URL_MAX, true) == 0;
}

int graph_cache_format(const char *url, const char *etag, const char *body, size_t len, Buf *out)
{
        int r;

        if (!url_ok(url) || !graph_cache_etag_ok(etag) || (!body && len > 0))
                return -EINVAL;
        if ((r = buf_puts(out, GRAPH_CACHE_MAGIC)) < 0 || (r = buf_puts(out, url)) < 0 ||
            (r = buf_putc(out, '\n')) < 0 || (r = buf_puts(out, etag)) < 0 ||
            (r = buf_putc(out, '\n')) < 0 || (len > 0 && (r = buf_append(out, body, len)) < 0))
                return r;
        return 0;
}

int graph_cache_parse(char *data, size_t len, GraphCacheEntry *ret)
{
        size_t magic = strlen(GRAPH_CACHE_MAGIC);
        char *url, *etag, *end;

        if (!data || len < magic || memcmp(data, GRAPH_CACHE_MAGIC, magic) != 0)
                return -EBADMSG;
        url = data + magic;
        end = memchr(url, '\n', len - magic);
        if (!end)
                return -EBADMSG;
        *end = '\0';
        etag = end + 1;
        end = memchr(etag, '\n', len - (size_t)(etag - data));
        if (!end)
                return -EBADMSG;
        *end = '\0';
        if (!url_ok(url) || !graph_cache_etag_ok(etag))
                return -EBADMSG;
        *ret = (GraphCacheEntry){
                .url = url, .etag = etag, .body = end + 1, .body_len = len - (size_t)(end + 1 - data)
        };
        return 0;
}

/* agent-identity.c — the node's identity towards the update graph server and the graph request URL
 * (see agent-identity.h and the spec's "Identity and the graph request"). */
#include "agent-identity.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "strutil.h"

void identity_done(Identity *id)
{
        if (!id)
                return;
        free(id->group);
        free(id->basearch);
        free(id->platform);
        free(id->stream);
        free(id->os_version);
        free(id->os_checksum);
        *id = (Identity){ { 0 } };
}

int identity_format_uuid(const uint8_t id[16], char ret[33])
{
        static const char hex[] = "0123456789abcdef";

        assert(id);
        assert(ret);
        for (size_t i = 0; i < 16; i++) {
                ret[2 * i] = hex[id[i] >> 4];
                ret[2 * i + 1] = hex[id[i] & 15];
        }
        ret[32] = 0;
        return 0;
}

int identity_parse_uuid(const char *s, char ret[33])
{
        char out[33];
        size_t len, j = 0;
        bool dashed;

        assert(s);
        assert(ret);
        len = strnlen(s, 37);
        if (len != 32 && len != 36)
                return -EINVAL;
        dashed = len == 36;
        for (size_t i = 0; i < len; i++) {
                if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
                        if (s[i] != '-')
                                return -EINVAL;
                        continue;
                }
                int v = unhexchar(s[i]);
                if (v < 0)
                        return -EINVAL;
                out[j++] = "0123456789abcdef"[v];
        }
        out[32] = 0;
        memcpy(ret, out, sizeof(out));
        return 0;
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int identity_parse_platform(const char *cmdline, char **ret)
{
        static const char key[] = "ignition.platform.id=";
        const char *p, *end;
        size_t len;

        assert(cmdline);
        assert(ret);
        len = strnlen(cmdline, IDENTITY_CMDLINE_MAX + 1);
        if (len > IDENTITY_CMDLINE_MAX)
                return -E2BIG;
        p = cmdline;
        end = cmdline + len;
        while (p < end) {
                char word[IDENTITY_PLATFORM_MAX + sizeof(key)];
                size_t n = 0;
                bool quoted = false, overflow = false;

                while (p < end && is_space(*p))
                        p++;
                if (p >= end)
                        break;
                /* One word, quotes removed; only as much as can still be our key and a valid value. */
                for (; p < end && (quoted || !is_space(*p)); p++) {
                        if (*p == '"') {
                                quoted = !quoted;
                                continue;
                        }
                        if (n < sizeof(word) - 1)
                                word[n++] = *p;
                        else
                                overflow = true;
                }
                word[n] = 0;
                if (n < sizeof(key) - 1 || memcmp(word, key, sizeof(key) - 1) != 0)
                        continue;
                if (overflow)
                        return -E2BIG;
                if (n == sizeof(key) - 1)
                        return -EINVAL;
                char *v = strdup(word + sizeof(key) - 1);
                if (!v)
                        return -ENOMEM;
                *ret = v;
                return 0;
        }
        return -ENOENT;
}

/* application/x-www-form-urlencoded, as Rust's form_urlencoded (Zincati's reqwest .query()) writes it. */
static int put_form_value(Buf *b, const char *s)
{
        int r = 0;

        for (const unsigned char *p = (const unsigned char *)(s ? s : ""); r >= 0 && *p; p++)
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '*' || *p == '-' || *p == '.' || *p == '_')
                        r = buf_putc(b, (char)*p);
                else if (*p == ' ')
                        r = buf_putc(b, '+');
                else
                        r = buf_printf(b, "%%%02X", *p);
        return r;
}

static bool seg_is(const char *s, size_t n, bool two)
{
        /* "." / ".." including their percent-encoded spellings, which URL parsers treat alike. */
        size_t dots = 0;

        while (n > 0) {
                if (*s == '.') {
                        s++;
                        n--;
                } else if (n >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E')) {
                        s += 3;
                        n -= 3;
                } else
                        return false;
                dots++;
        }
        return dots == (two ? 2u : 1u);
}

/* Appends the absolute path dir + "/" + rel with dot segments removed (RFC 3986 5.2.4). dir starts with
 * '/' and ends just after its last '/'. */
static int put_merged_path(Buf *b, const char *dir, size_t n, const char *rel)
{
        size_t start = b->len;
        const char *p = dir + 1, *end = dir + n;
        int r = 0;

        /* Each kept segment is written as "/seg"; ".." drops the last one written. */
        while (r >= 0 && p < end) {
                const char *slash = memchr(p, '/', (size_t)(end - p));
                size_t len = (size_t)(slash - p); /* dir ends with '/', so slash is never NULL */

                if (seg_is(p, len, false))
                        ;
                else if (seg_is(p, len, true)) {
                        char *last = b->len > start ? memrchr(b->data + start, '/', b->len - start) : NULL;
                        if (last)
                                buf_truncate(b, (size_t)(last - b->data));
                } else {
                        r = buf_putc(b, '/');
                        if (r >= 0)
                                r = buf_append(b, p, len);
                }
                p = slash + 1;
        }
        if (r >= 0)
                r = buf_printf(b, "/%s", rel);
        return r;
}

static bool rel_path_valid(const char *rel)
{
        /* a plain relative path of unreserved characters and '/' (no dot segments, query or fragment) */
        if (!rel || !*rel || *rel == '/')
                return false;
        for (const char *p = rel; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_' || *p == '/' ||
                      (*p == '.' && p[1] != '.' && p[1] != '/' && p[1])))
                        return false;
        return true;
}

int agent_url_join(const char *base_url, const char *rel, Buf *out)
{
        const char *p, *auth, *path, *path_end;
        size_t start;
        int r;

        assert(base_url);
        assert(out);
        if (!rel_path_valid(rel))
                return -EINVAL;

        /* scheme "://" authority path [? query] [# fragment] */
        for (p = base_url;
             (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
             (p > base_url && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'));
             p++)
                ;
        if (p == base_url || !startswith(p, "://"))
                return -EINVAL;
        auth = p + 3;
        path = auth + strcspn(auth, "/?#");
        if (path == auth)
                return -EINVAL;
        path_end = path + strcspn(path, "?#");

        start = out->len;
        r = buf_append(out, base_url, (size_t)(path - base_url));
        if (r >= 0) {
                if (path == path_end) /* no path: the reference resolves against "/" */
                        r = buf_printf(out, "/%s", rel);
                else {
                        const char *last = path_end;
                        while (last[-1] != '/')
                                last--;
                        r = put_merged_path(out, path, (size_t)(last - path), rel);
                }
        }
        if (r < 0) {
                buf_truncate(out, start);
                return r;
        }
        return 0;
}

int graph_request_url(const char *base_url, const Identity *id, Buf *out)
{
        const struct {
                const char *name, *value;
        } params[] = {
                { "basearch", id ? id->basearch : NULL },
                { "os_version", id ? id->os_version : NULL },
                { "group", id ? id->group : NULL },
                { "node_uuid", id ? id->node_uuid : NULL },
                { "platform", id ? id->platform : NULL },
                { "stream", id ? id->stream : NULL },
                { "os_checksum", id ? id->os_checksum : NULL },
        };
        size_t start;
        int r;

        assert(base_url);
        assert(id);
        assert(out);
        if (id->has_rollout_wariness &&
            (!isfinite(id->rollout_wariness) || id->rollout_wariness < 0 || id->rollout_wariness > 1))
                return -EINVAL;

        start = out->len;
        r = agent_url_join(base_url, "v1/graph", out);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(params); i++) {
                r = buf_printf(out, "%c%s=", i == 0 ? '?' : '&', params[i].name);
                if (r >= 0)
                        r = put_form_value(out, params[i].value);
        }
        if (r >= 0 && id->oci)
                r = buf_puts(out, "&oci=true");
        if (r >= 0 && id->has_rollout_wariness)
                r = buf_printf(out, "&rollout_wariness=%.6f", id->rollout_wariness);
        if (r < 0) {
                buf_truncate(out, start);
                return r;
        }
        return 0;
}

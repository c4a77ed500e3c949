/* source.c — local-file or URL document fetching (see source.h). */
#include "source.h"

#include <errno.h>
#include <string.h>

#include "fileio.h"
#include "strutil.h"

bool source_is_url(const char *spec)
{
        return startswith(spec, "http://") || startswith(spec, "https://");
}

int source_fetch(const char *spec, HttpClient *client, size_t max_bytes, char **ret_data, size_t *ret_len,
                 Error *e)
{
        static const char *const headers[] = { "Accept: application/json", NULL };
        HttpResponse resp = { 0 };
        int r;

        if (!source_is_url(spec)) {
                char *data;
                size_t len;
                r = read_full_file(spec, max_bytes, &data, &len);
                if (r == -EFBIG)
                        return error_setf(e, r, "%s: larger than the limit of %zu bytes", spec, max_bytes);
                if (r < 0)
                        return error_setf(e, r, "%s: %m", spec);
                *ret_data = data;
                *ret_len = len;
                return 0;
        }
        if (!client)
                return error_setf(e, -EINVAL, "%s: URL sources need an HTTP client", spec);
        r = http_client_request(client, "GET", spec, headers, NULL, 0, &resp, e);
        if (r < 0)
                return r; /* the client names the URL */
        if (resp.status != 200) {
                r = error_setf(e, -EPROTO, "%s: server answered HTTP %ld", spec, resp.status);
                http_response_done(&resp);
                return r;
        }
        if (resp.body_len > max_bytes) {
                http_response_done(&resp);
                return error_setf(e, -EFBIG, "%s: larger than the limit of %zu bytes", spec, max_bytes);
        }
        *ret_data = resp.body;
        *ret_len = resp.body_len;
        resp.body = NULL;
        http_response_done(&resp);
        return 0;
}

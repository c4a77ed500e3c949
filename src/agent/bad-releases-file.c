/* bad-releases-file.c — the node's record of bad releases on disk: loaded and stored atomically (see
 * bad-releases.h; the encoding and the rules are bad-releases.c's). */
#include <assert.h>
#include <errno.h>

#include "bad-releases.h"
#include "buf.h"
#include "fileio.h"

int bad_releases_load(const char *path, BadReleases *ret, Error *e)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r;

        assert(path);
        assert(ret);
        r = read_full_file(path, BAD_RELEASES_FILE_MAX, &data, &len);
        if (r == -ENOENT) {
                *ret = BAD_RELEASES_INIT;
                return 0;
        }
        if (r == -EFBIG)
                return error_setf(e, r, "%s: larger than %d bytes", path, BAD_RELEASES_FILE_MAX);
        if (r < 0)
                return error_setf(e, r, "reading %s: %m", path);
        r = bad_releases_decode(data, len, ret, e);
        if (r < 0)
                return error_prefixf(e, r, "%s", path);
        return 0;
}

int bad_releases_store(const char *path, const BadReleases *l, Error *e)
{
        Buf text = BUF_INIT(BAD_RELEASES_FILE_MAX);
        int r;

        assert(path);
        assert(l);
        r = bad_releases_encode(l, &text);
        if (r < 0) {
                buf_free(&text);
                return error_setf(e, r, "writing %s: %m", path);
        }
        r = write_file_atomic(path, text.data, text.len, BAD_RELEASES_MODE, e);
        buf_free(&text);
        return r;
}

/* grubenv-file.c — GRUB's environment block read and written atomically (grubenv-file.h). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "grubenv-file.h"

int grubenv_load(const char *path, GrubEnv *ret, Error *e)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r;

        assert(path);
        assert(ret);
        r = read_full_file(path, GRUBENV_SIZE, &data, &len);
        if (r == -EFBIG)
                return error_setf(e, r, "%s: larger than %d bytes", path, GRUBENV_SIZE);
        if (r < 0)
                return error_setf(e, r, "reading %s: %m", path);
        r = grubenv_parse(data, len, ret, e);
        if (r < 0)
                return error_prefixf(e, r, "%s", path);
        return 0;
}

int grubenv_save(const char *path, const GrubEnv *env, Error *e)
{
        _cleanup_free_ char *resolved = NULL;
        char block[GRUBENV_SIZE];
        int r;

        assert(path);
        assert(env);
        r = grubenv_format(env, block, e);
        if (r < 0)
                return error_prefixf(e, r, "%s", path);
        resolved = realpath(path, NULL);
        if (!resolved && errno != ENOENT)
                return error_setf(e, -errno, "writing %s: %m", path);
        return write_file_atomic(resolved ? resolved : path, block, sizeof block, WRITE_FILE_KEEP_MODE, e);
}

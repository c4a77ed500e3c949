/* fileio.c — bounded whole-file reads and atomic whole-file writes (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "macros.h"

int read_full_fd(int fd, size_t max, char **ret_data, size_t *ret_len)
{
        Buf b = BUF_INIT(max);
        char chunk[65536];
        int r;

        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto fail;
                }
                if (n == 0)
                        break;
                r = buf_append(&b, chunk, (size_t)n);
                if (r == -ENOBUFS)
                        r = -EFBIG;
                if (r < 0)
                        goto fail;
        }
        {
                size_t len = b.len;
                char *d = buf_steal(&b, NULL);
                if (!d)
                        return -ENOMEM;
                *ret_data = d;
                if (ret_len)
                        *ret_len = len;
        }
        return 0;
fail:
        buf_free(&b);
        return r;
}

int read_full_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return read_full_fd(fd, max, ret_data, ret_len);
}

int loop_write(int fd, const void *data, size_t n)
{
        const char *p = data;

        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, Error *e)
{
        char tmp[PATH_MAX], dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        struct stat st;
        int r;

        if (slash)
                snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
        else
                snprintf(dir, sizeof dir, ".");
        if (snprintf(tmp, sizeof tmp, "%s/.#%s.XXXXXX", dir, slash ? slash + 1 : path) >= (int)sizeof tmp)
                return error_setf(e, -ENAMETOOLONG, "writing %s: %m", path);
        if (mode == WRITE_FILE_KEEP_MODE)
                mode = stat(path, &st) == 0 ? st.st_mode & 07777 : 0644;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return error_setf(e, negative_errno(), "writing %s: creating a temporary file in %s: %m",
                                  path, dir);
        r = fchmod(fd, mode) < 0 ? negative_errno() : loop_write(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r == 0 && close(TAKE_FD(fd)) < 0)
                r = negative_errno();
        if (r == 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0) {
                (void)unlink(tmp);
                return error_setf(e, r, "writing %s: %m", path);
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || (fsync(dfd) < 0 && errno != EINVAL))
                return error_setf(e, negative_errno(), "writing %s: syncing %s: %m", path, dir);
        return 0;
}

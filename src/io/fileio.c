/* fileio.c — bounded whole-file reads (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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

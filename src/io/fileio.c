/* fileio.c — bounded whole-file reads, atomic whole-file writes and secret files' permissions (see
 * fileio.h). */
#include "fileio.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
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

int secret_stat_check(const struct stat *st, uid_t uid, gid_t gid, const char *path, Error *e)
{
        unsigned mode;
        bool our_group;

        assert(st);
        assert(path);
        mode = st->st_mode & 07777;
        our_group = st->st_gid == 0 || st->st_gid == gid;
        if (st->st_mode & S_IWOTH)
                return error_setf(
                        e, -EPERM,
                        "%s is writable by others (mode %04o): refusing the secret in it; chmod o-w %s",
                        path, mode, path);
        if (st->st_uid != 0 && st->st_uid != uid)
                return error_setf(
                        e, -EPERM,
                        "%s is owned by uid %u, neither root nor this process's user (uid %u): refusing the "
                        "secret in it; chown root %s",
                        path, (unsigned)st->st_uid, (unsigned)uid, path);
        if ((st->st_mode & S_IWGRP) && !our_group)
                return error_setf(e, -EPERM,
                                  "%s is writable by group %u (mode %04o), not this process's: refusing the "
                                  "secret in it; chmod g-w %s",
                                  path, (unsigned)st->st_gid, mode, path);
        if (st->st_mode & S_IROTH) {
                (void)error_setf(e, -EACCES,
                                 "%s holds a secret and is readable by others (mode %04o); chmod o-rwx %s",
                                 path, mode, path);
                return 1;
        }
        if ((st->st_mode & S_IRGRP) && !our_group) {
                (void)error_setf(
                        e, -EACCES,
                        "%s holds a secret and is readable by group %u (mode %04o), not this process's; "
                        "chmod g-rwx %s",
                        path, (unsigned)st->st_gid, mode, path);
                return 1;
        }
        return 0;
}

int secret_file_check(int fd, const char *path, Error *e)
{
        struct stat st;

        assert(fd >= 0);
        if (fstat(fd, &st) < 0)
                return error_setf(e, negative_errno(), "%s: %m", path);
        return secret_stat_check(&st, geteuid(), getegid(), path, e);
}

int read_secret_file(const char *path, size_t max, char **ret_data, size_t *ret_len, Error *warn, Error *e)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        Error w = { { 0 } };
        int r, checked;

        assert(path);
        if (fd < 0)
                return error_setf(e, negative_errno(), "%s: %m", path);
        checked = secret_file_check(fd, path, &w);
        if (checked < 0 && e)
                *e = w;
        if (checked < 0)
                return checked;
        if (checked > 0 && warn)
                *warn = w;
        r = read_full_fd(fd, max, ret_data, ret_len);
        if (r == -EFBIG)
                return error_setf(e, r, "%s: larger than %zu bytes", path, max);
        if (r < 0)
                return error_setf(e, r, "%s: %m", path);
        return checked;
}

int read_token_file(const char *path, size_t max, char **ret, Error *warn, Error *e)
{
        _cleanup_free_ char *data = NULL;
        size_t len, size;
        int r;

        assert(path);
        assert(ret);
        r = read_secret_file(path, max, &data, &size, warn, e);
        if (r < 0)
                return r;
        for (len = size; len > 0 && memchr(" \t\r\n", data[len - 1], 4);)
                data[--len] = 0;
        if (len == 0 || strlen(data) != len || strcspn(data, " \t\r\n") != len) {
                explicit_bzero(data, size);
                return error_setf(e, -EINVAL, "%s: the token must be one line of text without spaces", path);
        }
        *ret = TAKE_PTR(data);
        return r;
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *buf = strdup(path);

        if (!buf)
                return -ENOMEM;
        for (char *p = buf + 1;; p++)
                if (*p == '/' || *p == 0) {
                        char c = *p;
                        *p = 0;
                        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                                return -errno;
                        if (!c)
                                return 0;
                        *p = c;
                }
}

/* lock-admin-token.c — reading and generating upkeep-lock's generated admin token (see
 * lock-admin-token.h). */
#include "lock-admin-token.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "fileio.h"
#include "macros.h"

#define ADMIN_TOKEN_FILE_MAX 4096

/* The token in path (read_token_file()). 0, not 1, when warn is filled: admin_token_load() returns 1 for
 * "created". */
static int token_read(const char *path, char **ret, Error *warn, Error *e)
{
        int r = read_token_file(path, ADMIN_TOKEN_FILE_MAX, ret, warn, e);

        return r < 0 ? r : 0;
}

static int token_random(char out[static 2 * ADMIN_TOKEN_BYTES + 2])
{
        static const char hex[] = "0123456789abcdef";
        uint8_t raw[ADMIN_TOKEN_BYTES];
        size_t got = 0;

        while (got < sizeof(raw)) {
                ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0)
                        got += (size_t)n;
        }
        for (size_t i = 0; i < sizeof(raw); i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[2 * ADMIN_TOKEN_BYTES] = '\n';
        out[2 * ADMIN_TOKEN_BYTES + 1] = 0;
        return 0;
}

/* Writes a new token into path, which must not exist: -EEXIST when it does. */
static int token_create(const char *path, char **ret, Error *e)
{
        char token[2 * ADMIN_TOKEN_BYTES + 2];
        size_t len = 2 * ADMIN_TOKEN_BYTES + 1;
        int fd, r;

        r = token_random(token);
        if (r < 0)
                return error_setf(e, r, "cannot generate a token: getrandom: %m");
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return errno == EEXIST ? -EEXIST : error_setf(e, -errno, "%s: %m", path);
        r = write(fd, token, len) == (ssize_t)len ? 0 : errno ? -errno : -EIO;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(path);
                return error_setf(e, r, "%s: %m", path);
        }
        token[len - 1] = 0;
        *ret = strdup(token);
        explicit_bzero(token, sizeof(token));
        return *ret ? 0 : -ENOMEM;
}

int admin_token_load_warn(const char *path, bool create, char **ret, Error *warn, Error *e)
{
        int r;

        assert(path);
        assert(ret);
        r = token_read(path, ret, warn, e);
        if (r != -ENOENT)
                return r;
        if (!create) {
                *ret = NULL;
                return 0;
        }
        r = token_create(path, ret, e);
        if (r == -EEXIST)
                return token_read(path, ret, warn, e);
        return r < 0 ? r : 1;
}

int admin_token_load(const char *path, bool create, char **ret, Error *e)
{
        return admin_token_load_warn(path, create, ret, NULL, e);
}

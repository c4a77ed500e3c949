/* fileio.h — bounded reads of whole files, whole files replaced atomically, and who may read or change a
 * file holding a secret. */
#pragma once

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "error.h"

/* Reads the whole file at path into a new NUL-terminated buffer. Files larger than max bytes fail
 * with -EFBIG; nothing is written to ret_* on failure. */
int read_full_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* Same, from an open descriptor (read to EOF). */
int read_full_fd(int fd, size_t max, char **ret_data, size_t *ret_len);

/* Writes all n bytes to fd, retrying short writes and EINTR. 0 or a negative errno. */
int loop_write(int fd, const void *p, size_t n);

/* For write_file_atomic(): keep the mode of the file being replaced (0644 for a new one). */
#define WRITE_FILE_KEEP_MODE ((mode_t)-1)
/* Replaces path with len bytes of data so that a crash leaves either the old or the new file, whole: a
 * temporary file beside it is written, fsync'd, given mode (or the old file's, WRITE_FILE_KEEP_MODE) and
 * renamed over path, then the directory is fsync'd. On failure path is untouched, the temporary file is
 * removed, and e says which step failed where. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, Error *e);

/* Whether a file holding a secret (a token, a configuration with a token in it), with the status st, is
 * safe for a process running as uid and gid. Returns -EPERM with e filled when another user could change
 * the secret: the file is writable by others, owned by neither root nor uid, or writable by a group other
 * than gid and root's. Returns 1 with e filled (a warning naming the file, its mode and the chmod to run)
 * when another user could read it: readable by others, or by a group other than gid and root's (mode 0640
 * with the service's group is the documented way to let the service read a file root owns). Else 0. */
int secret_stat_check(const struct stat *st, uid_t uid, gid_t gid, const char *path, Error *e);
/* The same for the open file fd, for this process (effective uid and gid); fstat's error with e filled. */
int secret_file_check(int fd, const char *path, Error *e);
/* Reads a file holding a secret (at most max bytes, see read_full_file()) after secret_file_check() on the
 * descriptor it reads: 0, or 1 with warn filled; a negative errno with e filled ("PATH: ..."), -EPERM when
 * the file is refused. */
int read_secret_file(const char *path, size_t max, char **ret_data, size_t *ret_len, Error *warn, Error *e);
/* Reads a file holding one token (a secret, read as read_secret_file() does): whitespace at the end of the
 * file (spaces, tabs, blank lines) is dropped, and what is left must be one non-empty line without spaces,
 * tabs or NUL bytes: further non-empty lines are refused. *ret is the token. 0, or 1 with warn filled; a
 * negative errno with e filled ("PATH: ..."), -EINVAL when the file does not hold one token. */
int read_token_file(const char *path, size_t max, char **ret, Error *warn, Error *e);

/* mkdir -p: path and its missing parents, each created with mode. 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

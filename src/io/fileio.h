/* fileio.h — bounded reads of whole files, and whole files replaced atomically. */
#pragma once

#include <stddef.h>
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

/* fileio.h — bounded reads of whole files. */
#pragma once

#include <stddef.h>

/* Reads the whole file at path into a new NUL-terminated buffer. Files larger than max bytes fail
 * with -EFBIG; nothing is written to ret_* on failure. */
int read_full_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* Same, from an open descriptor (read to EOF). */
int read_full_fd(int fd, size_t max, char **ret_data, size_t *ret_len);

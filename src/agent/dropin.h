/* dropin.h — collecting configuration drop-in fragments (`*.toml`) from an ordered list of directories,
 * with Zincati's (liboverdrop's) rules. The I/O half of src/agent/agent-config.h.
 *
 * Directories are given lowest priority first. A fragment replaces a same-named fragment (compared by
 * file name only) of any lower-priority directory; a symlink to /dev/null masks the name; dotfiles and
 * names not ending in ".toml" are ignored, as are entries that are not regular files (after following
 * symlinks). The surviving fragments are returned sorted by file name (strcmp): that is the merge order.
 *
 * upkeep-agent's list (DROPIN_AGENT_DIRS), the one documented precedence, lowest first:
 *   /usr/lib/zincati/config.d, /usr/lib/upkeep/agent.d,
 *   /run/zincati/config.d,     /run/upkeep/agent.d,
 *   /etc/zincati/config.d,     /etc/upkeep/agent.d
 * i.e. by tier (/usr/lib < /run < /etc) and, within a tier, Zincati's directory before Upkeep's, so at
 * equal tier a same-named Upkeep fragment wins. */
#pragma once

#include <stddef.h>

#include "error.h"

#define DROPIN_MAX_FILE_BYTES (1024 * 1024)
#define DROPIN_MAX_FILES 256  /* surviving fragments */
#define DROPIN_MAX_NAMES 4096 /* distinct candidate names (masked ones included) over all directories */
#define DROPIN_MAX_DIRS 32

extern const char *const DROPIN_AGENT_DIRS[];
#define DROPIN_AGENT_N_DIRS 6

typedef struct DropinFile {
        char *name; /* file name, e.g. "55-updates-strategy.toml" */
        char *path; /* full path read (root prefix included) */
        char *data; /* NUL-terminated contents */
        size_t len;
} DropinFile;

void dropin_files_free(DropinFile *files, size_t n);

/* Collects and reads the fragments of dirs[0..n_dirs) (absolute paths). root, when non-NULL and
 * non-empty, is prefixed to every directory (for tests); when NULL, $UPKEEP_AGENT_ROOT is used if set and
 * non-empty. Missing directories (and non-directories) are skipped. On success *ret is an array of
 * *ret_n files sorted by name (NULL and 0 when there are none), freed with dropin_files_free().
 * Errors name the path: unreadable directory or file (its -errno), -EFBIG for a file larger than
 * DROPIN_MAX_FILE_BYTES, -E2BIG beyond DROPIN_MAX_FILES fragments or DROPIN_MAX_NAMES names, -ENOMEM. */
int dropin_collect(const char *root, const char *const *dirs, size_t n_dirs, DropinFile **ret, size_t *ret_n,
                   Error *e);

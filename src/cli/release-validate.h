/* release-validate.h — `upkeep release validate`: every check a release engineer's CI should run on an
 * update metadata document before it ships, beyond "the JSON parses": the schema (types, ranges), the
 * semantics (duplicates, dead-ends without a reason, rollouts that cannot progress, pause markers) and
 * the cross-checks with the release index (unknown versions, barriers on missing releases, order). Pure. */
#pragma once

#include <stddef.h>

#include "buf.h"
#include "graph-metadata.h"

typedef struct ValidateResult {
        unsigned errors;
        unsigned warnings;
} ValidateResult;

/* Checks the document data (len bytes) read from file. ri (may be NULL: no cross-checks) is the release
 * index; expected_stream (may be NULL) the stream the file's name implies. Appends one line per finding
 * to out: "FILE: error: release 3 (34.20210427.3.0): metadata.rollout.start_percentage: 5 is outside
 * [0, 1]". Returns 0 (the counts in *ret) or -ENOMEM. */
int release_validate(const char *data, size_t len, const char *file, const ReleaseIndex *ri,
                     const char *expected_stream, Buf *out, ValidateResult *ret);

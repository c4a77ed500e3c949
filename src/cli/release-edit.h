/* release-edit.h — editing Fedora CoreOS's update metadata (updates/<stream>.json) for `upkeep release`:
 * adding rollouts, barriers and dead-ends, pausing and resuming rollouts, cleaning finished ones, and
 * writing the document back in one stable format (Python's json.dump(indent=2) as Fedora CoreOS's
 * rollout.py writes it: the file's key order kept, new keys in a fixed order), so a document read and
 * written back unchanged is byte-identical and every edit is a small reviewable diff. Pure.
 *
 * A paused rollout is written so that upkeep-graph and fedora-coreos-cincinnati both hold it at its
 * percentage: {"start_epoch": <unchanged>, "start_percentage": <frozen value>, "paused": {"since_epoch":
 * <pause time>, "remaining_minutes": <what was left of the ramp>}} — a rollout without duration_minutes
 * stays at start_percentage once started, and both servers ignore the unknown "paused" key. Resuming
 * sets start_epoch to the resume time, duration_minutes to the remaining minutes and drops "paused". */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"
#include "graph-metadata.h"

#define RELEASE_MAX_REASON 4096
#define RELEASE_PAUSED_KEY "paused"

/* Parses an update metadata document for editing: a JSON object with a "releases" array whose items are
 * objects with a non-empty string "version" and an object "metadata". Unknown keys are kept. Errors name
 * the release and the field. */
int updates_doc_parse(const char *data, size_t len, json_t **ret, Error *e);

/* Serializes as Python's json.dump(doc, indent=2, ensure_ascii=True) followed by a newline: two-space
 * indentation, ", "/": " separators, non-ASCII as \uXXXX, floats as Python's repr (1.0, 0.25, 1e-05). */
int updates_doc_write(const json_t *doc, Buf *out);

/* The entry for version (its index in releases in *ret_pos when not NULL), or NULL. */
json_t *updates_doc_find(const json_t *doc, const char *version, size_t *ret_pos);

/* Versions with their positions in a list, sorted once (O(n log n)) so that each lookup is a binary
 * search: for the update metadata's entries and the release index's releases, which may hold up to
 * GRAPH_MAX_RELEASES each. Versions are borrowed from the document or index. */
typedef struct VersionPos {
        const char *version;
        size_t pos;   /* position in the list */
        size_t first; /* position of the first item in the list with the same version */
} VersionPos;

typedef struct VersionTable {
        VersionPos *items; /* by version, then position */
        size_t n;
} VersionTable;

/* From the entries of doc's "releases" array whose "version" is a string (others are skipped). */
int version_table_from_doc(const json_t *doc, VersionTable *ret);
/* From a release index (ri may be NULL: an empty table). */
int version_table_from_index(const ReleaseIndex *ri, VersionTable *ret);
/* The position of the first item with version (NULL matches nothing), or -1. */
ssize_t version_table_find(const VersionTable *t, const char *version);
void version_table_done(VersionTable *t);

/* Sets metadata["last-modified"] to now in UTC ("2026-12-03T09:00:00Z"), as rollout.py does on save. */
int updates_doc_touch(json_t *doc, int64_t now);

/* The throttle value (share of the fleet offered the release) of a rollout object at now, with
 * upkeep-graph's and fedora-coreos-cincinnati's formula, not clamped. Missing fields take their defaults. */
double rollout_throttle(const json_t *rollout, int64_t now);

typedef struct RolloutSpec {
        int64_t start_epoch;
        int64_t duration_minutes; /* >= 1 */
        double start_percentage;  /* in [0, 1] */
        bool replace;             /* replace an existing rollout of the version */
} RolloutSpec;

/* Each edit returns 1 when it changed doc, 0 when doc already said so, or a negative errno with e filled.
 * ri (may be NULL only for pause, resume and clean) is the release index: the version must be in it, and
 * a new entry is inserted in the index's order. */
int release_add_rollout(json_t *doc, const ReleaseIndex *ri, const char *version, const RolloutSpec *spec,
                        Error *e);
/* reason NULL keeps an existing barrier's reason (or sets "" on a new one: shown as "generic"). */
int release_set_barrier(json_t *doc, const ReleaseIndex *ri, const char *version, const char *reason,
                        Error *e);
int release_set_deadend(json_t *doc, const ReleaseIndex *ri, const char *version, const char *reason,
                        Error *e);
/* Freezes the rollout of version at its throttle value at now (see the top of this file). -EALREADY when
 * paused already, -ESRCH when there is nothing to pause (no rollout, finished, or never progressing).
 * reason may be NULL. */
int release_pause(json_t *doc, const char *version, int64_t now, const char *reason, Error *e);
/* Continues a paused rollout from its frozen value at start over the remaining minutes. -ESRCH when it is
 * not paused. */
int release_resume(json_t *doc, const char *version, int64_t start, Error *e);
/* Like rollout.py's clean: rollouts that reached 100% by now become {"start_percentage": 1.0}; of those,
 * only the newest keeps its rollout key; entries left with no barrier, dead-end or rollout are dropped.
 * Returns the number of entries changed or dropped; names (when not NULL) gets one line per change. */
int release_clean(json_t *doc, int64_t now, Buf *names);

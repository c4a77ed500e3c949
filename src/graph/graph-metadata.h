/* graph-metadata.h — Fedora CoreOS's inputs to the update graph: the release index (releases.json: every
 * release with its per-architecture commits and OCI images) and the update metadata (updates.json:
 * barriers, dead-ends and rollouts). Strict, pure parsers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "graph.h"

typedef struct ReleaseArtifact {
        char *architecture;
        char *payload; /* commit checksum, or OCI digest-ref */
} ReleaseArtifact;

typedef struct Release {
        char *version;
        ReleaseArtifact *commits;
        size_t n_commits;
        ReleaseArtifact *oci_images;
        size_t n_oci_images;
} Release;

typedef struct ReleaseIndex {
        char *stream;      /* NULL when the file does not say */
        Release *releases; /* oldest first */
        size_t n_releases;
} ReleaseIndex;

typedef struct UpdateEntry {
        char *version;
        char *barrier_reason; /* non-NULL (maybe "") when a barrier */
        char *deadend_reason; /* non-NULL (maybe "") when a dead-end */
        bool rollout;
        bool has_start_epoch, has_start_percentage, has_duration;
        int64_t start_epoch;
        double start_percentage;
        uint64_t duration_minutes;
} UpdateEntry;

typedef struct UpdateMetadata {
        char *stream;
        UpdateEntry *entries;
        size_t n_entries;
        /* What the parser accepted as fedora-coreos-cincinnati does but looks wrong (a start_percentage
         * outside [0, 1]): NULL-terminated, one message per finding, NULL when none. */
        char **warnings;
        size_t n_warnings;
} UpdateMetadata;

/* Strict parsers. Errors name the release (by position and version) and the field; callers prefix the
 * file name. Unknown fields are ignored. A start_percentage is any JSON number, as upstream reads it (FCOS
 * published 100 in 2019; their schema allows 0-100, their spec says 0.0-1.0): one outside [0, 1] is kept
 * as given, so the graph and its throttling are upstream's, and adds a warning. */
int release_index_parse(const char *data, size_t len, ReleaseIndex **ret, Error *e);
void release_index_free(ReleaseIndex *ri);
int update_metadata_parse(const char *data, size_t len, UpdateMetadata **ret, Error *e);
void update_metadata_free(UpdateMetadata *um);

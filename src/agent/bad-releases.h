/* bad-releases.h — the node's durable record of releases that failed here, so the agent never stages one
 * of them again: for each, its version, checksum (ostree commit or image digest), why and how it failed,
 * the failing health checks and when. At most BAD_RELEASES_MAX entries, oldest first; adding to a full list
 * drops the oldest. Kept as JSON in BAD_RELEASES_PATH:
 *   {"bad_releases": [{"version": "41.20250101.3.0", "checksum": "ab12…", "outcome": "rolled_back",
 *                      "reason": "…", "checks": ["01_dns.sh"], "when": 1767225600}]}
 * Decoding is strict (types checked, caps enforced, unknown fields ignored for later versions). The pure
 * part (encode, decode, add, find, forget) is fuzzed; bad_releases_load()/bad_releases_store() do the I/O.
 *
 * A corrupt file is an error, not an empty list: the caller must neither throw the record away silently
 * nor stop updating the node because of it. The agent logs the error (it names the path and what is
 * wrong), keeps working with an empty list in memory and does not overwrite the file until a new entry
 * must be recorded, so an administrator can still inspect it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define BAD_RELEASES_PATH "/var/lib/upkeep/agent/bad-releases.json"
#define BAD_RELEASES_MODE 0644
#define BAD_RELEASES_MAX 64
#define BAD_RELEASE_VERSION_MAX 256  /* bytes */
#define BAD_RELEASE_CHECKSUM_MAX 256 /* "sha256:" and 64 hex digits fit many times */
#define BAD_RELEASE_REASON_MAX 1024
#define BAD_RELEASE_CHECKS_MAX 32
#define BAD_RELEASE_CHECK_NAME_MAX 256
/* The largest file the decoder accepts: every entry at its caps, JSON-escaped, with room to spare. */
#define BAD_RELEASES_FILE_MAX (1024 * 1024)

typedef enum BadReleaseOutcome {
        BAD_RELEASE_ROLLED_BACK,   /* health checks failed after the reboot; the agent rolled back */
        BAD_RELEASE_BOOT_FALLBACK, /* the release did not boot; GRUB fell back to the previous one */
        BAD_RELEASE_STAGE_FAILED,  /* staging the release failed on this node */
        _BAD_RELEASE_OUTCOME_MAX,
        _BAD_RELEASE_OUTCOME_INVALID = -EINVAL,
} BadReleaseOutcome;

/* "rolled_back", "boot_fallback", "stage_failed". */
const char *bad_release_outcome_to_string(BadReleaseOutcome o);
BadReleaseOutcome bad_release_outcome_from_string(const char *s);

typedef struct BadRelease {
        char *version;
        char *checksum;
        BadReleaseOutcome outcome;
        char *reason;  /* printable text, at most BAD_RELEASE_REASON_MAX bytes, may be "" */
        char **checks; /* the failing checks' names (strv, never NULL) */
        size_t n_checks;
        int64_t when; /* unix seconds */
} BadRelease;

typedef struct BadReleases {
        BadRelease *entries; /* oldest first */
        size_t n_entries;
} BadReleases;

#define BAD_RELEASES_INIT ((BadReleases){ .entries = NULL, .n_entries = 0 })

/* Records a failed release. version and checksum are required: non-empty, valid UTF-8 without control
 * characters (C0, DEL, C1, bidi controls, noncharacters: what text_clean() replaces), within their caps
 * (else -EINVAL with e). reason and the check names are cleaned by text_clean() (strutil.h: line breaks
 * and tabs become spaces, other controls and invalid UTF-8 bytes '?') and cut to their caps at a
 * character boundary;
 * checks beyond BAD_RELEASE_CHECKS_MAX are dropped. An entry with the same version or checksum is
 * replaced; the new entry is the newest and the oldest is dropped beyond BAD_RELEASES_MAX. -ENOMEM; l is
 * unchanged on failure. */
int bad_releases_add(BadReleases *l, const char *version, const char *checksum, BadReleaseOutcome outcome,
                     const char *reason, char *const *checks, size_t n_checks, int64_t when, Error *e);
/* The newest entry whose version equals version or whose checksum equals checksum (either may be NULL),
 * or NULL. */
const BadRelease *bad_releases_find(const BadReleases *l, const char *version, const char *checksum);
/* Removes every entry whose version or checksum equals key: the number removed, or -ENOENT with e when
 * none matched. */
int bad_releases_forget(BadReleases *l, const char *key, Error *e);
void bad_releases_done(BadReleases *l);

/* Appends the JSON document (with a final newline) to out. -ENOBUFS past out's cap, -ENOMEM. */
int bad_releases_encode(const BadReleases *l, Buf *out);
/* Decodes len bytes into *ret (written only on success). -EINVAL with e naming the entry and field, -EFBIG
 * over BAD_RELEASES_FILE_MAX, -ENOMEM. */
int bad_releases_decode(const char *data, size_t len, BadReleases *ret, Error *e);

/* Loads the record at path (BAD_RELEASES_PATH in production) into *ret: a missing file is an empty list;
 * any other failure returns its -errno with e starting with the path. */
int bad_releases_load(const char *path, BadReleases *ret, Error *e);
/* Replaces the file at path atomically (temporary file in the same directory, fsync, rename, fsync of the
 * directory), mode BAD_RELEASES_MODE. On failure the old file is untouched and no temporary file is left;
 * e starts with "writing PATH". The directory must exist. */
int bad_releases_store(const char *path, const BadReleases *l, Error *e);

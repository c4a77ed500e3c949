/* bad-releases.c — the node's record of releases that failed here (bad-releases.h): the list, its rules and
 * its JSON form. Pure: bad-releases-file.c loads and stores it. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bad-releases.h"
#include "json-util.h"
#include "strutil.h"
#include "strv.h"

static const char *const outcome_names[_BAD_RELEASE_OUTCOME_MAX] = {
        [BAD_RELEASE_ROLLED_BACK] = "rolled_back",
        [BAD_RELEASE_BOOT_FALLBACK] = "boot_fallback",
        [BAD_RELEASE_STAGE_FAILED] = "stage_failed",
};

const char *bad_release_outcome_to_string(BadReleaseOutcome o)
{
        if (o < 0 || o >= _BAD_RELEASE_OUTCOME_MAX)
                return NULL;
        return outcome_names[o];
}

BadReleaseOutcome bad_release_outcome_from_string(const char *s)
{
        if (!s)
                return _BAD_RELEASE_OUTCOME_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(outcome_names); i++)
                if (streq(s, outcome_names[i]))
                        return (BadReleaseOutcome)i;
        return _BAD_RELEASE_OUTCOME_INVALID;
}

/* A copy of s cleaned by text_clean() (control characters become spaces or '?', invalid UTF-8 bytes '?'),
 * cut to at most max bytes at a character boundary. */
static char *clean_copy(const char *s, size_t max)
{
        size_t n = strlen(s);
        char *out = malloc(MIN(n, max) + 1);

        if (!out)
                return NULL;
        text_clean(out, MIN(n, max) + 1, s, n, 0);
        return out;
}

/* Whether s is within max bytes and what text_clean() keeps as it is. */
static bool clean_within(const char *s, size_t max)
{
        size_t n = strlen(s);

        return n <= max && text_is_clean(s, n, 0);
}

static int check_key(const char *what, const char *field, const char *s, size_t max, Error *e)
{
        if (!s || !s[0])
                return error_setf(e, -EINVAL, "%s%s: empty", what, field);
        if (strlen(s) > max)
                return error_setf(e, -EINVAL, "%s%s: longer than %zu bytes", what, field, max);
        if (!clean_within(s, max))
                return error_setf(e, -EINVAL, "%s%s: invalid UTF-8 or a control character", what, field);
        return 0;
}

static void bad_release_done(BadRelease *b)
{
        free(b->version);
        free(b->checksum);
        free(b->reason);
        strv_free(b->checks);
        *b = (BadRelease){};
}

void bad_releases_done(BadReleases *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n_entries; i++)
                bad_release_done(&l->entries[i]);
        free(l->entries);
        *l = BAD_RELEASES_INIT;
}

static void bad_releases_donep(BadReleases *l)
{
        bad_releases_done(l);
}

static bool matches(const BadRelease *b, const char *version, const char *checksum)
{
        return (version && streq(b->version, version)) || (checksum && streq(b->checksum, checksum));
}

static void remove_at(BadReleases *l, size_t i)
{
        bad_release_done(&l->entries[i]);
        memmove(l->entries + i, l->entries + i + 1, (l->n_entries - i - 1) * sizeof *l->entries);
        l->n_entries--;
}

/* Builds an entry from already validated fields; the strings are cleaned copies. */
static int make_entry(const char *version, const char *checksum, BadReleaseOutcome outcome,
                      const char *reason, char *const *checks, size_t n_checks, int64_t when,
                      BadRelease *ret)
{
        BadRelease b = { .outcome = outcome, .when = when };
        int r = 0;

        b.version = strdup(version);
        b.checksum = strdup(checksum);
        b.reason = clean_copy(reason ? reason : "", BAD_RELEASE_REASON_MAX);
        b.checks = calloc(1, sizeof(char *));
        if (!b.version || !b.checksum || !b.reason || !b.checks)
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < MIN(n_checks, (size_t)BAD_RELEASE_CHECKS_MAX); i++) {
                char *name = clean_copy(checks[i], BAD_RELEASE_CHECK_NAME_MAX);

                r = name ? strv_push_owned(&b.checks, &b.n_checks, name) : -ENOMEM;
        }
        if (r < 0) {
                bad_release_done(&b);
                return r;
        }
        *ret = b;
        return 0;
}

int bad_releases_add(BadReleases *l, const char *version, const char *checksum, BadReleaseOutcome outcome,
                     const char *reason, char *const *checks, size_t n_checks, int64_t when, Error *e)
{
        BadRelease *entries, b;
        int r;

        assert(l);
        assert(outcome >= 0 && outcome < _BAD_RELEASE_OUTCOME_MAX);
        assert(checks || n_checks == 0);
        r = check_key("", "version", version, BAD_RELEASE_VERSION_MAX, e);
        if (r == 0)
                r = check_key("", "checksum", checksum, BAD_RELEASE_CHECKSUM_MAX, e);
        if (r < 0)
                return r;
        r = make_entry(version, checksum, outcome, reason, checks, n_checks, when, &b);
        if (r < 0)
                return error_setf(e, r, "recording %s: %m", version);
        entries = realloc(l->entries, (l->n_entries + 1) * sizeof *entries);
        if (!entries) {
                bad_release_done(&b);
                return error_setf(e, -ENOMEM, "recording %s: %m", version);
        }
        l->entries = entries;
        for (size_t i = l->n_entries; i > 0; i--)
                if (matches(&l->entries[i - 1], version, checksum))
                        remove_at(l, i - 1);
        while (l->n_entries >= BAD_RELEASES_MAX)
                remove_at(l, 0);
        l->entries[l->n_entries++] = b;
        return 0;
}

const BadRelease *bad_releases_find(const BadReleases *l, const char *version, const char *checksum)
{
        assert(l);
        for (size_t i = l->n_entries; i > 0; i--)
                if (matches(&l->entries[i - 1], version, checksum))
                        return &l->entries[i - 1];
        return NULL;
}

int bad_releases_forget(BadReleases *l, const char *key, Error *e)
{
        int n = 0;

        assert(l);
        assert(key);
        for (size_t i = l->n_entries; i > 0; i--)
                if (matches(&l->entries[i - 1], key, key)) {
                        remove_at(l, i - 1);
                        n++;
                }
        if (n == 0)
                return error_setf(e, -ENOENT, "no bad release has the version or checksum \"%.256s\"", key);
        return n;
}

static int encode_entry(const BadRelease *b, Buf *out)
{
        int r;

        r = buf_puts(out, "    {\"version\": ");
        if (r >= 0)
                r = buf_put_json_string(out, b->version, strlen(b->version));
        if (r >= 0)
                r = buf_puts(out, ", \"checksum\": ");
        if (r >= 0)
                r = buf_put_json_string(out, b->checksum, strlen(b->checksum));
        if (r >= 0)
                r = buf_printf(out, ", \"outcome\": \"%s\", \"reason\": ",
                               bad_release_outcome_to_string(b->outcome));
        if (r >= 0)
                r = buf_put_json_string(out, b->reason, strlen(b->reason));
        if (r >= 0)
                r = buf_puts(out, ", \"checks\": [");
        for (size_t i = 0; r >= 0 && i < b->n_checks; i++) {
                if (i > 0)
                        r = buf_puts(out, ", ");
                if (r >= 0)
                        r = buf_put_json_string(out, b->checks[i], strlen(b->checks[i]));
        }
        if (r >= 0)
                r = buf_printf(out, "], \"when\": %lld}", (long long)b->when);
        return r;
}

int bad_releases_encode(const BadReleases *l, Buf *out)
{
        size_t start;
        int r;

        assert(l);
        assert(out);
        start = out->len;
        r = buf_puts(out, "{\"bad_releases\": [");
        for (size_t i = 0; r >= 0 && i < l->n_entries; i++) {
                r = buf_puts(out, i > 0 ? ",\n" : "\n");
                if (r >= 0)
                        r = encode_entry(&l->entries[i], out);
        }
        if (r >= 0)
                r = buf_puts(out, l->n_entries > 0 ? "\n]}\n" : "]}\n");
        if (r < 0)
                buf_truncate(out, start);
        return r;
}

/* The optional "checks" array of one entry. */
static int decode_checks(const json_t *obj, const char *what, BadRelease *b, Error *e)
{
        json_t *arr = NULL, *v;
        size_t i;
        int r;

        r = json_member_array(obj, "checks", false, what, &arr, e);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (json_array_size(arr) > BAD_RELEASE_CHECKS_MAX)
                return error_setf(e, -EINVAL, "%s: %zu checks, at most %d", what, json_array_size(arr),
                                  BAD_RELEASE_CHECKS_MAX);
        json_array_foreach(arr, i, v) {
                if (!json_is_string(v))
                        return error_setf(e, -EINVAL, "%s: checks[%zu] must be a string, got %s", what, i,
                                          json_type_name(v));
                if (!clean_within(json_string_value(v), BAD_RELEASE_CHECK_NAME_MAX))
                        return error_setf(
                                e, -EINVAL,
                                "%s: checks[%zu]: longer than %d bytes or holds a control character", what,
                                i, BAD_RELEASE_CHECK_NAME_MAX);
                r = strv_push(&b->checks, &b->n_checks, json_string_value(v));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_entry(const json_t *obj, const char *what, BadRelease *b, Error *e)
{
        const char *version = NULL, *checksum = NULL, *outcome = NULL, *reason = "";
        int r;

        if (!json_is_object(obj))
                return error_setf(e, -EINVAL, "%s: expected an object, got %s", what, json_type_name(obj));
        r = json_member_string(obj, "version", true, what, &version, e);
        if (r == 0)
                r = check_key(what, ": version", version, BAD_RELEASE_VERSION_MAX, e);
        if (r == 0)
                r = json_member_string(obj, "checksum", true, what, &checksum, e);
        if (r == 0)
                r = check_key(what, ": checksum", checksum, BAD_RELEASE_CHECKSUM_MAX, e);
        if (r == 0)
                r = json_member_string(obj, "outcome", true, what, &outcome, e);
        if (r == 0 && (b->outcome = bad_release_outcome_from_string(outcome)) < 0)
                r = error_setf(e, -EINVAL, "%s: unknown outcome \"%.64s\"", what, outcome);
        if (r == 0 && (r = json_member_string(obj, "reason", false, what, &reason, e)) == -ENOENT)
                r = 0;
        if (r == 0 && !clean_within(reason, BAD_RELEASE_REASON_MAX))
                r = error_setf(e, -EINVAL, "%s: reason: longer than %d bytes or holds a control character",
                               what, BAD_RELEASE_REASON_MAX);
        if (r == 0)
                r = json_member_int(obj, "when", true, what, 0, INT64_MAX, &b->when, e);
        if (r < 0)
                return r;
        b->version = strdup(version);
        b->checksum = strdup(checksum);
        b->reason = strdup(reason);
        b->checks = calloc(1, sizeof(char *));
        if (!b->version || !b->checksum || !b->reason || !b->checks)
                return -ENOMEM;
        return decode_checks(obj, what, b, e);
}

static int decode_list(const json_t *arr, BadReleases *l, Error *e)
{
        size_t i;
        json_t *v;
        int r;

        if (json_array_size(arr) > BAD_RELEASES_MAX)
                return error_setf(e, -EINVAL, "bad_releases: %zu entries, at most %d", json_array_size(arr),
                                  BAD_RELEASES_MAX);
        l->entries = calloc(MAX(json_array_size(arr), (size_t)1), sizeof *l->entries);
        if (!l->entries)
                return -ENOMEM;
        json_array_foreach(arr, i, v) {
                char what[48];

                snprintf(what, sizeof what, "bad_releases[%zu]", i);
                r = decode_entry(v, what, &l->entries[i], e);
                l->n_entries++;
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (matches(&l->entries[j], l->entries[i].version, l->entries[i].checksum))
                                return error_setf(e, -EINVAL,
                                                  "%s: the same version or checksum as entry %zu", what, j);
        }
        return 0;
}

int bad_releases_decode(const char *data, size_t len, BadReleases *ret, Error *e)
{
        _cleanup_(bad_releases_donep) BadReleases l = BAD_RELEASES_INIT;
        _cleanup_json_ json_t *root = NULL;
        json_t *arr = NULL;
        int r;

        assert(data || len == 0);
        assert(ret);
        if (len > BAD_RELEASES_FILE_MAX)
                return error_setf(e, -EFBIG, "%zu bytes, at most %d", len, BAD_RELEASES_FILE_MAX);
        r = json_parse_strict(data, len, &root, e);
        if (r == 0 && !json_is_object(root))
                r = error_setf(e, -EINVAL, "expected an object, got %s", json_type_name(root));
        if (r == 0)
                r = json_member_array(root, "bad_releases", true, "the document", &arr, e);
        if (r == 0)
                r = decode_list(arr, &l, e);
        if (r < 0)
                return r == -ENOMEM ? error_setf(e, r, "%m") : -EINVAL;
        *ret = l;
        l = BAD_RELEASES_INIT;
        return 0;
}

/* fuzz-bad-releases.c — libFuzzer target: the record of bad releases (bad-releases.h), read back from a file
 * that may be damaged. Checks: *ret untouched and a message on failure; on success the caps hold, and the
 * list encodes and decodes to the same encoding, also after adding an entry built from the input (which
 * exercises the cleaning of free text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bad-releases.h"

static void check_caps(const BadReleases *l)
{
        if (l->n_entries > BAD_RELEASES_MAX)
                __builtin_trap();
        for (size_t i = 0; i < l->n_entries; i++) {
                const BadRelease *b = &l->entries[i];

                if (!b->checks || b->n_checks > BAD_RELEASE_CHECKS_MAX ||
                    strlen(b->reason) > BAD_RELEASE_REASON_MAX ||
                    strlen(b->version) > BAD_RELEASE_VERSION_MAX ||
                    strlen(b->checksum) > BAD_RELEASE_CHECKSUM_MAX ||
                    !bad_release_outcome_to_string(b->outcome) || b->when < 0)
                        __builtin_trap();
                if (bad_releases_find(l, b->version, NULL) != b ||
                    bad_releases_find(l, NULL, b->checksum) != b)
                        __builtin_trap();
        }
}

/* Encodes l, decodes it and encodes again: the same text. */
static void roundtrip(const BadReleases *l)
{
        Buf a = BUF_INIT(BAD_RELEASES_FILE_MAX), b = BUF_INIT(BAD_RELEASES_FILE_MAX);
        BadReleases back;
        Error e;

        check_caps(l);
        if (bad_releases_encode(l, &a) < 0 || bad_releases_decode(a.data, a.len, &back, &e) < 0 ||
            bad_releases_encode(&back, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
                __builtin_trap();
        bad_releases_done(&back);
        buf_free(&a);
        buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        BadReleases l = { .n_entries = 12345 };
        Error e = { .message = "" };
        char *text, *checks[1];

        if (bad_releases_decode((const char *)data, size, &l, &e) < 0) {
                if (l.n_entries != 12345 || !e.message[0])
                        __builtin_trap();
                return 0;
        }
        roundtrip(&l);
        text = strndup((const char *)data, size);
        if (!text)
                return 0;
        checks[0] = text;
        if (bad_releases_add(&l, "fuzz", text[0] ? text : "x", BAD_RELEASE_ROLLED_BACK, text, checks, 1, 1,
                             &e) == 0) {
                if (!bad_releases_find(&l, "fuzz", NULL))
                        __builtin_trap();
                roundtrip(&l);
        }
        if (l.n_entries > 0 && bad_releases_forget(&l, l.entries[0].version, &e) < 1)
                __builtin_trap();
        free(text);
        bad_releases_done(&l);
        return 0;
}

/* fuzz-release.c — libFuzzer target: `upkeep release`'s parsers of outside input. The first line is a
 * time and a duration as a release engineer types them (release_time_parse() with a fixed zone loader,
 * release_duration_parse()); the rest is update metadata: validated, parsed for editing, written in the
 * stable format (which must read back and write again byte for byte), then paused, resumed and cleaned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "release-edit.h"
#include "release-time.h"
#include "release-validate.h"

static int zone(const char *name, void *userdata, TimeZone **ret, Error *e)
{
        return tz_from_posix("CET-1CEST,M3.5.0,M10.5.0/3", ret, e);
}

static char *write_doc(const json_t *doc, size_t *ret_len)
{
        Buf b = BUF_INIT(1u << 24);
        if (updates_doc_write(doc, &b) < 0) {
                buf_free(&b);
                return NULL;
        }
        return buf_steal(&b, ret_len);
}

static void fuzz_time(const char *line)
{
        Error e;
        int64_t t, m;
        char buf[40];

        if (release_time_parse(line, 1800000000, zone, NULL, &t, &e) == 0)
                (void)release_time_format_utc(t, buf, sizeof(buf));
        (void)release_duration_parse(line, &m, &e);
}

static void fuzz_edits(json_t *doc)
{
        json_t *releases = json_object_get(doc, "releases"), *rel;
        Error e;
        size_t i, n = 0;

        json_array_foreach(releases, i, rel) {
                const char *v = json_string_value(json_object_get(rel, "version"));
                if (n++ >= 8)
                        break;
                (void)release_pause(doc, v, 1800000000, "r", &e);
                (void)release_resume(doc, v, 1800003600, &e);
                /* the entry may have moved or gone: look it up again on the next round */
                releases = json_object_get(doc, "releases");
        }
        (void)release_clean(doc, 1800000000, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *nl = memchr(data, '\n', size);
        size_t head = nl ? (size_t)(nl - (const char *)data) : size;
        json_t *doc = NULL, *again = NULL;
        char line[RELEASE_TIME_MAX_INPUT + 2];
        char *first = NULL, *second = NULL;
        size_t l1 = 0, l2 = 0;
        Buf out = BUF_INIT(1u << 20);
        ValidateResult res;
        Error e;

        if (head <= RELEASE_TIME_MAX_INPUT + 1 && !memchr(data, 0, head)) {
                memcpy(line, data, head);
                line[head] = 0;
                fuzz_time(line);
        }
        if (!nl)
                return 0;
        data += head + 1;
        size -= head + 1;
        (void)release_validate((const char *)data, size, "f", NULL, "stable", &out, &res);
        buf_free(&out);
        if (updates_doc_parse((const char *)data, size, &doc, &e) < 0)
                return 0;
        first = write_doc(doc, &l1);
        if (first && updates_doc_parse(first, l1, &again, &e) == 0) {
                second = write_doc(again, &l2);
                if (!second || l1 != l2 || memcmp(first, second, l1) != 0)
                        abort(); /* the stable format must be a fixed point */
        }
        fuzz_edits(doc);
        free(write_doc(doc, &l1));
        free(first);
        free(second);
        json_decref(again);
        json_decref(doc);
        return 0;
}

/* health-record.c — the boot assessment's record as JSON (health-record.h). */
#include "health-record.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "json-util.h"
#include "macros.h"

int health_record_encode(const HealthRecord *r, Buf *out)
{
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_free_ char *text = NULL;

        if (health_record_validate(r) < 0)
                return -EINVAL;
        doc = json_pack("{s:s,s:I,s:{s:s,s:s},s:{s:s,s:s}}", "phase", health_phase_name(r->phase),
                        "attempts_left", (json_int_t)r->attempts_left, "to", "version", r->to_version,
                        "checksum", r->to_checksum, "from", "version", r->from_version, "checksum",
                        r->from_checksum);
        if (!doc)
                return -ENOMEM;
        text = json_dumps(doc, JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        return buf_printf(out, "%s\n", text);
}

/* A string member of o into dst (cap bytes, NUL included). */
static int get_string(const json_t *o, const char *parent, const char *name, char *dst, size_t cap, Error *e)
{
        const json_t *v = json_object_get(o, name);

        if (!json_is_string(v))
                return error_setf(e, -EINVAL, "health record: %s%s%s: must be a string", parent,
                                  *parent ? "." : "", name);
        if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
                return error_setf(e, -EINVAL, "health record: %s.%s: longer than %zu bytes or not text",
                                  parent, name, cap - 1);
        memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        return 0;
}

static int get_release(const json_t *doc, const char *name, char *version, char *checksum, Error *e)
{
        const json_t *o = json_object_get(doc, name);
        int r;

        if (!json_is_object(o))
                return error_setf(e, -EINVAL, "health record: %s: must be an object", name);
        r = get_string(o, name, "version", version, HEALTH_VERSION_MAX + 1, e);
        if (r < 0)
                return r;
        return get_string(o, name, "checksum", checksum, HEALTH_CHECKSUM_MAX + 1, e);
}

int health_record_decode(const char *data, size_t len, HealthRecord *ret, Error *e)
{
        _cleanup_json_ json_t *doc = NULL;
        HealthRecord rec = {};
        const json_t *attempts;
        char phase[32];
        json_error_t je;
        int r;

        if (len > HEALTH_RECORD_FILE_MAX)
                return error_setf(e, -EFBIG, "health record: larger than %d bytes", HEALTH_RECORD_FILE_MAX);
        doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
        if (!doc)
                return error_setf(e, -EINVAL, "health record: not JSON: %s (line %d)", je.text, je.line);
        if (!json_is_object(doc))
                return error_setf(e, -EINVAL, "health record: must be a JSON object");
        r = get_string(doc, "", "phase", phase, sizeof phase, e);
        if (r < 0)
                return r;
        if (health_phase_from_name(phase, &rec.phase) < 0)
                return error_setf(e, -EINVAL,
                                  "health record: phase: must be \"finalized\" or \"rolled_back\"");
        attempts = json_object_get(doc, "attempts_left");
        if (!json_is_integer(attempts) || json_integer_value(attempts) < 0 ||
            json_integer_value(attempts) > HEALTH_ATTEMPTS_MAX)
                return error_setf(e, -EINVAL,
                                  "health record: attempts_left: must be an integer between 0 and %d",
                                  HEALTH_ATTEMPTS_MAX);
        rec.attempts_left = (unsigned)json_integer_value(attempts);
        r = get_release(doc, "to", rec.to_version, rec.to_checksum, e);
        if (r < 0)
                return r;
        r = get_release(doc, "from", rec.from_version, rec.from_checksum, e);
        if (r < 0)
                return r;
        r = health_record_validate(&rec);
        if (r < 0)
                return error_setf(e, -EINVAL,
                                  "health record: checksums must be different, non-empty and printable");
        *ret = rec;
        return 0;
}

/* status-health.c — `upkeep status`'s health and bad-release lines (status-health.h). */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "agent-status.h"
#include "status-health.h"
#include "strutil.h"

#define LABEL "%-15s "   /* as agent_status_format's fields */
#define OUTPUT_SHOWN 160 /* bytes of a check's output tail on its line */

/* A member of obj as text safe for a terminal (a non-empty string, or an integer), or "-". */
static const char *text(const json_t *obj, const char *key, char *buf, size_t size)
{
        const json_t *v = json_object_get(obj, key);

        if (json_is_string(v) && *json_string_value(v))
                agent_text_copy(buf, size, json_string_value(v));
        else if (json_is_integer(v))
                snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else
                return "-";
        return buf;
}

static int format_check(const json_t *c, Buf *out)
{
        const json_t *ms = json_object_get(c, "duration_ms");
        char name[AGENT_TEXT_MAX], output[OUTPUT_SHOWN];
        int r;

        r = buf_printf(out, "  %-13s %s, %s", text(c, "name", name, sizeof name),
                       json_is_true(json_object_get(c, "required")) ? "required" : "wanted",
                       json_is_true(json_object_get(c, "ok")) ? "ok" : "FAILED");
        if (r >= 0 && json_is_integer(ms))
                r = buf_printf(out, ", %" JSON_INTEGER_FORMAT " ms", json_integer_value(ms));
        if (r >= 0 && json_is_string(json_object_get(c, "output")) &&
            *json_string_value(json_object_get(c, "output")))
                r = buf_printf(out, ": %s", text(c, "output", output, sizeof output));
        return r < 0 ? r : buf_putc(out, '\n');
}

static int format_health(const json_t *h, Buf *out)
{
        const json_t *left = json_object_get(h, "attempts_left"), *c;
        char a[AGENT_TEXT_MAX], b[AGENT_TEXT_MAX];
        size_t i;
        int r;

        r = buf_printf(out, LABEL "%s, booted %s", "Health:", text(h, "state", a, sizeof a),
                       text(h, "booted_version", b, sizeof b));
        if (r >= 0 && json_is_integer(left))
                r = buf_printf(out, ", %" JSON_INTEGER_FORMAT " boot attempts left",
                               json_integer_value(left));
        if (r >= 0 && json_is_true(json_object_get(h, "manual_intervention")))
                r = buf_puts(out, ", manual intervention needed");
        if (r >= 0)
                r = buf_putc(out, '\n');
        if (r >= 0 && text(h, "failed", a, sizeof a) == a)
                r = buf_printf(out, LABEL "failed: %s\n", "", a);
        if (r >= 0 && text(h, "reason", a, sizeof a) == a)
                r = buf_printf(out, LABEL "%s\n", "", a);
        json_array_foreach(json_object_get(h, "checks"), i, c)
                if (r >= 0)
                        r = format_check(c, out);
        return r;
}

/* "time": unix seconds (shown as the other status times are), or any text. */
static const char *format_time(const json_t *rec, char *buf, size_t size)
{
        const json_t *t = json_object_get(rec, "time");
        time_t secs;
        struct tm tm;

        if (!json_is_integer(t))
                return text(rec, "time", buf, size);
        secs = (time_t)json_integer_value(t);
        if (!gmtime_r(&secs, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(t));
        return buf;
}

static int format_bad_releases(const json_t *list, Buf *out)
{
        char v[AGENT_TEXT_MAX], c[AGENT_TEXT_MAX], o[AGENT_TEXT_MAX], why[AGENT_TEXT_MAX], when[64];
        const json_t *rec;
        size_t i;
        int r = 0;

        if (json_array_size(list) == 0)
                return buf_printf(out, LABEL "none\n", "Bad releases:");
        json_array_foreach(list, i, rec)
                if (r >= 0)
                        r = buf_printf(out, LABEL "%s (%.12s), %s at %s: %s\n",
                                       i == 0 ? "Bad releases:" : "", text(rec, "version", v, sizeof v),
                                       text(rec, "checksum", c, sizeof c), text(rec, "outcome", o, sizeof o),
                                       format_time(rec, when, sizeof when),
                                       text(rec, "reason", why, sizeof why));
        return r;
}

int status_health_format(const json_t *status, Buf *out)
{
        const json_t *health = json_object_get(status, "health"),
                     *bad = json_object_get(status, "bad_releases");
        size_t start = out->len;
        int r = 0;

        if (json_is_object(health))
                r = format_health(health, out);
        if (r >= 0 && json_is_array(bad))
                r = format_bad_releases(bad, out);
        if (r < 0)
                buf_truncate(out, start);
        return r;
}

HealthGate status_health_gate(const json_t *status, const char **ret_state)
{
        const json_t *h = json_object_get(status, "health");
        const char *state = json_string_value(json_object_get(h, "state"));
        HealthGate g = HEALTH_GATE_WAIT;

        if (!json_is_object(h))
                g = HEALTH_GATE_PASS; /* an older agent: it knows no assessment */
        else if (!state)
                g = HEALTH_GATE_WAIT;
        else if (streq(state, "steady") || streq(state, "succeeded") || streq(state, "recovered") ||
                 streq(state, "disabled"))
                g = HEALTH_GATE_PASS;
        else if (streq(state, "manual"))
                g = HEALTH_GATE_FAIL;
        if (ret_state)
                *ret_state = state ? state : "";
        return g;
}

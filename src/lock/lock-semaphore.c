/* lock-semaphore.c — FleetLock semaphore decisions and the Airlock-compatible stored form (see
 * lock-semaphore.h). */
#include "lock-semaphore.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "strv.h"

const char *lock_decision_to_string(LockDecision d)
{
        switch (d) {
        case LOCK_GRANTED:
                return "granted";
        case LOCK_ALREADY_HELD:
                return "already_held";
        case LOCK_FULL:
                return "full";
        case LOCK_SETTLING:
                return "settling";
        case LOCK_OUTSIDE_WINDOW:
                return "outside_window";
        case LOCK_PAUSED:
                return "paused";
        }
        return "unknown";
}

void semaphore_init(Semaphore *s, uint64_t total_slots)
{
        *s = (Semaphore){ .total_slots = total_slots };
}

void semaphore_done(Semaphore *s)
{
        for (size_t i = 0; i < s->n_holders; i++)
                free(s->holders[i].id);
        free(s->holders);
        *s = (Semaphore){ 0 };
}

int semaphore_copy(const Semaphore *s, Semaphore *ret)
{
        Semaphore c = *s;

        c.holders = calloc(s->n_holders + 1, sizeof(SemaphoreHolder));
        if (!c.holders)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_holders; i++) {
                c.holders[i].since = s->holders[i].since;
                c.holders[i].id = strdup(s->holders[i].id);
                if (!c.holders[i].id) {
                        c.n_holders = i;
                        semaphore_done(&c);
                        return -ENOMEM;
                }
        }
        *ret = c;
        return 0;
}

/* Binary search: the index of id, or -(insertion point) - 1. */
static ssize_t search(const Semaphore *s, const char *id)
{
        size_t lo = 0, hi = s->n_holders;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(s->holders[mid].id, id);
                if (c == 0)
                        return (ssize_t)mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -(ssize_t)lo - 1;
}

ssize_t semaphore_find(const Semaphore *s, const char *id)
{
        ssize_t i = search(s, id);
        return i >= 0 ? i : -1;
}

static size_t utf8_len(const unsigned char *p)
{
        unsigned c = p[0];
        size_t k;
        uint32_t cp;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                k = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                k = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                k = 3, cp = c & 0x07;
        else
                return 0;
        for (size_t i = 1; i <= k; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return k + 1;
}

/* Whether s is non-empty, valid UTF-8 without control characters (C0, DEL, C1), and at most max bytes. */
static bool printable_utf8(const char *s, size_t max)
{
        size_t n = 0;

        if (!s || !*s)
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                size_t k;
                if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
                        return false;
                k = utf8_len(p);
                if (k == 0)
                        return false;
                p += k;
                n += k;
                if (n > max)
                        return false;
        }
        return true;
}

bool semaphore_valid_id(const char *id)
{
        return printable_utf8(id, SEMAPHORE_MAX_ID);
}

/* Airlock accepts any non-empty group name; Upkeep refuses only what no key, label or log line can carry. */
bool lock_group_name_valid(const char *group)
{
        return printable_utf8(group, LOCK_GROUP_NAME_MAX);
}

static int holder_insert(Semaphore *s, size_t at, const char *id, int64_t since)
{
        SemaphoreHolder *n;
        char *copy;

        if (s->n_holders >= SEMAPHORE_MAX_HOLDERS)
                return -E2BIG;
        copy = strdup(id);
        if (!copy)
                return -ENOMEM;
        n = realloc(s->holders, (s->n_holders + 1) * sizeof(SemaphoreHolder));
        if (!n) {
                free(copy);
                return -ENOMEM;
        }
        s->holders = n;
        memmove(&n[at + 1], &n[at], (s->n_holders - at) * sizeof(SemaphoreHolder));
        n[at] = (SemaphoreHolder){ copy, since };
        s->n_holders++;
        return 0;
}

static void holder_remove(Semaphore *s, size_t at)
{
        free(s->holders[at].id);
        memmove(&s->holders[at], &s->holders[at + 1], (s->n_holders - at - 1) * sizeof(SemaphoreHolder));
        s->n_holders--;
}

int semaphore_maintain(Semaphore *s, const GroupPolicy *p, int64_t now, char ***expired, size_t *n_expired)
{
        int changed = 0;

        if (s->total_slots != p->slots) {
                s->total_slots = p->slots;
                changed = 1;
        }
        for (size_t i = 0; i < s->n_holders;) {
                SemaphoreHolder *h = &s->holders[i];
                if (h->since == 0) {
                        h->since = now; /* taken before Upkeep saw it (Airlock): count from now */
                        changed = 1;
                }
                if (p->max_hold_secs > 0 && now - h->since >= p->max_hold_secs) {
                        if (expired) {
                                if (strv_push(expired, n_expired, h->id) < 0)
                                        return -ENOMEM;
                        }
                        holder_remove(s, i);
                        s->last_release = now;
                        changed = 1;
                        continue;
                }
                i++;
        }
        return changed;
}

int semaphore_lock(Semaphore *s, const char *id, const GroupPolicy *p, bool in_window, int64_t now,
                   LockDecision *ret)
{
        ssize_t i = search(s, id);
        int r;

        if (!semaphore_valid_id(id))
                return -EINVAL;
        if (i >= 0) {
                *ret = LOCK_ALREADY_HELD; /* recursive: holding is enough, whatever the policy now says */
                return 0;
        }
        if (p->paused || s->paused)
                *ret = LOCK_PAUSED;
        else if (!in_window)
                *ret = LOCK_OUTSIDE_WINDOW;
        else if (s->n_holders >= s->total_slots)
                *ret = LOCK_FULL;
        else if (p->settle_secs > 0 && s->last_release > 0 && now - s->last_release < p->settle_secs)
                *ret = LOCK_SETTLING;
        else {
                r = holder_insert(s, (size_t)(-i - 1), id, now);
                if (r < 0)
                        return r;
                *ret = LOCK_GRANTED;
        }
        return 0;
}

int semaphore_unlock(Semaphore *s, const char *id, int64_t now)
{
        ssize_t i = search(s, id);
        if (i < 0)
                return 0;
        holder_remove(s, (size_t)i);
        s->last_release = now;
        return 1;
}

/* The "holders" array, or NULL (no holders) when it is null or absent: Airlock (Go) reads both so. */
static int holders_member(json_t *root, json_t **ret, Error *e)
{
        json_t *h = json_object_get(root, "holders");

        if (!h || json_is_null(h)) {
                *ret = NULL;
                return 0;
        }
        return json_member_array(root, "holders", true, "semaphore", ret, e);
}

int semaphore_parse(const char *data, size_t len, Semaphore *ret, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *holders, *up, *since = NULL, *h;
        Semaphore s = { 0 };
        int64_t slots;
        size_t i;
        int r;

        if (len > SEMAPHORE_VALUE_MAX)
                return error_setf(e, -E2BIG, "semaphore: %zu bytes, more than %u", len, SEMAPHORE_VALUE_MAX);
        r = json_parse_strict(data, len, &root, e);
        if (r < 0)
                return r;
        r = json_member_int(root, "total_slots", true, "semaphore", 0, SEMAPHORE_MAX_SLOTS, &slots, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        r = holders_member(root, &holders, e);
        if (r < 0)
                return r;
        if (json_array_size(holders) > SEMAPHORE_MAX_HOLDERS)
                return error_setf(e, -E2BIG, "semaphore: more than %d holders", SEMAPHORE_MAX_HOLDERS);
        up = json_object_get(root, "upkeep");
        if (up && !json_is_null(up)) {
                int64_t v;
                if (!json_is_object(up))
                        return error_setf(e, -EINVAL, "semaphore: field 'upkeep' must be an object, got %s",
                                          json_type_name(up));
                r = json_member_object(up, "since", false, "semaphore.upkeep", &since, e);
                if (r < 0 && r != -ENOENT)
                        return r;
                r = json_member_int(up, "last_release", false, "semaphore.upkeep", 0, INT64_MAX, &v, e);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0)
                        s.last_release = v;
                h = json_object_get(up, "paused");
                if (h && !json_is_boolean(h))
                        return error_setf(e, -EINVAL,
                                          "semaphore.upkeep: field 'paused' must be a boolean, got %s",
                                          json_type_name(h));
                s.paused = h && json_is_true(h);
        }
        s.total_slots = (uint64_t)slots;
        json_array_foreach(holders, i, h) {
                const char *id;
                json_t *t;
                ssize_t at;

                if (!json_is_string(h) || !semaphore_valid_id(json_string_value(h))) {
                        r = error_setf(e, -EINVAL,
                                       "semaphore: holders[%zu] must be a non-empty printable string of "
                                       "at most %d bytes",
                                       i, SEMAPHORE_MAX_ID);
                        goto fail;
                }
                id = json_string_value(h);
                at = search(&s, id);
                if (at >= 0) {
                        r = error_setf(e, -EINVAL, "semaphore: holder '%s' listed twice", id);
                        goto fail;
                }
                t = since ? json_object_get(since, id) : NULL;
                if (t && (!json_is_integer(t) || json_integer_value(t) < 0)) {
                        r = error_setf(e, -EINVAL,
                                       "semaphore.upkeep.since: '%s' must be a non-negative integer", id);
                        goto fail;
                }
                r = holder_insert(&s, (size_t)(-at - 1), id, t ? json_integer_value(t) : 0);
                if (r < 0)
                        goto fail;
        }
        *ret = s;
        return 0;
fail:
        semaphore_done(&s);
        return r;
}

int semaphore_format(const Semaphore *s, Buf *out)
{
        int r = buf_printf(out, "{\"total_slots\":%llu,\"holders\":[", (unsigned long long)s->total_slots);

        for (size_t i = 0; r >= 0 && i < s->n_holders; i++) {
                if (i)
                        r = buf_putc(out, ',');
                if (r >= 0)
                        r = buf_put_json_string(out, s->holders[i].id, strlen(s->holders[i].id));
        }
        if (r >= 0)
                r = buf_puts(out, "],\"upkeep\":{\"since\":{");
        for (size_t i = 0; r >= 0 && i < s->n_holders; i++) {
                if (i)
                        r = buf_putc(out, ',');
                if (r >= 0)
                        r = buf_put_json_string(out, s->holders[i].id, strlen(s->holders[i].id));
                if (r >= 0)
                        r = buf_printf(out, ":%lld", (long long)s->holders[i].since);
        }
        if (r >= 0)
                r = buf_printf(out, "},\"last_release\":%lld,\"paused\":%s}}", (long long)s->last_release,
                               s->paused ? "true" : "false");
        return r;
}

void lock_op_reset(LockOp *op)
{
        strv_free(op->expired);
        op->expired = NULL;
        op->n_expired = 0;
        op->released = false;
}

int lock_op_apply(Semaphore *s, void *userdata)
{
        LockOp *op = userdata;
        int changed, r;

        assert(s);
        assert(op);
        lock_op_reset(op); /* the backend may retry with a fresh state */
        changed = semaphore_maintain(s, op->policy, op->now, &op->expired, &op->n_expired);
        if (changed < 0)
                return changed;
        if (!op->id)
                return changed; /* a sweep */
        if (op->lock) {
                r = semaphore_lock(s, op->id, op->policy, op->in_window, op->now, &op->decision);
                if (r < 0)
                        return r;
                return changed || op->decision == LOCK_GRANTED;
        }
        r = semaphore_unlock(s, op->id, op->now);
        if (r < 0)
                return r;
        op->released = r > 0;
        return changed || r > 0;
}

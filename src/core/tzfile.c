/* tzfile.c — TZif (RFC 8536) and POSIX TZ string parsing, and offset lookups (see tzfile.h). */
#include "tzfile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"

#define SECS_PER_DAY INT64_C(86400)
/* The Gregorian calendar repeats every 400 years, and 146097 days is a whole number of weeks. */
#define DAYS_PER_CYCLE INT64_C(146097)
#define SECS_PER_CYCLE (DAYS_PER_CYCLE * SECS_PER_DAY)

#define UTOFF_MIN (-89999) /* -24:59:59 */
#define UTOFF_MAX 93599    /* +25:59:59 */

typedef enum RuleKind {
        RULE_JULIAN,      /* Jn: 1..365, February 29 never counted */
        RULE_ZERO_JULIAN, /* n: 0..365, February 29 counted */
        RULE_MONTH_WEEK,  /* Mm.w.d */
} RuleKind;

typedef struct RuleDate {
        RuleKind kind;
        int n;        /* RULE_JULIAN, RULE_ZERO_JULIAN */
        int m, w, d;  /* RULE_MONTH_WEEK: month 1..12, week 1..5 (5 = last), weekday 0..6 (Sunday = 0) */
        int32_t secs; /* local time of day of the change, -167h..167h */
} RuleDate;

typedef struct PosixTz {
        int32_t std_utoff, dst_utoff; /* seconds east of UTC */
        bool has_dst;
        RuleDate start, end; /* start is in standard local time, end in DST local time */
} PosixTz;

typedef struct TzType {
        int32_t utoff;
        bool isdst;
} TzType;

struct TimeZone {
        size_t n_trans;
        int64_t *trans;     /* strictly ascending */
        uint8_t *trans_idx; /* index into types */
        size_t n_types;
        TzType *types; /* at least one */
        bool has_rule;
        PosixTz rule;
};

void tz_free(TimeZone *tz)
{
        if (!tz)
                return;
        free(tz->trans);
        free(tz->trans_idx);
        free(tz->types);
        free(tz);
}

/* ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
        int64_t r = a % b;
        return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

bool tz_is_leap(int64_t y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int tz_month_days(int64_t y, int m)
{
        static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return days[m - 1] + (m == 2 && tz_is_leap(y));
}

/* Counting years from March so that leap days fall at the end. */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
        int64_t yy = m <= 2 ? y - 1 : y;
        int64_t era = floor_div(yy, 400);
        int64_t yoe = yy - era * 400;                                  /* 0..399 */
        int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365, from March 1 */
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
        return era * DAYS_PER_CYCLE + doe - 719468;                    /* 719468: 0000-03-01 to 1970-01-01 */
}

void tz_civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
        int64_t era, doe, yoe, doy, mp;

        z += 719468;
        era = floor_div(z, DAYS_PER_CYCLE);
        doe = z - era * DAYS_PER_CYCLE;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153; /* 0 = March ... 11 = February */
        if (ret_y)
                *ret_y = era * 400 + yoe + (mp >= 10);
        if (ret_m)
                *ret_m = (int)(mp < 10 ? mp + 3 : mp - 9);
        if (ret_d)
                *ret_d = (int)(doy - (153 * mp + 2) / 5 + 1);
}

/* ---- POSIX TZ rules ---- */

/* The instant of a rule date in year y, whose time of day is local time at offset utoff. Years are small
 * here (callers reduce instants into one 400-year cycle), so nothing overflows. */
static int64_t rule_instant(const RuleDate *r, int64_t y, int32_t utoff)
{
        int64_t day = tz_days_from_civil(y, 1, 1);

        switch (r->kind) {
        case RULE_JULIAN:
                day += r->n - 1 + (tz_is_leap(y) && r->n >= 60);
                break;
        case RULE_ZERO_JULIAN:
                day += r->n;
                break;
        case RULE_MONTH_WEEK: {
                int64_t first = tz_days_from_civil(y, r->m, 1);
                int wday = (int)floor_mod(first + 4, 7); /* 1970-01-01 was a Thursday */
                int mday = 1 + (r->d - wday + 7) % 7 + (r->w - 1) * 7;
                while (mday > tz_month_days(y, r->m))
                        mday -= 7;
                day = first + mday - 1;
                break;
        }
        }
        return day * SECS_PER_DAY + r->secs - utoff;
}

/* The changes of years y-1..y+2 (y from the instant in question): DST starts and ends. */
static size_t rule_events(const PosixTz *p, int64_t y, int64_t ev[8], bool dst[8])
{
        size_t n = 0;
        for (int64_t yy = y - 1; yy <= y + 2; yy++) {
                ev[n] = rule_instant(&p->start, yy, p->std_utoff);
                dst[n++] = true;
                ev[n] = rule_instant(&p->end, yy, p->dst_utoff);
                dst[n++] = false;
        }
        return n;
}

static int64_t rule_year(const PosixTz *p, int64_t r)
{
        int64_t y;

        tz_civil_from_days(floor_div(r + p->std_utoff, SECS_PER_DAY), &y, NULL, NULL);
        return y;
}

static bool rule_isdst(const PosixTz *p, int64_t t)
{
        int64_t r = floor_mod(t, SECS_PER_CYCLE), ev[8], best = INT64_MIN, first = INT64_MAX;
        bool dst[8], best_dst = false, first_dst = false;
        size_t n;

        if (!p->has_dst)
                return false;
        n = rule_events(p, rule_year(p, r), ev, dst);
        /* The state is set by the latest change at or before r. */
        for (size_t i = 0; i < n; i++) {
                if (ev[i] <= r && ev[i] >= best) {
                        best = ev[i];
                        best_dst = dst[i];
                }
                if (ev[i] < first) {
                        first = ev[i];
                        first_dst = dst[i];
                }
        }
        return best != INT64_MIN ? best_dst : !first_dst;
}

static int rule_next(const PosixTz *p, int64_t t, int64_t *ret)
{
        int64_t r = floor_mod(t, SECS_PER_CYCLE), ev[8], best = INT64_MAX, out;
        bool dst[8];
        size_t n;

        if (!p->has_dst)
                return -ENOENT;
        n = rule_events(p, rule_year(p, r), ev, dst);
        for (size_t i = 0; i < n; i++)
                if (ev[i] > r && ev[i] < best)
                        best = ev[i];
        /* t - r may not be representable, but best - r is small */
        if (best == INT64_MAX || __builtin_add_overflow(t, best - r, &out))
                return -ENOENT;
        *ret = out;
        return 0;
}

/* ---- POSIX TZ string parser ---- */

typedef struct PosixParser {
        const char *s; /* the whole string, for messages */
        size_t pos;
        Error *e;
} PosixParser;

static int posix_fail(PosixParser *pp, const char *what)
{
        return error_setf(pp->e, -EINVAL, "TZ string '%.64s%s': %s at offset %zu", pp->s,
                          strlen(pp->s) > 64 ? "..." : "", what, pp->pos);
}

static bool is_ascii_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ascii_digit(char c)
{
        return c >= '0' && c <= '9';
}

static int posix_name(PosixParser *pp)
{
        const char *p = pp->s + pp->pos;
        size_t n = 0;

        if (*p == '<') {
                p++;
                while (is_ascii_alpha(p[n]) || is_ascii_digit(p[n]) || p[n] == '+' || p[n] == '-')
                        n++;
                if (p[n] != '>')
                        return posix_fail(pp, "unterminated or invalid quoted zone name");
                if (n < 3)
                        return posix_fail(pp, "zone name shorter than 3 characters");
                pp->pos += n + 2;
                return 0;
        }
        while (is_ascii_alpha(p[n]))
                n++;
        if (n < 3)
                return posix_fail(pp, "expected a zone name of at least 3 letters");
        pp->pos += n;
        return 0;
}

/* Up to max_digits digits, a value ≤ max. */
static int posix_number(PosixParser *pp, int max_digits, int max, int *ret)
{
        const char *p = pp->s + pp->pos;
        int n = 0, v = 0;

        while (n < max_digits && is_ascii_digit(p[n]))
                v = v * 10 + (p[n++] - '0');
        if (n == 0)
                return posix_fail(pp, "expected a number");
        if (is_ascii_digit(p[n]) || v > max)
                return posix_fail(pp, "number out of range");
        pp->pos += n;
        *ret = v;
        return 0;
}

/* [+|-]hh[:mm[:ss]], hours ≤ max_hours. */
static int posix_hms(PosixParser *pp, int max_hours, int32_t *ret)
{
        int sign = 1, h = 0, m = 0, s = 0, r;

        if (pp->s[pp->pos] == '+' || pp->s[pp->pos] == '-') {
                sign = pp->s[pp->pos] == '-' ? -1 : 1;
                pp->pos++;
        }
        r = posix_number(pp, 3, max_hours, &h);
        if (r < 0)
                return r;
        if (pp->s[pp->pos] == ':') {
                pp->pos++;
                r = posix_number(pp, 2, 59, &m);
                if (r < 0)
                        return r;
                if (pp->s[pp->pos] == ':') {
                        pp->pos++;
                        r = posix_number(pp, 2, 59, &s);
                        if (r < 0)
                                return r;
                }
        }
        *ret = sign * (h * 3600 + m * 60 + s);
        return 0;
}

static int posix_offset(PosixParser *pp, int32_t *ret_utoff)
{
        int32_t v;
        int r = posix_hms(pp, 24, &v);
        if (r < 0)
                return r;
        *ret_utoff = -v; /* POSIX offsets count west of UTC */
        return 0;
}

static int posix_date(PosixParser *pp, RuleDate *ret)
{
        RuleDate d = { .secs = 2 * 3600 };
        int r;

        if (pp->s[pp->pos] == 'J') {
                pp->pos++;
                d.kind = RULE_JULIAN;
                r = posix_number(pp, 3, 365, &d.n);
                if (r >= 0 && d.n < 1)
                        r = posix_fail(pp, "Julian day 0 (J counts from 1)");
        } else if (pp->s[pp->pos] == 'M') {
                pp->pos++;
                d.kind = RULE_MONTH_WEEK;
                r = posix_number(pp, 2, 12, &d.m);
                if (r >= 0 && d.m < 1)
                        r = posix_fail(pp, "month 0");
                if (r >= 0 && pp->s[pp->pos++] != '.')
                        r = posix_fail(pp, "expected '.' after the month");
                if (r >= 0)
                        r = posix_number(pp, 1, 5, &d.w);
                if (r >= 0 && d.w < 1)
                        r = posix_fail(pp, "week 0");
                if (r >= 0 && pp->s[pp->pos++] != '.')
                        r = posix_fail(pp, "expected '.' after the week");
                if (r >= 0)
                        r = posix_number(pp, 1, 6, &d.d);
        } else {
                d.kind = RULE_ZERO_JULIAN;
                r = posix_number(pp, 3, 365, &d.n);
        }
        if (r < 0)
                return r;
        if (pp->s[pp->pos] == '/') {
                pp->pos++;
                r = posix_hms(pp, 167, &d.secs);
                if (r < 0)
                        return r;
        }
        *ret = d;
        return 0;
}

static int posix_parse(const char *s, PosixTz *ret, Error *e)
{
        PosixParser pp = { .s = s, .pos = 0, .e = e };
        PosixTz p = { 0 };
        int r;

        if (strlen(s) > TZ_MAX_FOOTER)
                return error_setf(e, -EINVAL, "TZ string longer than %d bytes", TZ_MAX_FOOTER);
        r = posix_name(&pp);
        if (r < 0)
                return r;
        r = posix_offset(&pp, &p.std_utoff);
        if (r < 0)
                return r;
        if (s[pp.pos] == 0) {
                p.dst_utoff = p.std_utoff;
                *ret = p;
                return 0;
        }
        r = posix_name(&pp);
        if (r < 0)
                return r;
        p.has_dst = true;
        p.dst_utoff = p.std_utoff + 3600;
        if (s[pp.pos] != 0 && s[pp.pos] != ',') {
                r = posix_offset(&pp, &p.dst_utoff);
                if (r < 0)
                        return r;
        }
        if (s[pp.pos] == 0) {
                /* No rule: the US one, as glibc without posixrules. */
                p.start = (RuleDate){ .kind = RULE_MONTH_WEEK, .m = 3, .w = 2, .d = 0, .secs = 7200 };
                p.end = (RuleDate){ .kind = RULE_MONTH_WEEK, .m = 11, .w = 1, .d = 0, .secs = 7200 };
                *ret = p;
                return 0;
        }
        if (s[pp.pos] != ',')
                return posix_fail(&pp, "expected ',' before the DST rule");
        pp.pos++;
        r = posix_date(&pp, &p.start);
        if (r < 0)
                return r;
        if (s[pp.pos] != ',')
                return posix_fail(&pp, "expected ',' before the end of DST");
        pp.pos++;
        r = posix_date(&pp, &p.end);
        if (r < 0)
                return r;
        if (s[pp.pos] != 0)
                return posix_fail(&pp, "trailing characters");
        *ret = p;
        return 0;
}

int tz_from_posix(const char *spec, TimeZone **ret, Error *e)
{
        TimeZone *tz;
        PosixTz p;
        int r;

        if (!spec)
                return error_setf(e, -EINVAL, "no TZ string");
        r = posix_parse(spec, &p, e);
        if (r < 0)
                return r;
        tz = calloc(1, sizeof(*tz));
        if (!tz)
                return error_setf(e, -ENOMEM, "out of memory");
        tz->types = calloc(1, sizeof(TzType));
        if (!tz->types) {
                free(tz);
                return error_setf(e, -ENOMEM, "out of memory");
        }
        tz->n_types = 1;
        tz->types[0] = (TzType){ .utoff = p.std_utoff, .isdst = false };
        tz->has_rule = true;
        tz->rule = p;
        *ret = tz;
        return 0;
}

/* ---- TZif ---- */

typedef struct Reader {
        const uint8_t *p;
        size_t len, pos;
} Reader;

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t get_time(const uint8_t *p, size_t size)
{
        if (size == 4)
                return (int32_t)get_be32(p);
        return (int64_t)((uint64_t)get_be32(p) << 32 | get_be32(p + 4));
}

typedef struct Header {
        char version; /* 0, '2', '3', '4' */
        uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} Header;

static int read_header(Reader *rd, const char *which, Header *h, Error *e)
{
        const uint8_t *p = rd->p + rd->pos;

        if (rd->len - rd->pos < 44)
                return error_setf(e, -EBADMSG, "%s header: truncated (%zu bytes, need 44)", which,
                                  rd->len - rd->pos);
        if (memcmp(p, "TZif", 4) != 0)
                return error_setf(e, -EBADMSG, "%s header: not a TZif file (bad magic)", which);
        h->version = (char)p[4];
        if (h->version != 0 && h->version != '2' && h->version != '3' && h->version != '4')
                return error_setf(e, -EBADMSG, "%s header: unsupported version 0x%02x", which, p[4]);
        h->isutcnt = get_be32(p + 20);
        h->isstdcnt = get_be32(p + 24);
        h->leapcnt = get_be32(p + 28);
        h->timecnt = get_be32(p + 32);
        h->typecnt = get_be32(p + 36);
        h->charcnt = get_be32(p + 40);
        rd->pos += 44;

        if (h->timecnt > TZ_MAX_TRANSITIONS)
                return error_setf(e, -E2BIG, "%s header: %u transitions (at most %d)", which, h->timecnt,
                                  TZ_MAX_TRANSITIONS);
        if (h->typecnt == 0 || h->typecnt > TZ_MAX_TYPES)
                return error_setf(e, h->typecnt ? -E2BIG : -EBADMSG,
                                  "%s header: %u local time types (1 to %d)", which, h->typecnt,
                                  TZ_MAX_TYPES);
        if (h->charcnt == 0 || h->charcnt > TZ_MAX_CHARS)
                return error_setf(e, h->charcnt ? -E2BIG : -EBADMSG,
                                  "%s header: %u designation bytes (1 to %d)", which, h->charcnt,
                                  TZ_MAX_CHARS);
        if (h->leapcnt > TZ_MAX_LEAPS)
                return error_setf(e, -E2BIG, "%s header: %u leap second records (at most %d)", which,
                                  h->leapcnt, TZ_MAX_LEAPS);
        if (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)
                return error_setf(e, -EBADMSG, "%s header: isstdcnt %u is neither 0 nor typecnt %u", which,
                                  h->isstdcnt, h->typecnt);
        if (h->isutcnt != 0 && h->isutcnt != h->typecnt)
                return error_setf(e, -EBADMSG, "%s header: isutcnt %u is neither 0 nor typecnt %u", which,
                                  h->isutcnt, h->typecnt);
        return 0;
}

/* With the caps above this cannot overflow. */
static size_t block_size(const Header *h, size_t tsize)
{
        return (size_t)h->timecnt * (tsize + 1) + (size_t)h->typecnt * 6 + h->charcnt +
               (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static int read_block(Reader *rd, const char *which, const Header *h, size_t tsize, TimeZone *tz, Error *e)
{
        const uint8_t *p, *idx, *ttinfo, *chars, *leaps, *isstd, *isut;
        size_t need = block_size(h, tsize);

        if (rd->len - rd->pos < need)
                return error_setf(e, -EBADMSG, "%s data block: truncated (%zu bytes, need %zu)", which,
                                  rd->len - rd->pos, need);
        p = rd->p + rd->pos;
        idx = p + (size_t)h->timecnt * tsize;
        ttinfo = idx + h->timecnt;
        chars = ttinfo + (size_t)h->typecnt * 6;
        leaps = chars + h->charcnt;
        isstd = leaps + (size_t)h->leapcnt * (tsize + 4);
        isut = isstd + h->isstdcnt;

        tz->n_trans = h->timecnt;
        tz->n_types = h->typecnt;
        tz->trans = malloc(MAX(h->timecnt, 1u) * sizeof(int64_t));
        tz->trans_idx = malloc(MAX(h->timecnt, 1u));
        tz->types = malloc((size_t)h->typecnt * sizeof(TzType));
        if (!tz->trans || !tz->trans_idx || !tz->types)
                return error_setf(e, -ENOMEM, "out of memory");

        for (size_t i = 0; i < h->timecnt; i++) {
                tz->trans[i] = get_time(p + i * tsize, tsize);
                if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
                        return error_setf(e, -EBADMSG,
                                          "%s data block: transition %zu is not after transition %zu", which,
                                          i, i - 1);
                if (idx[i] >= h->typecnt)
                        return error_setf(
                                e, -EBADMSG,
                                "%s data block: transition %zu uses type %u, but there are %u types", which,
                                i, idx[i], h->typecnt);
                tz->trans_idx[i] = idx[i];
        }
        for (size_t i = 0; i < h->typecnt; i++) {
                const uint8_t *t = ttinfo + i * 6;
                int32_t utoff = (int32_t)get_be32(t);
                if (utoff < UTOFF_MIN || utoff > UTOFF_MAX)
                        return error_setf(e, -EBADMSG,
                                          "%s data block: type %zu has UT offset %" PRId32
                                          " s (outside -89999..93599)",
                                          which, i, utoff);
                if (t[4] > 1)
                        return error_setf(e, -EBADMSG, "%s data block: type %zu has isdst %u (not 0 or 1)",
                                          which, i, t[4]);
                if (t[5] >= h->charcnt || !memchr(chars + t[5], 0, h->charcnt - t[5]))
                        return error_setf(e, -EBADMSG,
                                          "%s data block: type %zu designation index %u is outside the %u "
                                          "NUL-terminated designation bytes",
                                          which, i, t[5], h->charcnt);
                tz->types[i] = (TzType){ .utoff = utoff, .isdst = t[4] };
        }
        for (size_t i = 1; i < h->leapcnt; i++)
                if (get_time(leaps + i * (tsize + 4), tsize) <=
                    get_time(leaps + (i - 1) * (tsize + 4), tsize))
                        return error_setf(e, -EBADMSG,
                                          "%s data block: leap second %zu is not after leap second %zu",
                                          which, i, i - 1);
        for (size_t i = 0; i < h->isstdcnt; i++)
                if (isstd[i] > 1)
                        return error_setf(e, -EBADMSG, "%s data block: standard/wall indicator %zu is %u",
                                          which, i, isstd[i]);
        for (size_t i = 0; i < h->isutcnt; i++) {
                if (isut[i] > 1)
                        return error_setf(e, -EBADMSG, "%s data block: UT/local indicator %zu is %u", which,
                                          i, isut[i]);
                if (isut[i] && (h->isstdcnt == 0 || !isstd[i]))
                        return error_setf(e, -EBADMSG, "%s data block: type %zu is UT but not standard time",
                                          which, i);
        }
        rd->pos += need;
        return 0;
}

/* The footer of a v2+ file: "\n" TZ-string "\n", the rule for instants after the last transition. */
static int read_footer(const Reader *rd, TimeZone *tz, Error *e)
{
        const char *f = (const char *)rd->p + rd->pos, *nl;
        size_t left = rd->len - rd->pos, n;
        char spec[TZ_MAX_FOOTER + 1];
        int r;

        if (left < 2 || f[0] != '\n')
                return error_setf(e, -EBADMSG, "footer: missing (expected a newline after the data)");
        nl = memchr(f + 1, '\n', MIN(left - 1, (size_t)TZ_MAX_FOOTER + 1));
        if (!nl)
                return error_setf(e, -EBADMSG, "footer: unterminated or longer than %d bytes",
                                  TZ_MAX_FOOTER);
        n = (size_t)(nl - f - 1);
        if ((size_t)(nl - f) + 1 != left)
                return error_setf(e, -EBADMSG, "footer: %zu bytes of trailing data", left - n - 2);
        if (memchr(f + 1, 0, n))
                return error_setf(e, -EBADMSG, "footer: contains a NUL byte");
        memcpy(spec, f + 1, n);
        spec[n] = 0;
        if (n > 0) {
                r = posix_parse(spec, &tz->rule, e);
                if (r < 0)
                        return error_prefixf(e, -EBADMSG, "footer");
                tz->has_rule = true;
        }
        return 0;
}

/* Version 1: the 32-bit data block is the whole rest of the file. */
static int read_v1_body(Reader *rd, const Header *h1, TimeZone *tz, Error *e)
{
        int r;

        r = read_block(rd, "v1", h1, 4, tz, e);
        if (r < 0)
                return r;
        if (rd->pos != rd->len)
                return error_setf(e, -EBADMSG, "%zu bytes of trailing data after the v1 data block",
                                  rd->len - rd->pos);
        return 0;
}

/* Version 2+: skip the 32-bit block, then read the second header, the 64-bit block and the footer. */
static int read_v2_body(Reader *rd, const Header *h1, TimeZone *tz, Error *e)
{
        Header h2 = { 0 }; /* read_header() fills it; gcc -O3 cannot see that */
        int r;

        if (rd->len - rd->pos < block_size(h1, 4))
                return error_setf(e, -EBADMSG, "v1 data block: truncated (%zu bytes, need %zu)",
                                  rd->len - rd->pos, block_size(h1, 4));
        rd->pos += block_size(h1, 4);
        r = read_header(rd, "v2+", &h2, e);
        if (r < 0)
                return r;
        if (h2.version != h1->version)
                return error_setf(e, -EBADMSG,
                                  "v2+ header: version 0x%02x differs from the first header's 0x%02x",
                                  (unsigned char)h2.version, (unsigned char)h1->version);
        r = read_block(rd, "v2+", &h2, 8, tz, e);
        if (r < 0)
                return r;
        return read_footer(rd, tz, e);
}

int tz_parse(const void *data, size_t len, TimeZone **ret, Error *e)
{
        Reader rd = { .p = data, .len = len, .pos = 0 };
        _cleanup_tz_ TimeZone *tz = NULL;
        Header h1 = { 0 }; /* likewise */
        int r;

        if (!data && len > 0)
                return error_setf(e, -EINVAL, "no data");
        r = read_header(&rd, "v1", &h1, e);
        if (r < 0)
                return r;
        tz = calloc(1, sizeof(*tz));
        if (!tz)
                return error_setf(e, -ENOMEM, "out of memory");

        if (h1.version == 0)
                r = read_v1_body(&rd, &h1, tz, e);
        else
                r = read_v2_body(&rd, &h1, tz, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(tz);
        return 0;
}

/* ---- lookups ---- */

/* The number of transitions at or before t. */
static size_t trans_upto(const TimeZone *tz, int64_t t)
{
        size_t lo = 0, hi = tz->n_trans;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (tz->trans[mid] <= t)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static bool uses_rule(const TimeZone *tz, int64_t t)
{
        return tz->has_rule && (tz->n_trans == 0 || t >= tz->trans[tz->n_trans - 1]);
}

int tz_offset_at(const TimeZone *tz, int64_t t, int32_t *ret_utoff, bool *ret_isdst)
{
        TzType type;

        if (uses_rule(tz, t)) {
                bool dst = rule_isdst(&tz->rule, t);
                type = (TzType){ .utoff = dst ? tz->rule.dst_utoff : tz->rule.std_utoff, .isdst = dst };
        } else {
                size_t n = trans_upto(tz, t);
                type = tz->types[n == 0 ? 0 : tz->trans_idx[n - 1]];
        }
        if (ret_utoff)
                *ret_utoff = type.utoff;
        if (ret_isdst)
                *ret_isdst = type.isdst;
        return 0;
}

int tz_next_transition(const TimeZone *tz, int64_t t, int64_t *ret)
{
        if (tz->n_trans > 0 && t < tz->trans[tz->n_trans - 1]) {
                *ret = tz->trans[trans_upto(tz, t)];
                return 0;
        }
        if (tz->has_rule)
                return rule_next(&tz->rule, t, ret);
        return -ENOENT;
}

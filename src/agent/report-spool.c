/* report-spool.c — the durable queue of outcome reports and its sender thread (report-spool.h).
 *
 * One mutex guards the directory and the counters: report_spool_enqueue() and the sender scan and change
 * the directory under it, and the sender lets go of it while a POST is in flight, so enqueueing never
 * waits for the network. The spool is reference counted: the caller holds one reference and the running
 * sender another, so a sender left inside a hanging POST by report_spool_stop() can finish and free the
 * spool after the caller has let go of it. */
#include "report-spool.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "siphash13.h"
#include "strutil.h"
#include "time-util.h"

#define FILE_PREFIX "r-"
#define FILE_SUFFIX ".json"
#define SEQ_DIGITS 20
#define KEY_DIGITS 16
#define FILE_NAME_LEN (sizeof FILE_PREFIX - 1 + SEQ_DIGITS + 1 + KEY_DIGITS + sizeof FILE_SUFFIX - 1)
#define TEMP_PREFIX ".#" FILE_PREFIX /* write_file_atomic()'s temporary files */
/* Fixed SipHash key for the (to_version, outcome) file names: stable across runs. */
#define KEY_K0 UINT64_C(0x75706b6565707270)
#define KEY_K1 UINT64_C(0x6f727473706f6f6c)

typedef struct SpoolEntry {
        uint64_t seq;
        uint64_t key;
} SpoolEntry;

struct ReportSpool {
        unsigned n_ref; /* the caller's and, while it runs, the sender's */
        pthread_mutex_t lock;
        pthread_cond_t wake; /* CLOCK_MONOTONIC */
        pthread_t thread;
        bool started;
        bool stopping;

        char *dir;
        char *url;
        char *token; /* the bearer token, or NULL */
        unsigned max_queued, post_timeout_ms;
        uint64_t (*backoff)(unsigned attempt, double jitter01);
        int (*post)(void *userdata, const char *url, const char *token, const char *body, size_t len,
                    unsigned timeout_ms, long *ret_status, Error *e);
        void *post_userdata;

        unsigned attempt; /* failed POSTs of the report at the head of the queue */
        usec_t next_due;  /* CLOCK_MONOTONIC; no POST before */
        ReportSpoolStats stats;
};

static void spool_unref(ReportSpool *s)
{
        if (!s || __atomic_sub_fetch(&s->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->wake);
        free(s->dir);
        free(s->url);
        free(s->token);
        free(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(ReportSpool *, spool_unref);

static void entry_name(const SpoolEntry *en, char name[static FILE_NAME_LEN + 1])
{
        snprintf(name, FILE_NAME_LEN + 1, FILE_PREFIX "%0*" PRIu64 "-%0*" PRIx64 FILE_SUFFIX, SEQ_DIGITS,
                 en->seq, KEY_DIGITS, en->key);
}

/* Parses a report file's name; false for anything else. */
static bool parse_name(const char *name, SpoolEntry *ret)
{
        const char *p = name + strlen(FILE_PREFIX);
        uint64_t seq = 0, key = 0;

        if (strlen(name) != FILE_NAME_LEN || !startswith(name, FILE_PREFIX) ||
            !endswith(name, FILE_SUFFIX) || p[SEQ_DIGITS] != '-')
                return false;
        for (size_t i = 0; i < SEQ_DIGITS; i++) {
                if (p[i] < '0' || p[i] > '9' || seq > (UINT64_MAX - 9) / 10)
                        return false;
                seq = seq * 10 + (uint64_t)(p[i] - '0');
        }
        for (size_t i = 0; i < KEY_DIGITS; i++) {
                int v = unhexchar(p[SEQ_DIGITS + 1 + i]);

                if (v < 0 || (p[SEQ_DIGITS + 1 + i] >= 'A' && p[SEQ_DIGITS + 1 + i] <= 'F'))
                        return false;
                key = key << 4 | (uint64_t)v;
        }
        *ret = (SpoolEntry){ .seq = seq, .key = key };
        return true;
}

static int entry_cmp(const void *a, const void *b)
{
        const SpoolEntry *x = a, *y = b;

        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The report files in the directory, oldest first (caller frees *ret). With remove_temp, also removes
 * the temporary files a crash inside write_file_atomic() left. */
static int scan(ReportSpool *s, bool remove_temp, SpoolEntry **ret, size_t *ret_n, Error *e)
{
        _cleanup_free_ SpoolEntry *list = NULL;
        DIR *d;
        struct dirent *de;
        size_t n = 0;

        d = opendir(s->dir);
        if (!d)
                return error_setf(e, negative_errno(), "reading %s: %m", s->dir);
        list = calloc(REPORT_SPOOL_SCAN_MAX, sizeof *list);
        if (!list) {
                closedir(d);
                return error_setf(e, -ENOMEM, "reading %s: %m", s->dir);
        }
        while ((de = readdir(d))) {
                if (remove_temp && startswith(de->d_name, TEMP_PREFIX))
                        (void)unlinkat(dirfd(d), de->d_name, 0);
                if (!parse_name(de->d_name, &(SpoolEntry){}))
                        continue;
                if (n == REPORT_SPOOL_SCAN_MAX) {
                        closedir(d);
                        return error_setf(e, -EMFILE, "%s: more than %u report files", s->dir,
                                          REPORT_SPOOL_SCAN_MAX);
                }
                parse_name(de->d_name, &list[n++]);
        }
        closedir(d);
        qsort(list, n, sizeof *list, entry_cmp);
        s->stats.queued = (unsigned)n;
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

static int entry_path(const ReportSpool *s, const SpoolEntry *en, char **ret)
{
        char name[FILE_NAME_LEN + 1];

        entry_name(en, name);
        return asprintf(ret, "%s/%s", s->dir, name) < 0 ? -ENOMEM : 0;
}

/* Removes one report file; a file already gone is fine. */
static int remove_entry(ReportSpool *s, const SpoolEntry *en)
{
        _cleanup_free_ char *path = NULL;

        if (entry_path(s, en, &path) < 0)
                return -ENOMEM;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (s->stats.queued > 0)
                s->stats.queued--;
        return 0;
}

static int setup_strings(ReportSpool *s, const ReportSpoolSetup *setup, Error *e)
{
        if (!setup->dir || !setup->dir[0])
                return error_setf(e, -EINVAL, "report spool: no directory");
        if (!setup->url || !setup->url[0])
                return error_setf(e, -EINVAL, "report spool: no URL");
        if (strncasecmp(setup->url, "http://", 7) != 0 && strncasecmp(setup->url, "https://", 8) != 0)
                return error_setf(e, -EINVAL, "report spool: URL: not http:// or https://");
        if (string_check_plain(setup->url, 4096, true) < 0)
                return error_setf(e, -EINVAL,
                                  "report spool: URL: control character or longer than 4096 bytes");
        if (setup->token && string_check_plain(setup->token, 4096, false) < 0)
                return error_setf(e, -EINVAL,
                                  "report spool: token: control character or longer than 4096 bytes");
        if (!setup->post)
                return error_setf(e, -EINVAL, "report spool: no way to send");
        s->dir = strdup(setup->dir);
        s->url = strdup(setup->url);
        if (!s->dir || !s->url)
                return error_setf(e, -ENOMEM, "report spool: %m");
        if (setup->token && setup->token[0] && !(s->token = strdup(setup->token)))
                return error_setf(e, -ENOMEM, "report spool: %m");
        return 0;
}

static int spool_init_sync(ReportSpool *s)
{
        pthread_condattr_t attr;
        int r;

        r = pthread_mutex_init(&s->lock, NULL);
        if (r != 0)
                return -r;
        r = pthread_condattr_init(&attr);
        if (r == 0) {
                r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
                if (r == 0)
                        r = pthread_cond_init(&s->wake, &attr);
                pthread_condattr_destroy(&attr);
        }
        if (r != 0) {
                pthread_mutex_destroy(&s->lock);
                return -r;
        }
        return 0;
}

int report_spool_new(const ReportSpoolSetup *setup, ReportSpool **ret, Error *e)
{
        _cleanup_(spool_unrefp) ReportSpool *s = NULL;
        _cleanup_free_ SpoolEntry *list = NULL;
        size_t n;
        int r;

        assert(setup);
        assert(ret);
        s = calloc(1, sizeof *s);
        if (!s)
                return error_setf(e, -ENOMEM, "report spool: %m");
        r = spool_init_sync(s);
        if (r < 0) {
                free(TAKE_PTR(s));
                return error_setf(e, r, "report spool: %m");
        }
        s->n_ref = 1;
        s->max_queued = setup->max_queued ?: REPORT_SPOOL_MAX_QUEUED_DEFAULT;
        s->backoff = setup->backoff ?: report_backoff_usec;
        r = setup_strings(s, setup, e);
        if (r < 0)
                return r;
        s->post = setup->post;
        s->post_userdata = setup->post_userdata;
        s->post_timeout_ms = setup->post_timeout_ms ?: REPORT_SPOOL_POST_TIMEOUT_MS_DEFAULT;
        if (mkdir(s->dir, 0700) < 0 && errno != EEXIST)
                return error_setf(e, negative_errno(), "creating %s: %m", s->dir);
        r = scan(s, true, &list, &n, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static uint64_t report_key(const OutcomeReport *r)
{
        char text[REPORT_VERSION_MAX + 64];
        int n;

        n = snprintf(text, sizeof text, "%s%c%s", r->to_version, '\0', report_outcome_to_string(r->outcome));
        return siphash13(KEY_K0, KEY_K1, text, (size_t)MIN(n, (int)sizeof text - 1));
}

/* Drops the oldest files until n fit under max_queued; called with the lock held. */
static int drop_oldest(ReportSpool *s, const SpoolEntry *list, size_t n, Error *e)
{
        size_t drop = n > s->max_queued ? n - s->max_queued : 0;

        for (size_t i = 0; i < drop; i++)
                if (remove_entry(s, &list[i]) == 0)
                        s->stats.dropped_total++;
        if (drop == 0)
                return 0;
        error_setf(e, -ENOSPC, "more than %u reports queued in %s: dropped the oldest %zu", s->max_queued,
                   s->dir, drop);
        snprintf(s->stats.last_error, sizeof s->stats.last_error, "%s",
                 e ? e->message : "dropped the oldest report");
        return REPORT_SPOOL_DROPPED_OLDEST;
}

int report_spool_enqueue(ReportSpool *s, const OutcomeReport *r, Error *e)
{
        _cleanup_free_ SpoolEntry *list = NULL;
        _cleanup_free_ char *path = NULL;
        Buf body = BUF_INIT(REPORT_BODY_MAX);
        SpoolEntry en;
        size_t n = 0;
        int k;

        assert(s);
        assert(r);
        k = report_encode(r, &body, e);
        if (k < 0)
                return k;
        en.key = report_key(r);
        pthread_mutex_lock(&s->lock);
        k = scan(s, false, &list, &n, e);
        for (size_t i = 0; k == 0 && i < n; i++)
                if (list[i].key == en.key)
                        k = REPORT_SPOOL_ALREADY_QUEUED;
        if (k == 0) {
                en.seq = n > 0 ? list[n - 1].seq + 1 : 1;
                k = entry_path(s, &en, &path);
        }
        if (k == 0)
                k = write_file_atomic(path, body.data, body.len, 0600, e);
        if (k == 0) {
                s->stats.queued++;
                pthread_cond_signal(&s->wake);
                /* The new file is the newest, so the oldest are list's first. */
                k = drop_oldest(s, list, n + 1, e);
        }
        pthread_mutex_unlock(&s->lock);
        buf_free(&body);
        return k;
}

/* A uniform number in [0, 1] for the backoff's jitter. */
static double random01(void)
{
        uint32_t v;

        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
                return 0.5;
        return (double)v / (double)UINT32_MAX;
}

/* With the lock held: waits for a signal (a new report, a stop) or until the CLOCK_MONOTONIC time until,
 * UINT64_MAX for no time limit. */
static void wait_locked(ReportSpool *s, usec_t until)
{
        struct timespec ts;

        if (until == UINT64_MAX) {
                pthread_cond_wait(&s->wake, &s->lock);
                return;
        }
        ts = timespec_from_nsec(until * NSEC_PER_USEC);
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
}

/* With the lock held: the oldest report and its body, re-encoded from the validated file. A file that
 * does not decode is dropped. -ENOENT when the queue is empty; another negative errno with e when the
 * directory or a file cannot be read. */
static int next_report(ReportSpool *s, SpoolEntry *ret, Buf *body, Error *e)
{
        for (;;) {
                _cleanup_free_ SpoolEntry *list = NULL;
                _cleanup_free_ char *path = NULL, *data = NULL;
                OutcomeReport r;
                Error why = {};
                size_t n, len;
                int k;

                k = scan(s, false, &list, &n, e);
                if (k < 0)
                        return k;
                if (n == 0)
                        return -ENOENT;
                if (entry_path(s, &list[0], &path) < 0)
                        return error_setf(e, -ENOMEM, "%m");
                k = read_full_file(path, REPORT_BODY_MAX, &data, &len);
                if (k < 0 && k != -EFBIG)
                        return error_setf(e, k, "reading %s: %m", path);
                if (k == -EFBIG)
                        error_setf(&why, k, "larger than %d bytes", REPORT_BODY_MAX);
                else
                        k = report_decode(data, len, &r, &why);
                if (k == 0) {
                        buf_truncate(body, 0);
                        k = report_encode(&r, body, &why);
                }
                if (k == 0) {
                        *ret = list[0];
                        return 0;
                }
                if (remove_entry(s, &list[0]) < 0)
                        return error_setf(e, -EIO, "%s: %s; cannot remove it", path, why.message);
                s->stats.dropped_total++;
                snprintf(s->stats.last_error, sizeof s->stats.last_error, "dropped %s: %s", path,
                         why.message);
        }
}

/* POSTs body through the setup's post(): 0 with *ret_status when the server answered (e says what when it
 * is not a 2xx), or a negative errno with e. */
static int post(ReportSpool *s, const Buf *body, long *ret_status, Error *e)
{
        Error answer = {};
        long status = 0;
        int r;

        r = s->post(s->post_userdata, s->url, s->token, body->data, body->len, s->post_timeout_ms, &status,
                    &answer);
        if (r < 0)
                return error_setf(e, r, "%s",
                                  answer.message[0] ? answer.message : "the report was not sent");
        *ret_status = status;
        error_setf(e, -EIO, "the report server answered %ld%s%s", status, answer.message[0] ? ": " : "",
                   answer.message);
        return 0;
}

/* With the lock held: what the answer (or r < 0, the failure in why) means for the report en (NULL when
 * the queue could not be read). */
static void settle(ReportSpool *s, const SpoolEntry *en, int r, long status, const Error *why)
{
        ReportVerdict v = r < 0 ? REPORT_VERDICT_RETRY : report_classify_status(status);
        unsigned attempt;

        if (r == 0)
                s->stats.last_status = status;
        if (v == REPORT_VERDICT_DONE || v == REPORT_VERDICT_DROP) {
                (void)remove_entry(s, en);
                if (v == REPORT_VERDICT_DONE)
                        s->stats.sent_total++;
                else {
                        s->stats.dropped_total++;
                        snprintf(s->stats.last_error, sizeof s->stats.last_error, "report dropped: %s",
                                 why->message);
                }
                s->attempt = 0;
                s->next_due = 0;
                return;
        }
        s->stats.failures_total++;
        snprintf(s->stats.last_error, sizeof s->stats.last_error, "%s", why->message);
        attempt = v == REPORT_VERDICT_RETRY_SLOW ? MAX(s->attempt, REPORT_SLOW_ATTEMPT) : s->attempt;
        s->next_due = now_usec(CLOCK_MONOTONIC) + s->backoff(attempt, random01());
        if (s->attempt < UINT_MAX)
                s->attempt++;
}

static void *sender_main(void *arg)
{
        ReportSpool *s = arg;
        Buf body = BUF_INIT(REPORT_BODY_MAX);

        pthread_mutex_lock(&s->lock);
        while (!s->stopping) {
                SpoolEntry en;
                Error why = {};
                long status = 0;
                int r;

                if (now_usec(CLOCK_MONOTONIC) < s->next_due) {
                        wait_locked(s, s->next_due);
                        continue;
                }
                /* The lock is held from the scan to the wait, so no report queued meanwhile is missed. */
                r = next_report(s, &en, &body, &why);
                if (r == -ENOENT) {
                        wait_locked(s, UINT64_MAX);
                        continue;
                }
                if (r < 0) {
                        settle(s, NULL, r, 0, &why);
                        continue;
                }
                pthread_mutex_unlock(&s->lock);
                r = post(s, &body, &status, &why);
                pthread_mutex_lock(&s->lock);
                settle(s, &en, r, status, &why);
        }
        pthread_mutex_unlock(&s->lock);
        buf_free(&body);
        spool_unref(s);
        return NULL;
}

int report_spool_start(ReportSpool *s, Error *e)
{
        int r;

        assert(s);
        pthread_mutex_lock(&s->lock);
        if (s->started || s->stopping) {
                pthread_mutex_unlock(&s->lock);
                return error_setf(e, -EALREADY, "report spool: already started");
        }
        __atomic_add_fetch(&s->n_ref, 1, __ATOMIC_ACQ_REL);
        r = pthread_create(&s->thread, NULL, sender_main, s);
        if (r != 0) {
                __atomic_sub_fetch(&s->n_ref, 1, __ATOMIC_ACQ_REL);
                pthread_mutex_unlock(&s->lock);
                return error_setf(e, -r, "report spool: starting the sender: %m");
        }
        s->started = true;
        pthread_mutex_unlock(&s->lock);
        return 0;
}

int report_spool_stop(ReportSpool *s, unsigned timeout_ms)
{
        struct timespec deadline;
        bool running;

        assert(s);
        pthread_mutex_lock(&s->lock);
        running = s->started && !s->stopping;
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        if (!running)
                return 0;
        deadline = timespec_from_nsec(now_nsec(CLOCK_REALTIME) + (uint64_t)timeout_ms * NSEC_PER_MSEC);
        if (pthread_timedjoin_np(s->thread, NULL, &deadline) == 0)
                return 0;
        pthread_detach(s->thread); /* it holds its own reference */
        return -ETIMEDOUT;
}

ReportSpool *report_spool_free(ReportSpool *s)
{
        if (!s)
                return NULL;
        (void)report_spool_stop(s, 0);
        spool_unref(s);
        return NULL;
}

void report_spool_get_stats(ReportSpool *s, ReportSpoolStats *ret)
{
        assert(s);
        assert(ret);
        pthread_mutex_lock(&s->lock);
        *ret = s->stats;
        pthread_mutex_unlock(&s->lock);
}

/* lock-sqlite-bench.c — throughput of the SQLite lock backend, for bench/lock.sh (not a test: no
 * assertions on time). Threads share one backend, as upkeep-lock's request threads do, and each repeats
 * lock (an update adding its holder) then unlock (an update removing it) for the given duration.
 * With --batch N, each thread instead writes rounds of N updates (N holders, each taking its slot in one
 * round and releasing it in the next) spread over --groups G groups, with update_many as upkeep-lock's
 * request batching does: one transaction and one fsync per round.
 *
 *   lock-sqlite-bench [--seconds N] [--threads N] [--batch N [--groups G]] [--dir DIR]
 *
 * The database goes to a fresh directory under DIR (default $TMPDIR, else /var/tmp: disk-backed, so the
 * fsyncs are real), removed afterwards. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lock-backend.h"
#include "macros.h"
#include "strutil.h"

#define GROUP "bench"
#define MAX_THREADS 64
#define MAX_BATCH 256

static atomic_bool stop;
static LockBackend *backend;
static uint64_t batch, groups = 1;

typedef struct Worker {
        pthread_t thread;
        unsigned index;
        char id[32];
        uint64_t updates;
        uint64_t rounds; /* transactions */
        uint64_t max_ns;
        int error;
        Error e;
} Worker;

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int add_holder(Semaphore *s, void *userdata)
{
        const char *id = userdata;
        ssize_t at = semaphore_find(s, id);
        SemaphoreHolder *h;
        size_t pos = 0;

        if (at >= 0)
                return 0;
        while (pos < s->n_holders && strcmp(s->holders[pos].id, id) < 0)
                pos++;
        h = realloc(s->holders, (s->n_holders + 1) * sizeof(*h));
        if (!h)
                return -ENOMEM;
        s->holders = h;
        memmove(h + pos + 1, h + pos, (s->n_holders - pos) * sizeof(*h));
        h[pos] = (SemaphoreHolder){ .id = strdup(id), .since = 1700000000 };
        s->n_holders++;
        if (!h[pos].id) { /* leave *s consistent for semaphore_done */
                memmove(h + pos, h + pos + 1, (--s->n_holders - pos) * sizeof(*h));
                return -ENOMEM;
        }
        return 1;
}

static int remove_holder(Semaphore *s, void *userdata)
{
        ssize_t at = semaphore_find(s, userdata);

        if (at < 0)
                return 0;
        free(s->holders[at].id);
        memmove(s->holders + at, s->holders + at + 1,
                (s->n_holders - (size_t)at - 1) * sizeof(SemaphoreHolder));
        s->n_holders--;
        s->last_release = 1700000001;
        return 1;
}

/* One group's share of a round: its holders, all added or all removed. */
typedef struct Share {
        char (*ids)[48];
        size_t n;
        bool add;
} Share;

static int apply_share(Semaphore *s, void *userdata)
{
        Share *sh = userdata;
        int changed = 0;

        for (size_t i = 0; i < sh->n; i++) {
                int r = (sh->add ? add_holder : remove_holder)(s, sh->ids[i]);
                if (r < 0)
                        return r;
                changed |= r;
        }
        return changed;
}

/* Rounds of `batch` updates of distinct holders spread over `groups` groups, as upkeep-lock's batching
 * writes them (one entry per group applying its updates in turn): all take their slot in one round and
 * release it in the next. */
static void *work_batched(Worker *w)
{
        LockBackendUpdate u[MAX_BATCH];
        Share shares[MAX_BATCH];
        char names[MAX_BATCH][32];
        char ids[MAX_BATCH][48];

        for (uint64_t i = 0; i < batch; i++)
                snprintf(ids[i], sizeof(ids[i]), "bench-node-%02u-%03llu", w->index, (unsigned long long)i);
        for (uint64_t g = 0; g < groups; g++) {
                /* ids[] in contiguous shares: group g gets ids [g*batch/groups, (g+1)*batch/groups) */
                shares[g] = (Share){ .ids = ids + g * batch / groups,
                                     .n = (g + 1) * batch / groups - g * batch / groups };
                snprintf(names[g], sizeof(names[g]), GROUP "-%02u-%03llu", w->index, (unsigned long long)g);
        }
        while (!atomic_load(&stop)) {
                for (int k = 0; k < 2; k++) {
                        uint64_t t0 = now_ns(), dt;
                        int r;

                        for (uint64_t g = 0; g < groups; g++) {
                                shares[g].add = k == 0;
                                u[g] = (LockBackendUpdate){
                                        .group = names[g],
                                        .slots = MAX_BATCH,
                                        .fn = apply_share,
                                        .userdata = &shares[g],
                                };
                        }
                        r = lock_backend_update_many(backend, u, groups, &w->e);
                        for (uint64_t g = 0; r >= 0 && g < groups; g++)
                                if (u[g].result < 0) {
                                        r = u[g].result;
                                        w->e = u[g].error;
                                }
                        if (r < 0) {
                                w->error = r;
                                return NULL;
                        }
                        dt = now_ns() - t0;
                        w->max_ns = MAX(w->max_ns, dt);
                        w->updates += batch;
                        w->rounds++;
                }
        }
        return NULL;
}

static void *work(void *arg)
{
        Worker *w = arg;

        if (batch > 0)
                return work_batched(w);
        while (!atomic_load(&stop)) {
                for (int i = 0; i < 2; i++) {
                        uint64_t t0 = now_ns(), dt;
                        int r = lock_backend_update(backend, GROUP, MAX_THREADS,
                                                    i == 0 ? add_holder : remove_holder, w->id, NULL, &w->e);
                        if (r < 0) {
                                w->error = r;
                                return NULL;
                        }
                        dt = now_ns() - t0;
                        w->max_ns = MAX(w->max_ns, dt);
                        w->updates++;
                        w->rounds++;
                }
        }
        return NULL;
}

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                { "seconds", required_argument, NULL, 's' }, { "threads", required_argument, NULL, 't' },
                { "batch", required_argument, NULL, 'b' },   { "groups", required_argument, NULL, 'g' },
                { "dir", required_argument, NULL, 'd' },     {},
        };
        const char *parent = getenv("TMPDIR") ?: "/var/tmp";
        uint64_t seconds = 5, threads = 1, total = 0, rounds = 0, max_ns = 0, t0, elapsed;
        char dir[4096], path[4200];
        Worker *workers;
        Error e = {};
        int c, r, failed = 0;

        while ((c = getopt_long(argc, argv, "s:t:b:g:d:", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        if (safe_atou64(optarg, &seconds) < 0 || seconds == 0 || seconds > 3600) {
                                fprintf(stderr, "--seconds: expected 1..3600\n");
                                return 2;
                        }
                        break;
                case 't':
                        if (safe_atou64(optarg, &threads) < 0 || threads == 0 || threads > MAX_THREADS) {
                                fprintf(stderr, "--threads: expected 1..%d\n", MAX_THREADS);
                                return 2;
                        }
                        break;
                case 'b':
                        if (safe_atou64(optarg, &batch) < 0 || batch == 0 || batch > MAX_BATCH) {
                                fprintf(stderr, "--batch: expected 1..%d\n", MAX_BATCH);
                                return 2;
                        }
                        break;
                case 'g':
                        if (safe_atou64(optarg, &groups) < 0 || groups == 0 || groups > MAX_BATCH) {
                                fprintf(stderr, "--groups: expected 1..%d\n", MAX_BATCH);
                                return 2;
                        }
                        break;
                case 'd':
                        parent = optarg;
                        break;
                default:
                        return 2;
                }
        }

        if (groups > MAX(batch, (uint64_t)1)) {
                fprintf(stderr, "--groups: at most --batch\n");
                return 2;
        }

        snprintf(dir, sizeof(dir), "%s/upkeep-lock-bench-XXXXXX", parent);
        if (!mkdtemp(dir)) {
                fprintf(stderr, "%s: %m\n", dir);
                return 1;
        }
        snprintf(path, sizeof(path), "%s/lock.db", dir);
        r = lock_backend_sqlite_new(path, &backend, &e);
        if (r < 0) {
                fprintf(stderr, "%s\n", e.message);
                rmdir(dir);
                return 1;
        }

        workers = calloc(threads, sizeof(Worker));
        if (!workers)
                return 1;
        t0 = now_ns();
        for (uint64_t i = 0; i < threads; i++) {
                workers[i].index = (unsigned)i;
                snprintf(workers[i].id, sizeof(workers[i].id), "bench-node-%02llu", (unsigned long long)i);
                if (pthread_create(&workers[i].thread, NULL, work, &workers[i]) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        }
        sleep((unsigned)seconds);
        atomic_store(&stop, true);
        for (uint64_t i = 0; i < threads; i++) {
                pthread_join(workers[i].thread, NULL);
                total += workers[i].updates;
                rounds += workers[i].rounds;
                max_ns = MAX(max_ns, workers[i].max_ns);
                if (workers[i].error < 0) {
                        fprintf(stderr, "thread %llu: %s\n", (unsigned long long)i, workers[i].e.message);
                        failed = 1;
                }
        }
        elapsed = now_ns() - t0;

        printf("sqlite backend, %s, %llu thread(s), %llu update(s) of %llu group(s) per transaction, %.1f "
               "s: %llu updates = "
               "%.0f updates/s (%.0f lock+unlock cycles/s) in %.0f transactions/s, mean %.1f us, max %.1f "
               "ms "
               "per transaction\n",
               path, (unsigned long long)threads, (unsigned long long)(batch ?: 1),
               (unsigned long long)groups, elapsed / 1e9, (unsigned long long)total, total / (elapsed / 1e9),
               total / 2 / (elapsed / 1e9), rounds / (elapsed / 1e9),
               rounds ? elapsed / 1e3 * (double)threads / (double)rounds : 0.0, max_ns / 1e6);

        lock_backend_free(backend);
        free(workers);
        static const char *const suffixes[] = { "", "-wal", "-shm" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                snprintf(path, sizeof(path), "%s/lock.db%s", dir, suffixes[i]);
                unlink(path);
        }
        rmdir(dir);
        return failed;
}

/* etcd-bench.c — round trips per second of the etcd client adapter against one endpoint, for bench/lock.sh
 * (not a test). Each thread has its own Etcd client (one kept-alive connection) and its own key, and loops
 * for the duration doing one operation per round trip:
 *   txn  (default) etcd_txn_put_if(MOD == the revision it wrote last): what a lock or unlock costs
 *   put            etcd_put: the raw write rate through the gateway
 *   get            etcd_get
 * Usage: etcd-bench [--endpoint URL] [--seconds N] [--threads N] [--mode txn|put|get] [--value-bytes N]
 * Prints one line: mode, threads, operations, seconds, ops/s, mean latency. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd.h"
#include "macros.h"
#include "strutil.h"

typedef enum Mode { MODE_TXN, MODE_PUT, MODE_GET } Mode;

static const char *endpoint = "http://127.0.0.1:2379";
static double seconds = 5;
static unsigned n_threads = 1;
static Mode mode = MODE_TXN;
static size_t value_bytes = 64;
static atomic_bool stop;

typedef struct Worker {
        unsigned id;
        pthread_t thread;
        uint64_t ops;
        uint64_t failed_compares;
        int error;
        Error e;
} Worker;

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *p)
{
        Worker *w = p;
        EtcdOptions o = { .endpoints = &endpoint, .n_endpoints = 1 };
        Etcd *c = NULL;
        char key[64], *value;
        int64_t rev = 0;
        int r;

        value = malloc(value_bytes + 1);
        if (!value) {
                w->error = -ENOMEM;
                return NULL;
        }
        memset(value, 'v', value_bytes);
        snprintf(key, sizeof(key), "upkeep-bench/%u", w->id);
        r = etcd_new(&o, &c, &w->e);
        if (r >= 0)
                r = etcd_put(c, key, value, value_bytes, &rev, &w->e);
        while (r >= 0 && !atomic_load_explicit(&stop, memory_order_relaxed)) {
                if (mode == MODE_TXN) {
                        EtcdTxnResult t;
                        r = etcd_txn_put_if(c, key, ETCD_COMPARE_MOD, rev, value, value_bytes, &t, &w->e);
                        if (r < 0)
                                break;
                        if (!t.succeeded)
                                w->failed_compares++;
                        rev = t.kv.mod_revision;
                        etcd_txn_result_done(&t);
                } else if (mode == MODE_PUT)
                        r = etcd_put(c, key, value, value_bytes, NULL, &w->e);
                else {
                        EtcdKv kv;
                        r = etcd_get(c, key, &kv, &w->e);
                        if (r >= 0)
                                etcd_kv_done(&kv);
                }
                if (r >= 0)
                        w->ops++;
        }
        if (r < 0)
                w->error = r;
        if (c)
                (void)etcd_delete(c, key, &(Error){});
        etcd_free(c);
        free(value);
        return NULL;
}

static int parse_args(int argc, char **argv)
{
        static const struct option opts[] = {
                { "endpoint", required_argument, NULL, 'e' },    { "seconds", required_argument, NULL, 's' },
                { "threads", required_argument, NULL, 't' },     { "mode", required_argument, NULL, 'm' },
                { "value-bytes", required_argument, NULL, 'v' }, {},
        };
        uint64_t u;
        int ch;

        while ((ch = getopt_long(argc, argv, "e:s:t:m:v:", opts, NULL)) >= 0) {
                switch (ch) {
                case 'e':
                        endpoint = optarg;
                        break;
                case 's':
                        if (safe_atod(optarg, &seconds) < 0 || seconds <= 0 || seconds > 3600)
                                return -EINVAL;
                        break;
                case 't':
                        if (safe_atou64(optarg, &u) < 0 || u == 0 || u > 1024)
                                return -EINVAL;
                        n_threads = (unsigned)u;
                        break;
                case 'm':
                        if (streq(optarg, "txn"))
                                mode = MODE_TXN;
                        else if (streq(optarg, "put"))
                                mode = MODE_PUT;
                        else if (streq(optarg, "get"))
                                mode = MODE_GET;
                        else
                                return -EINVAL;
                        break;
                case 'v':
                        if (safe_atou64(optarg, &u) < 0 || u > ETCD_VALUE_MAX)
                                return -EINVAL;
                        value_bytes = (size_t)u;
                        break;
                default:
                        return -EINVAL;
                }
        }
        return optind == argc ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
        static const char *const mode_names[] = { "txn", "put", "get" };
        Worker *w;
        uint64_t total = 0, failed = 0;
        double t0, t;
        int status = 0;

        if (parse_args(argc, argv) < 0) {
                fprintf(stderr,
                        "usage: %s [--endpoint URL] [--seconds N] [--threads N] [--mode txn|put|get] "
                        "[--value-bytes N]\n",
                        argv[0]);
                return 2;
        }
        w = calloc(n_threads, sizeof(*w));
        if (!w)
                return 1;
        t0 = now_s();
        for (unsigned i = 0; i < n_threads; i++) {
                w[i].id = i;
                if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0) {
                        fprintf(stderr, "cannot start thread %u\n", i);
                        return 1;
                }
        }
        while (now_s() - t0 < seconds)
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        atomic_store(&stop, true);
        for (unsigned i = 0; i < n_threads; i++)
                pthread_join(w[i].thread, NULL);
        t = now_s() - t0;
        for (unsigned i = 0; i < n_threads; i++) {
                total += w[i].ops;
                failed += w[i].failed_compares;
                if (w[i].error < 0) {
                        fprintf(stderr, "thread %u: %s\n", i, w[i].e.message);
                        status = 1;
                }
        }
        printf("mode=%s threads=%u ops=%" PRIu64 " seconds=%.2f ops_per_sec=%.0f mean_latency_ms=%.3f "
               "failed_compares=%" PRIu64 "\n",
               mode_names[mode], n_threads, total, t, (double)total / t,
               total ? t * 1000.0 * n_threads / (double)total : 0.0, failed);
        free(w);
        return status;
}

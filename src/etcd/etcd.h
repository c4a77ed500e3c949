/* etcd.h — Upkeep's etcd3 client adapter over etcd's v3 JSON gateway (POST /v3/..., etcd ≥ 3.4), used by
 * upkeep-lock's etcd3 backend (Airlock's key layout), upkeep-graph's etcd report store, tests and tools.
 *
 * Endpoints: a list of base URLs ("http://127.0.0.1:2379", "https://etcd1:2379"). Each has its own
 * HttpClient, so its connection stays alive between requests (no reconnect, no DNS lookup per request).
 * A call starts at the endpoint that answered last; when the transport fails (refused, unreachable,
 * timed out, reset, TLS handshake) or the member reports itself unavailable (gRPC Unavailable: no leader,
 * request timed out), the same request goes to the next endpoint, each endpoint at most once per call, so
 * a call takes at most n_endpoints × transaction_timeout_ms.
 *
 * Retried writes: when an answer is lost (timeout, reset) the write may have been applied anyway. A
 * retried etcd_txn_put_if() then fails its compare and reports the current value, which is the caller's
 * own: callers that compare it with what they wrote can tell. etcd_put() and etcd_delete() are simply
 * applied again.
 *
 * Thread safety: every call takes the client's mutex for its whole duration, so one Etcd may be shared by
 * threads but serves one request at a time. Threads that need parallel requests use one Etcd each.
 *
 * Errors: 0 or a negative errno, with e naming the endpoint, the request and the field or etcd's message:
 * transport failures as etcd-http.h (-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -EPROTO), a malformed
 * answer -EPROTO, libcurl missing (etcd_new(), message naming the library) -ELIBACC, etcd's own errors as
 * mapped by etcd_json_parse_error() (etcd-json.h). Never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "etcd-json.h"

#define ETCD_MAX_ENDPOINTS 32
#define ETCD_ENDPOINT_MAX 512                  /* bytes in one endpoint URL */
#define ETCD_RESPONSE_MAX (4u * 1024u * 1024u) /* cap on an answer's body */
#define ETCD_DEFAULT_TIMEOUT_MS 3000u

typedef struct Etcd Etcd;

typedef struct EtcdOptions {
        const char *const *endpoints; /* base URLs, http:// or https://, no path (a trailing '/' is fine) */
        size_t n_endpoints;
        unsigned transaction_timeout_ms; /* per request and endpoint, connect included; 0 = 3000 */
        const char *ca_file;             /* PEM paths; NULL = system trust store / no client certificate */
        const char *client_cert;
        const char *client_key;
} EtcdOptions;

/* -EINVAL (with e) for no endpoints, too many, or a malformed one. */
int etcd_new(const EtcdOptions *o, Etcd **ret, Error *e);
Etcd *etcd_free(Etcd *c);

/* The key's value and revisions; -ENOENT when it does not exist. */
int etcd_get(Etcd *c, const char *key, EtcdKv *ret, Error *e);

/* One round trip: if the key's version (ETCD_COMPARE_VERSION) or mod_revision (ETCD_COMPARE_MOD) equals
 * expected — 0 meaning "absent" — write value. Either way 0 and *ret (see EtcdTxnResult): on success
 * ret->kv.mod_revision (= ret->revision) is the key's new mod_revision, on a failed compare ret->kv is the
 * key's current value and revisions, or ret->found = false when it is absent. Values above ETCD_VALUE_MAX:
 * -EMSGSIZE.
 */
int etcd_txn_put_if(Etcd *c, const char *key, EtcdCompare cmp, int64_t expected, const void *value,
                    size_t len, EtcdTxnResult *ret, Error *e);

/* One round trip over several keys (etcd-json.h, EtcdTxnOp): if every compare holds, every value is
 * written and *ret_succeeded = true; else *ret_succeeded = false and ret_current[i] (n of them, freed by
 * the caller with etcd_kv_done()) is ops[i].key's state (version 0 when absent). */
int etcd_txn(Etcd *c, const EtcdTxnOp *ops, size_t n, bool *ret_succeeded, EtcdKv *ret_current, Error *e);

/* The keys in [from, end), at most limit (1 to ETCD_RANGE_LIMIT_MAX), in key order; *ret_more when the
 * range holds more (ask again from the last key's successor). Free *ret with etcd_key_values_free(). */
int etcd_range(Etcd *c, const char *from, const char *end, int64_t limit, EtcdKeyValue **ret, size_t *ret_n,
               bool *ret_more, Error *e);

/* Unconditional write; ret_revision (optional): the key's new mod_revision. */
int etcd_put(Etcd *c, const char *key, const void *value, size_t len, int64_t *ret_revision, Error *e);
/* -ENOENT when the key did not exist. */
int etcd_delete(Etcd *c, const char *key, Error *e);
/* Health: the member answers and knows a leader (-EIO "no leader" otherwise). ret optional. */
int etcd_status(Etcd *c, EtcdStatus *ret, Error *e);

/* The endpoint the next call starts with (the one that answered last), for tests and metrics. */
size_t etcd_current_endpoint(Etcd *c);

/* etcd-json.h — the requests to and responses from etcd's v3 JSON gateway (grpc-gateway, etcd ≥ 3.4,
 * paths under /v3/), as pure functions: building request bodies into a Buf, and strictly parsing response
 * bodies. No I/O; the client adapter (src/etcd/etcd.h) sends and receives.
 *
 * Wire facts (etcd 3.4.23): keys and values are base64 strings; int64 fields (revisions, versions,
 * counts) are JSON strings of decimal digits; fields holding their zero value are omitted (a missing
 * "kvs" is an empty range, a missing "value" an empty value, a missing "succeeded" is false). Errors come
 * with a non-200 status and {"error": msg, "message": msg, "code": <gRPC status code>}.
 *
 * The parsers accept int64 fields as strings or as JSON integers, reject everything else (wrong types,
 * bad base64, negative revisions, a range answer for another key, more than one kv for a one-key range)
 * with -EPROTO and an Error naming the field, and cap values at ETCD_VALUE_MAX. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define ETCD_KEY_MAX 4096u
#define ETCD_VALUE_MAX (2u * 1024u * 1024u)

/* One key's state. */
typedef struct EtcdKv {
        char *value; /* malloc()ed, NUL-terminated (the NUL not counted); NULL when not returned */
        size_t value_len;
        int64_t create_revision;
        int64_t mod_revision;
        int64_t version; /* number of writes since creation; 0 = the key does not exist */
} EtcdKv;

void etcd_kv_done(EtcdKv *kv); /* frees the value, not kv */

/* What a conditional write compares the key's current state with. */
typedef enum EtcdCompare {
        ETCD_COMPARE_VERSION, /* version == expected (0 = the key is absent) */
        ETCD_COMPARE_MOD,     /* mod_revision == expected (0 = the key is absent) */
        ETCD_COMPARE_VALUE, /* value == the given bytes (an absent key never matches; etcd_json_txn only) */
} EtcdCompare;

typedef struct EtcdTxnResult {
        bool succeeded;   /* the compare held and the value was written */
        int64_t revision; /* the store's revision after the transaction */
        bool found;       /* kv describes an existing key */
        /* Failed: the key as it is now, value included (found = false when the key is absent).
         * Succeeded: found = true and only kv.mod_revision (= revision) is set; value is NULL (the caller
         * has it), version and create_revision are 0 (not sent: the new version is the old one + 1, so
         * expected + 1 after an ETCD_COMPARE_VERSION). */
        EtcdKv kv;
} EtcdTxnResult;

void etcd_txn_result_done(EtcdTxnResult *t);

typedef struct EtcdStatus {
        char version[32]; /* the server's version, e.g. "3.4.23" */
        uint64_t member_id;
        uint64_t leader; /* member id of the leader; 0 = no leader */
        int64_t revision;
        int64_t db_size;
} EtcdStatus;

/* Request bodies, appended to b (which the caller resets). -ENOBUFS past b's cap, -EINVAL for an empty
 * or oversized key, -EMSGSIZE for a value above ETCD_VALUE_MAX, -EINVAL for a negative expected value. */
int etcd_json_range_request(Buf *b, const char *key);
int etcd_json_put_request(Buf *b, const char *key, const void *value, size_t len);
int etcd_json_delete_request(Buf *b, const char *key);
/* One transaction: if (cmp(key) == expected) put(key, value) else range(key): a failed compare returns
 * the key's current state in the same round trip. */
int etcd_json_txn_put_if_request(Buf *b, const char *key, EtcdCompare cmp, int64_t expected,
                                 const void *value, size_t len);

/* Response parsers for a 200 answer. key: the key asked for (checked against the answer), or NULL to skip
 * the check. All return -EPROTO (-EFBIG for a value above ETCD_VALUE_MAX, -ENOMEM) with e naming the
 * field on a malformed answer. */
/* 0 and *ret when the key exists; -ENOENT when it does not (no error text). */
int etcd_json_parse_range(const char *body, size_t len, const char *key, EtcdKv *ret, Error *e);
int etcd_json_parse_txn(const char *body, size_t len, const char *key, EtcdTxnResult *ret, Error *e);
/* ret_revision: the store's revision after the write (the key's new mod_revision). */
int etcd_json_parse_put(const char *body, size_t len, int64_t *ret_revision, Error *e);
/* ret_deleted: how many keys were deleted (0 when none matched). */
int etcd_json_parse_delete(const char *body, size_t len, int64_t *ret_revision, int64_t *ret_deleted,
                           Error *e);
int etcd_json_parse_status(const char *body, size_t len, EtcdStatus *ret, Error *e);

/* A transaction over several keys: if every op's compare holds, put every op's value, else read every
 * op's key (its current state in the same round trip). */
typedef struct EtcdTxnOp {
        const char *key;
        EtcdCompare cmp;
        int64_t expected;           /* ETCD_COMPARE_VERSION, ETCD_COMPARE_MOD */
        const void *expected_value; /* ETCD_COMPARE_VALUE */
        size_t expected_len;
        const void *value; /* what is put on success */
        size_t len;
} EtcdTxnOp;

#define ETCD_TXN_OPS_MAX 8

/* -EINVAL for 0 or more than ETCD_TXN_OPS_MAX ops, or one op's bad key or compare; else as above. */
int etcd_json_txn_request(Buf *b, const EtcdTxnOp *ops, size_t n);
/* The answer to etcd_json_txn_request(ops, n): *ret_succeeded, and when the compares failed, ret[i]
 * (n of them, which the caller frees with etcd_kv_done()) the state of ops[i].key (version 0 and value
 * NULL when absent); untouched on success. */
int etcd_json_parse_txn_all(const char *body, size_t len, const EtcdTxnOp *ops, size_t n,
                            bool *ret_succeeded, EtcdKv *ret, Error *e);

/* A range of keys in [from, end) in key order, at most limit (1 to ETCD_RANGE_LIMIT_MAX) of them. */
#define ETCD_RANGE_LIMIT_MAX 4096
int etcd_json_range_from_request(Buf *b, const char *from, const char *end, int64_t limit);

typedef struct EtcdKeyValue {
        char *key; /* malloc()ed, NUL-terminated; keys holding a NUL byte are refused */
        EtcdKv kv;
} EtcdKeyValue;

void etcd_key_values_free(EtcdKeyValue *l, size_t n);
/* The answer to etcd_json_range_from_request(from, end, limit): the keys (each checked to be in
 * [from, end)) and *ret_more when etcd holds more in the range than were sent. At most limit items, or
 * -EPROTO. *ret is NULL when the range is empty. */
int etcd_json_parse_range_list(const char *body, size_t len, const char *from, const char *end,
                               int64_t limit, EtcdKeyValue **ret, size_t *ret_n, bool *ret_more, Error *e);

/* gRPC status codes that matter to callers. */
#define ETCD_GRPC_UNAVAILABLE 14

/* An answer with a status other than 200. Always returns a negative errno mapped from the gRPC code
 * (InvalidArgument → -EINVAL, NotFound → -ENOENT, AlreadyExists → -EEXIST, PermissionDenied → -EPERM,
 * Unauthenticated → -EACCES, ResourceExhausted → -ENOSPC, FailedPrecondition → -EBUSY, Aborted and
 * Canceled → -ECANCELED, OutOfRange → -ERANGE, Unimplemented → -EOPNOTSUPP, DeadlineExceeded →
 * -ETIMEDOUT, Unavailable, Internal and others → -EIO) with etcd's message in e; a body that is not
 * etcd's error object yields -EPROTO. *ret_code (optional) gets the gRPC code, or -1 when there was none. */
int etcd_json_parse_error(long http_status, const char *body, size_t len, int *ret_code, Error *e);

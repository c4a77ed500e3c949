/* fuzz-etcd.c — libFuzzer target: the parsers of etcd's v3 JSON gateway answers (etcd-json.h), upkeep-lock's
 * and upkeep-graph's report store's (several-key transactions, key ranges). Every input goes through each
 * parser, so the seed corpus holds answers exactly as etcd 3.4 sent them. */
#include <stdint.h>
#include <string.h>

#include "etcd-json.h"

/* The key the seed corpus was captured with. */
#define KEY "com.coreos.airlock/groups/default/v1/semaphore"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *body = (const char *)data;
        EtcdTxnResult t;
        EtcdStatus s;
        EtcdKv kv;
        int64_t rev, deleted;
        int code;
        Error e;

        for (int k = 0; k < 2; k++) {
                const char *key = k == 0 ? KEY : NULL;

                if (etcd_json_parse_range(body, size, key, &kv, &e) == 0) {
                        if (!kv.value || kv.value[kv.value_len] != 0 || kv.value_len > ETCD_VALUE_MAX ||
                            kv.version <= 0 || kv.mod_revision < kv.create_revision)
                                __builtin_trap();
                        etcd_kv_done(&kv);
                }
                if (etcd_json_parse_txn(body, size, key, &t, &e) == 0) {
                        if (t.succeeded &&
                            (!t.found || t.kv.value || t.kv.mod_revision != t.revision || t.kv.version != 0))
                                __builtin_trap();
                        if (!t.succeeded && t.found && !t.kv.value)
                                __builtin_trap();
                        etcd_txn_result_done(&t);
                }
        }
        {
                static const char *const keys[2] = { "upkeep-graph/reports/a", "upkeep-graph/counts/a" };
                EtcdTxnOp ops[2] = { { .key = keys[0] }, { .key = keys[1] } };
                EtcdKv state[2] = {};
                EtcdKeyValue *l = NULL;
                size_t n = 0;
                bool ok = false, more = false;

                if (etcd_json_parse_txn_all(body, size, ops, 2, &ok, state, &e) == 0 && !ok) {
                        etcd_kv_done(&state[0]);
                        etcd_kv_done(&state[1]);
                }
                if (etcd_json_parse_range_list(body, size, "upkeep-graph/", "upkeep-graph0", 16, &l, &n,
                                               &more, &e) == 0) {
                        if (n > 16)
                                __builtin_trap();
                        for (size_t i = 0; i < n; i++)
                                if (strcmp(l[i].key, "upkeep-graph/") < 0 ||
                                    strcmp(l[i].key, "upkeep-graph0") >= 0)
                                        __builtin_trap();
                        etcd_key_values_free(l, n);
                }
        }
        (void)etcd_json_parse_put(body, size, &rev, &e);
        (void)etcd_json_parse_delete(body, size, &rev, &deleted, &e);
        (void)etcd_json_parse_status(body, size, &s, &e);
        if (etcd_json_parse_error(400, body, size, &code, &e) >= 0)
                __builtin_trap();
        if (strlen(e.message) >= sizeof(e.message))
                __builtin_trap();
        return 0;
}

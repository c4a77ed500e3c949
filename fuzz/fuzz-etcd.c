/* fuzz-etcd.c — libFuzzer target: the parsers of etcd's v3 JSON gateway answers (etcd-json.h). Every input
 * goes through each parser, so the seed corpus holds answers exactly as etcd 3.4 sent them. */
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
        (void)etcd_json_parse_put(body, size, &rev, &e);
        (void)etcd_json_parse_delete(body, size, &rev, &deleted, &e);
        (void)etcd_json_parse_status(body, size, &s, &e);
        if (etcd_json_parse_error(400, body, size, &code, &e) >= 0)
                __builtin_trap();
        if (strlen(e.message) >= sizeof(e.message))
                __builtin_trap();
        return 0;
}

/* fuzz-rpmostree-status.c — libFuzzer target: `rpm-ostree status --json` as the node agent's rpm-ostree
 * backend reads it, checking the parsed roles' invariants. */
#include <stdint.h>
#include <string.h>

#include "os-status.h"

static void check(const OsStatus *s)
{
        const OsDeployment *end = s->deployments + s->n_deployments;
        size_t n_booted = 0, n_staged = 0, n_rollback = 0;

        if (s->n_deployments > RPMOSTREE_STATUS_MAX_DEPLOYMENTS || (s->n_deployments > 0 && !s->deployments))
                __builtin_trap();
        for (const OsDeployment *d = s->deployments; d < end; d++) {
                if (!os_checksum_valid(d->checksum) || d->serial < -1)
                        __builtin_trap();
                if (d->booted != (d == s->booted) || d->staged != (d == s->staged) ||
                    d->rollback != (d == s->rollback))
                        __builtin_trap();
                n_booted += d->booted;
                n_staged += d->staged;
                n_rollback += d->rollback;
                if ((int)d->booted + (int)d->staged + (int)d->rollback > 1)
                        __builtin_trap();
        }
        if (n_booted != (s->booted != NULL) || n_staged != (s->staged != NULL) ||
            n_rollback != (s->rollback != NULL))
                __builtin_trap();
        /* the rollback comes after the booted deployment, and only with one */
        if (s->rollback && (!s->booted || s->rollback <= s->booted))
                __builtin_trap();
        if (s->booted && !s->rollback)
                for (const OsDeployment *d = s->booted + 1; d < end; d++)
                        if (!d->staged)
                                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const keys[] = { NULL, "version", "coreos-assembler.basearch" };

        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                OsStatus s = { 0 };
                Error e;

                if (rpmostree_parse_status((const char *)data, size, keys[k], &s, &e) < 0) {
                        if (!memchr(e.message, 0, sizeof(e.message)))
                                __builtin_trap();
                        continue;
                }
                check(&s);
                os_status_done(&s);
        }
        return 0;
}

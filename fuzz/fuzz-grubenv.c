/* fuzz-grubenv.c — libFuzzer target: GRUB's environment block (grubenv.h), which anything with write access
 * to /boot may have edited. Checks the parser's promises: *ret untouched and a message on failure; on
 * success valid names, a block that formats back (unless the header grub-editenv adds no longer leaves
 * room) and parses again to the same variables, and edits that keep the size limit. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grubenv.h"

static void same_vars(const GrubEnv *a, const GrubEnv *b)
{
        if (a->n_vars != b->n_vars)
                __builtin_trap();
        for (size_t i = 0; i < a->n_vars; i++)
                if (!streq(a->vars[i].name, b->vars[i].name) || !streq(a->vars[i].value, b->vars[i].value))
                        __builtin_trap();
}

/* Formats env and parses it back: the same variables, or -ENOSPC exactly when they do not fit. */
static void roundtrip(const GrubEnv *env)
{
        char block[GRUBENV_SIZE];
        GrubEnv back;
        Error e;
        int r = grubenv_format(env, block, &e);

        if (r < 0) {
                if (r != -ENOSPC ||
                    grubenv_vars_size(env) + sizeof(GRUBENV_SIGNATURE GRUBENV_WARNING) - 1 <= GRUBENV_SIZE)
                        __builtin_trap();
                return;
        }
        if (grubenv_parse(block, sizeof block, &back, &e) < 0)
                __builtin_trap();
        same_vars(env, &back);
        grubenv_done(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        GrubEnv env = { .n_vars = 12345 };
        Error e = { .message = "" };
        bool ok;
        int n;

        if (grubenv_parse((const char *)data, size, &env, &e) < 0) {
                if (env.n_vars != 12345 || !e.message[0])
                        __builtin_trap();
                return 0;
        }
        for (size_t i = 0; i < env.n_vars; i++)
                if (!grubenv_name_valid(env.vars[i].name) ||
                    grubenv_get(&env, env.vars[i].name) != env.vars[i].value)
                        __builtin_trap();
        if (grubenv_get_boot_counter(&env, &n, &e) == 0 &&
            (n < GRUBENV_BOOT_COUNTER_MIN || n > GRUBENV_BOOT_COUNTER_MAX))
                __builtin_trap();
        (void)grubenv_get_boot_success(&env, &ok, &e);
        roundtrip(&env);
        /* Edits: greenboot's arming, then its success. */
        if (grubenv_set_boot_counter(&env, 3, &e) == 0 && grubenv_set_boot_success(&env, false, &e) == 0)
                roundtrip(&env);
        if (env.n_vars > 0 && grubenv_unset(&env, env.vars[0].name) != 1)
                __builtin_trap();
        roundtrip(&env);
        grubenv_done(&env);
        return 0;
}

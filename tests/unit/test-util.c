/* test-util.c — helpers shared by the unit tests (see test-util.h). */
#include "test-util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"

char *test_read_shared(const char *rel, size_t *ret_len)
{
        const char *dir = getenv("UPKEEP_SHARED");
        char path[1024];
        char *data = NULL;

        snprintf(path, sizeof(path), "%s/%s", dir ? dir : "../shared", rel);
        assert_int_equal(read_full_file(path, 64 << 20, &data, ret_len), 0);
        return data;
}

char *test_capture_stderr(void (*fn)(void))
{
        char path[] = "/tmp/upkeep-stderr-XXXXXX";
        int fd = mkstemp(path), saved = dup(2);
        char *data = NULL;
        size_t len;

        assert_true(fd >= 0 && saved >= 0);
        fflush(stderr);
        dup2(fd, 2);
        fn();
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        close(fd);
        assert_int_equal(read_full_file(path, 1 << 20, &data, &len), 0);
        unlink(path);
        return data;
}

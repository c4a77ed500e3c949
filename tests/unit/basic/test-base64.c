/* test-base64.c — unit tests for src/basic/base64.c: the RFC 4648 vectors, round trips of every length
 * and byte value, strict decoding (padding, alphabet, unused bits) and the caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "macros.h"

static void test_base64_vectors(void **state)
{
        static const struct {
                const char *plain, *encoded;
        } v[] = {
                { "", "" },
                { "f", "Zg==" },
                { "fo", "Zm8=" },
                { "foo", "Zm9v" },
                { "foob", "Zm9vYg==" },
                { "fooba", "Zm9vYmE=" },
                { "foobar", "Zm9vYmFy" },
        };

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                char *s = NULL;
                void *d = NULL;
                size_t n = 99;

                assert_int_equal(base64_encoded_len(strlen(v[i].plain)), strlen(v[i].encoded));
                assert_int_equal(base64_encode(v[i].plain, strlen(v[i].plain), 100, &s, &n), 0);
                assert_string_equal(s, v[i].encoded);
                assert_int_equal(n, strlen(v[i].encoded));
                free(s);

                assert_int_equal(base64_decode(v[i].encoded, strlen(v[i].encoded), 100, &d, &n), 0);
                assert_int_equal(n, strlen(v[i].plain));
                assert_memory_equal(d, v[i].plain, n);
                assert_int_equal(((char *)d)[n], 0);
                free(d);
        }
}

static void test_base64_roundtrip(void **state)
{
        unsigned char in[300], out[300];
        char enc[401];
        unsigned seed = 1;

        for (size_t n = 0; n <= sizeof(in); n++) {
                for (size_t i = 0; i < n; i++)
                        in[i] = (unsigned char)(rand_r(&seed) & 0xff);
                assert_int_equal(base64_encode_to(in, n, enc), base64_encoded_len(n));
                assert_int_equal(strlen(enc), base64_encoded_len(n));
                assert_int_equal(base64_decode_to(enc, strlen(enc), out), (ssize_t)n);
                assert_memory_equal(in, out, n);
        }
        /* Every byte value, NUL included. */
        for (size_t i = 0; i < 256; i++)
                in[i] = (unsigned char)i;
        base64_encode_to(in, 256, enc);
        assert_int_equal(base64_decode_to(enc, strlen(enc), out), 256);
        assert_memory_equal(in, out, 256);
}

static void test_base64_strict(void **state)
{
        static const char *const bad[] = {
                "Zg",       /* no padding */
                "Zg=",      /* short padding */
                "Z===",     /* too much padding */
                "Zh==",     /* non-zero unused bits */
                "Zm9=",     /* non-zero unused bits */
                "Zg==Zg==", /* padding in the middle */
                "Zm 9v",    /* space */
                "Zm9v\n",   /* newline */
                "Zm-v",     /* URL-safe alphabet */
                "Zm_v",     /* URL-safe alphabet */
                "====",     /* only padding */
                "Zm=v",     /* '=' not at the end */
                "Zm9v=",    /* length */
                "\xc3\xa9Zm",
        };
        unsigned char out[16];
        void *d = (void *)0x1;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(base64_decode_to(bad[i], strlen(bad[i]), out), -EINVAL);
                assert_int_equal(base64_decode(bad[i], strlen(bad[i]), 100, &d, NULL), -EINVAL);
                assert_ptr_equal(d, (void *)0x1); /* untouched */
        }
        /* An embedded NUL is a bad character too. */
        assert_int_equal(base64_decode_to("Zm\0v", 4, out), -EINVAL);
}

static void test_base64_caps(void **state)
{
        Buf b = BUF_INIT(8);
        char *s = NULL;
        void *d = NULL;
        size_t n;

        /* decode cap */
        assert_int_equal(base64_decode("Zm9vYmFy", 8, 5, &d, &n), -EFBIG);
        assert_int_equal(base64_decode("Zm9vYmE=", 8, 5, &d, &n), 0);
        assert_int_equal(n, 5);
        free(d);
        assert_int_equal(base64_decode("Zm9vYg==", 8, 3, &d, &n), -EFBIG);
        /* encode cap */
        assert_int_equal(base64_encode("foobar", 6, 7, &s, &n), -E2BIG);
        assert_int_equal(base64_encode("foobar", 6, 8, &s, &n), 0);
        free(s);
        /* Buf cap: failure leaves the buffer as it was */
        assert_int_equal(buf_puts(&b, "ab"), 0);
        assert_int_equal(base64_append(&b, "foobar", 6), -ENOBUFS);
        assert_int_equal(b.len, 2);
        assert_string_equal(b.data, "ab");
        assert_int_equal(base64_append(&b, "foo", 3), 0);
        assert_string_equal(b.data, "abZm9v");
        buf_free(&b);
        assert_int_equal(base64_encoded_len(SIZE_MAX), SIZE_MAX);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_base64_vectors),
                cmocka_unit_test(test_base64_roundtrip),
                cmocka_unit_test(test_base64_strict),
                cmocka_unit_test(test_base64_caps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

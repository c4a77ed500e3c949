/* test-blob.c — unit tests for src/basic/blob.c: reference counting and the first-wins attachment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "blob.h"

static void test_blob(void **state)
{
        Blob *b = blob_new("abc", 3);
        assert_non_null(b);
        assert_int_equal(b->len, 3);
        assert_string_equal(b->data, "abc");
        blob_ref(b);
        blob_unref(b);
        assert_null(blob_unref(b));
}

static int attachments_freed;

static void attachment_free(BlobAttachment *a)
{
        attachments_freed++;
        free(a);
}

static void test_blob_attachment(void **state)
{
        Blob *b = blob_new("abc", 3);
        BlobAttachment *a1 = calloc(1, sizeof(*a1)), *a2 = calloc(1, sizeof(*a2));

        a1->free = attachment_free;
        a2->free = attachment_free;
        assert_null(blob_attachment(b));
        assert_ptr_equal(blob_attach(b, a1), a1);
        /* The first attachment stays; the second caller keeps its own. */
        assert_ptr_equal(blob_attach(b, a2), a1);
        free(a2);
        blob_ref(b);
        blob_unref(b);
        assert_int_equal(attachments_freed, 0);
        blob_unref(b);
        assert_int_equal(attachments_freed, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_blob),
                cmocka_unit_test(test_blob_attachment),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* blob.c — reference-counted immutable byte strings (see blob.h). */
#include "blob.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

Blob *blob_new(const void *data, size_t n)
{
        Blob *b;

        if (n > (size_t)-1 - sizeof(Blob) - 1)
                return NULL;
        b = malloc(sizeof(Blob) + n + 1);
        if (!b)
                return NULL;
        b->refs = 1;
        b->attachment = NULL;
        b->len = n;
        if (n)
                memcpy(b->data, data, n);
        b->data[n] = 0;
        return b;
}

Blob *blob_ref(Blob *b)
{
        if (b)
                __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
        return b;
}

Blob *blob_unref(Blob *b)
{
        if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
                if (b->attachment)
                        b->attachment->free(b->attachment);
                free(b);
        }
        return NULL;
}

BlobAttachment *blob_attach(Blob *b, BlobAttachment *a)
{
        BlobAttachment *expected = NULL;
        if (__atomic_compare_exchange_n(&b->attachment, &expected, a, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
                return a;
        return expected;
}

/* strv.c — NULL-terminated string lists (see strv.h). */
#include "strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void strv_free(char **l)
{
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
}

size_t strv_length(char *const *l)
{
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

int strv_push_owned(char ***l, size_t *n, char *s)
{
        char **nl = realloc(*l, (*n + 2) * sizeof(char *));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        *l = nl;
        nl[(*n)++] = s;
        nl[*n] = NULL;
        return 0;
}

int strv_push(char ***l, size_t *n, const char *s)
{
        char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        return strv_push_owned(l, n, copy);
}

bool strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
}

/* dropin.c — collecting `*.toml` drop-in fragments with Zincati's override and masking rules (see
 * dropin.h). */
#include "dropin.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macros.h"
#include "strutil.h"

const char *const DROPIN_AGENT_DIRS[DROPIN_AGENT_N_DIRS] = {
        "/usr/lib/zincati/config.d", "/usr/lib/upkeep/agent.d", "/run/zincati/config.d",
        "/run/upkeep/agent.d",       "/etc/zincati/config.d",   "/etc/upkeep/agent.d",
};

typedef struct Entry {
        char *name;
        char *path; /* NULL when masked */
} Entry;

typedef struct Set {
        Entry *entries;
        size_t n;
} Set;

static void set_done(Set *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->entries[i].name);
                free(s->entries[i].path);
        }
        free(s->entries);
}

void dropin_files_free(DropinFile *files, size_t n)
{
        for (size_t i = 0; files && i < n; i++) {
                free(files[i].name);
                free(files[i].path);
                free(files[i].data);
        }
        free(files);
}

/* Records name from path (NULL path: masked), replacing an entry of the same name. */
static int set_put(Set *s, const char *name, char *path, Error *e)
{
        Entry *n;
        char *nm;

        for (size_t i = 0; i < s->n; i++)
                if (streq(s->entries[i].name, name)) {
                        free(s->entries[i].path);
                        s->entries[i].path = path;
                        return 0;
                }
        if (s->n >= DROPIN_MAX_NAMES) {
                free(path);
                return error_setf(e, -E2BIG, "more than %d configuration fragment names", DROPIN_MAX_NAMES);
        }
        n = realloc(s->entries, (s->n + 1) * sizeof(Entry));
        if (!n) {
                free(path);
                return -ENOMEM;
        }
        s->entries = n;
        nm = strdup(name);
        if (!nm) {
                free(path);
                return -ENOMEM;
        }
        s->entries[s->n++] = (Entry){ .name = nm, .path = path };
        return 0;
}

static bool masked(const char *path, const struct stat *lst)
{
        char target[16];
        ssize_t k;

        if (!S_ISLNK(lst->st_mode))
                return false;
        k = readlink(path, target, sizeof(target) - 1);
        if (k < 0)
                return false;
        target[k] = 0;
        return streq(target, "/dev/null");
}

static int scan_dir(Set *s, const char *dir, Error *e)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                return error_setf(e, negative_errno(), "%s: %m", dir);
        }
        for (;;) {
                struct stat lst, st;
                char *path;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = error_setf(e, negative_errno(), "%s: %m", dir);
                        break;
                }
                if (de->d_name[0] == '.' || !endswith(de->d_name, ".toml"))
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (lstat(path, &lst) < 0) {
                        r = error_setf(e, negative_errno(), "%s: %m", path);
                        free(path);
                        break;
                }
                if (masked(path, &lst)) {
                        free(path);
                        r = set_put(s, de->d_name, NULL, e);
                } else if (stat(path, &st) < 0) {
                        r = error_setf(e, negative_errno(), "%s: %m", path);
                        free(path);
                } else if (!S_ISREG(st.st_mode))
                        free(path); /* directories, sockets, ... named *.toml */
                else
                        r = set_put(s, de->d_name, path, e);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r;
}

static int cmp_entry(const void *a, const void *b)
{
        return strcmp(((const Entry *)a)->name, ((const Entry *)b)->name);
}

int dropin_collect(const char *root, const char *const *dirs, size_t n_dirs, DropinFile **ret, size_t *ret_n,
                   Error *e)
{
        _cleanup_(set_done) Set s = { 0 };
        DropinFile *files = NULL;
        size_t n = 0, live = 0;
        int r;

        if (n_dirs > DROPIN_MAX_DIRS)
                return error_setf(e, -E2BIG, "more than %d configuration directories", DROPIN_MAX_DIRS);
        if (!root)
                root = getenv("UPKEEP_AGENT_ROOT");
        if (!root)
                root = "";
        for (size_t i = 0; i < n_dirs; i++) {
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s%s", root, dirs[i]) < 0)
                        return -ENOMEM;
                r = scan_dir(&s, dir, e);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < s.n; i++)
                if (s.entries[i].path)
                        live++;
        if (live > DROPIN_MAX_FILES)
                return error_setf(e, -E2BIG, "more than %d configuration fragments", DROPIN_MAX_FILES);
        if (s.n > 0)
                qsort(s.entries, s.n, sizeof(Entry), cmp_entry);
        if (live > 0) {
                files = calloc(live, sizeof(DropinFile));
                if (!files)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < s.n; i++) {
                Entry *en = &s.entries[i];
                DropinFile *f;
                if (!en->path)
                        continue;
                f = &files[n];
                r = read_full_file(en->path, DROPIN_MAX_FILE_BYTES, &f->data, &f->len);
                if (r < 0) {
                        if (r == -EFBIG)
                                error_setf(e, r, "%s: larger than %d bytes", en->path,
                                           DROPIN_MAX_FILE_BYTES);
                        else if (r != -ENOMEM)
                                error_setf(e, r, "%s: %m", en->path);
                        dropin_files_free(files, n);
                        return r;
                }
                f->name = TAKE_PTR(en->name);
                f->path = TAKE_PTR(en->path);
                n++;
        }
        *ret = files;
        *ret_n = n;
        return 0;
}

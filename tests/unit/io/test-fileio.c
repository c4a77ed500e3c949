/* test-fileio.c — unit tests for src/io/fileio.c: whole-file reads with a size cap, from a path and
 * from a descriptor, atomic writes, the permission check of files holding secrets and token files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

static void test_read_full_file(void **state)
{
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path);
        char *d;
        size_t n;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "hello", 5), 5);
        close(fd);
        assert_int_equal(read_full_file(path, 5, &d, &n), 0);
        assert_int_equal(n, 5);
        assert_string_equal(d, "hello");
        free(d);
        d = NULL;
        assert_int_equal(read_full_file(path, 4, &d, &n), -EFBIG);
        assert_null(d);
        unlink(path);
        assert_int_equal(read_full_file(path, 4, &d, &n), -ENOENT);
}

static void test_read_full_fd(void **state)
{
        static char big[100000];
        int p[2];
        char *d = NULL;
        size_t n = 0;

        /* A pipe, read to EOF; ret_len may be NULL. */
        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], "abc", 3), 3);
        close(p[1]);
        assert_int_equal(read_full_fd(p[0], 3, &d, NULL), 0);
        assert_string_equal(d, "abc");
        free(d);
        close(p[0]);

        /* An empty input is an empty string, not NULL. */
        assert_int_equal(pipe(p), 0);
        close(p[1]);
        d = NULL;
        assert_int_equal(read_full_fd(p[0], 10, &d, &n), 0);
        assert_non_null(d);
        assert_int_equal(n, 0);
        assert_string_equal(d, "");
        free(d);
        close(p[0]);

        /* More than one read()'s worth, one byte over the cap: -EFBIG, nothing returned. */
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        memset(big, 'y', sizeof(big));
        assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        d = NULL;
        assert_int_equal(read_full_fd(fd, sizeof(big) - 1, &d, &n), -EFBIG);
        assert_null(d);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(read_full_fd(fd, sizeof(big), &d, &n), 0);
        assert_int_equal(n, sizeof(big));
        assert_memory_equal(d, big, sizeof(big));
        free(d);
        close(fd);

        /* A bad descriptor. */
        assert_int_equal(read_full_fd(-1, 10, &d, &n), -EBADF);
}

static size_t count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        size_t n = 0;

        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.');
        closedir(d);
        return n;
}

/* The new contents replace the file whole, with the mode asked for or the old one, and no temporary file
 * is left; a failed write leaves the old file as it was. */
static void test_write_file_atomic(void **state)
{
        char dir[] = "/tmp/upkeep-fileio-XXXXXX", path[512], sub[512];
        char *data = NULL;
        struct stat st;
        size_t len;
        Error e = {};

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/f", dir);
        assert_int_equal(write_file_atomic(path, "one", 3, WRITE_FILE_KEEP_MODE, &e), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644); /* new file: 0644 */
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(write_file_atomic(path, "two!", 4, WRITE_FILE_KEEP_MODE, &e), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600); /* kept */
        assert_int_equal(read_full_file(path, 64, &data, &len), 0);
        assert_int_equal(len, 4);
        assert_memory_equal(data, "two!", 4);
        free(data);
        assert_int_equal(write_file_atomic(path, "3", 1, 0640, &e), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(count_entries(dir), 1);

        /* a directory in the way: rename fails, the temporary file is removed, e names the path */
        snprintf(sub, sizeof(sub), "%s/d", dir);
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_true(write_file_atomic(sub, "x", 1, 0644, &e) < 0);
        assert_non_null(strstr(e.message, sub));
        assert_int_equal(count_entries(dir), 2);
        /* a missing directory */
        snprintf(sub, sizeof(sub), "%s/missing/f", dir);
        assert_int_equal(write_file_atomic(sub, "x", 1, 0644, &e), -ENOENT);
        assert_non_null(strstr(e.message, "creating a temporary file"));
        assert_int_equal(read_full_file(path, 64, &data, &len), 0);
        assert_memory_equal(data, "3", 1);
        free(data);

        snprintf(sub, sizeof(sub), "%s/d", dir);
        assert_int_equal(rmdir(sub), 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void assert_has(const char *s, const char *part)
{
        if (!strstr(s, part))
                fail_msg("'%s' does not contain '%s'", s, part);
}

/* secret_stat_check() for a file of this mode, owner and group, seen by uid 1000 of group 1000. */
static int check_mode(mode_t mode, uid_t owner, gid_t group, Error *e)
{
        struct stat st = { .st_mode = S_IFREG | mode, .st_uid = owner, .st_gid = group };

        memset(e, 0, sizeof *e);
        return secret_stat_check(&st, 1000, 1000, "/etc/upkeep/lock.toml", e);
}

static void test_secret_stat_check(void **state)
{
        Error e;

        /* fine: only the owner (root or us) reads it, or our group / root's group reads it */
        assert_int_equal(check_mode(0600, 0, 0, &e), 0);
        assert_int_equal(check_mode(0600, 1000, 1000, &e), 0);
        assert_int_equal(check_mode(0400, 1000, 5, &e), 0);
        assert_int_equal(check_mode(0640, 0, 1000, &e), 0); /* root:service 0640, as docs/lock.md says */
        assert_int_equal(check_mode(0660, 0, 1000, &e), 0);
        assert_int_equal(check_mode(0640, 0, 0, &e), 0);
        assert_string_equal(e.message, "");
        /* a warning: readable by others, or by a stranger group */
        assert_int_equal(check_mode(0644, 0, 0, &e), 1);
        assert_string_equal(e.message,
                            "/etc/upkeep/lock.toml holds a secret and is readable by others (mode "
                            "0644); chmod o-rwx /etc/upkeep/lock.toml");
        assert_int_equal(check_mode(0604, 1000, 1000, &e), 1);
        assert_has(e.message, "(mode 0604)");
        assert_int_equal(check_mode(0640, 0, 4, &e), 1);
        assert_has(e.message, "readable by group 4 (mode 0640)");
        assert_has(e.message, "chmod g-rwx /etc/upkeep/lock.toml");
        /* refused: others may write, a stranger owns it, a stranger group may write */
        assert_int_equal(check_mode(0666, 0, 0, &e), -EPERM);
        assert_has(e.message, "/etc/upkeep/lock.toml is writable by others (mode 0666)");
        assert_has(e.message, "chmod o-w");
        assert_int_equal(check_mode(0602, 1000, 1000, &e), -EPERM);
        assert_int_equal(check_mode(0600, 1001, 1000, &e), -EPERM);
        assert_has(e.message, "owned by uid 1001, neither root nor this process's user (uid 1000)");
        assert_int_equal(check_mode(0620, 0, 4, &e), -EPERM);
        assert_has(e.message, "writable by group 4 (mode 0620)");
        /* the first problem wins: refusing beats warning */
        assert_int_equal(check_mode(0646, 0, 0, &e), -EPERM);
        assert_has(e.message, "writable by others");
}

static void test_secret_file_check(void **state)
{
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path);
        Error e = {}, w = {};
        char *d = NULL;
        size_t n;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "token\n", 6), 6);
        assert_int_equal(fchmod(fd, 0600), 0);
        assert_int_equal(secret_file_check(fd, path, &e), 0);
        assert_int_equal(read_secret_file(path, 64, &d, &n, &w, &e), 0);
        assert_int_equal(n, 6);
        assert_string_equal(d, "token\n");
        free(d);
        d = NULL;

        assert_int_equal(fchmod(fd, 0644), 0);
        assert_int_equal(secret_file_check(fd, path, &e), 1);
        assert_has(e.message, "readable by others (mode 0644)");
        assert_int_equal(read_secret_file(path, 64, &d, &n, &w, &e), 1);
        assert_has(w.message, path);
        assert_has(w.message, "readable by others (mode 0644)");
        assert_string_equal(d, "token\n");
        free(d);
        d = NULL;
        assert_int_equal(read_secret_file(path, 64, &d, NULL, NULL, NULL), 1); /* warn and e may be NULL */
        free(d);
        d = NULL;

        assert_int_equal(fchmod(fd, 0666), 0);
        memset(&w, 0, sizeof w);
        assert_int_equal(read_secret_file(path, 64, &d, &n, &w, &e), -EPERM);
        assert_null(d);
        assert_has(e.message, path);
        assert_has(e.message, "writable by others (mode 0666)");
        assert_string_equal(w.message, "");

        if (geteuid() == 0) { /* a file another user owns */
                assert_int_equal(fchmod(fd, 0600), 0);
                assert_int_equal(fchown(fd, 4242, 0), 0);
                assert_int_equal(secret_file_check(fd, path, &e), -EPERM);
                assert_has(e.message, "owned by uid 4242");
                assert_int_equal(fchown(fd, 0, 0), 0);
        }
        assert_int_equal(fchmod(fd, 0600), 0);
        assert_int_equal(read_secret_file(path, 3, &d, &n, &w, &e), -EFBIG);
        assert_has(e.message, "larger than 3 bytes");
        assert_null(d);
        close(fd);
        unlink(path);
        assert_int_equal(read_secret_file(path, 64, &d, &n, &w, &e), -ENOENT);
        assert_has(e.message, path);
}

/* Writes text (n bytes, NULs allowed) into path with mode. */
static void put(const char *path, const char *text, size_t n, mode_t mode)
{
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, mode), 0);
}

static void test_read_token_file(void **state)
{
        static const struct {
                const char *text;
                size_t n;
                const char *token; /* NULL: -EINVAL */
        } cases[] = {
                { "tok3n\n", 6, "tok3n" },
                { "tok3n", 5, "tok3n" },
                { "tok3n\r\n", 7, "tok3n" },
                { "tok3n \t\n\n \n", 11, "tok3n" },
                { "", 0, NULL },
                { "\n\n", 2, NULL },
                { " tok3n\n", 7, NULL },
                { "tok 3n\n", 7, NULL },
                { "tok\t3n\n", 7, NULL },
                { "two\nlines\n", 10, NULL },
                { "two\r\nlines", 10, NULL },
                { "tok\0en\n", 7, NULL },
                { "tok3n\n\0", 7, NULL },
        };
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path);
        Error e = {}, w = {};
        char *t = NULL;

        assert_true(fd >= 0);
        close(fd);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                put(path, cases[i].text, cases[i].n, 0600);
                memset(&e, 0, sizeof e);
                if (!cases[i].token) {
                        assert_int_equal(read_token_file(path, 64, &t, &w, &e), -EINVAL);
                        assert_null(t);
                        assert_has(e.message, path);
                        assert_has(e.message, "the token must be one line of text");
                        continue;
                }
                assert_int_equal(read_token_file(path, 64, &t, &w, &e), 0);
                assert_string_equal(t, cases[i].token);
                free(t);
                t = NULL;
        }
        assert_string_equal(w.message, "");

        /* the secret file's checks: a warning, a refusal, the size cap */
        put(path, "tok3n\n", 6, 0644);
        assert_int_equal(read_token_file(path, 64, &t, &w, &e), 1);
        assert_has(w.message, "readable by others (mode 0644)");
        assert_string_equal(t, "tok3n");
        free(t);
        t = NULL;
        assert_int_equal(read_token_file(path, 64, &t, NULL, NULL), 1); /* warn and e may be NULL */
        free(t);
        t = NULL;
        put(path, "tok3n\n", 6, 0666);
        assert_int_equal(read_token_file(path, 64, &t, &w, &e), -EPERM);
        assert_null(t);
        put(path, "tok3n\n", 6, 0600);
        assert_int_equal(read_token_file(path, 5, &t, &w, &e), -EFBIG);
        assert_null(t);
        unlink(path);
        assert_int_equal(read_token_file(path, 64, &t, &w, &e), -ENOENT);
        assert_has(e.message, path);
        assert_null(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_full_file),    cmocka_unit_test(test_read_full_fd),
                cmocka_unit_test(test_write_file_atomic), cmocka_unit_test(test_secret_stat_check),
                cmocka_unit_test(test_secret_file_check), cmocka_unit_test(test_read_token_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

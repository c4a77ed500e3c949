/* test-grubenv.c — unit tests for GRUB's environment block (src/agent/grubenv.c, grubenv-file.c): parsing
 * what grub-editenv writes, every rejection with its message, editing and the size limit, greenboot's
 * variables, atomic replacement of the file, and cross-checks against grub-editenv itself when installed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "grubenv-file.h"
#include "grubenv.h"

#define HEADER GRUBENV_SIGNATURE GRUBENV_WARNING
#define GRUB_EDITENV "/usr/bin/grub-editenv"

/* text padded with '#' to a whole block. */
static void block_of(const char *text, char out[static GRUBENV_SIZE])
{
        size_t n = strlen(text);

        assert_true(n <= GRUBENV_SIZE);
        memcpy(out, text, n);
        memset(out + n, '#', GRUBENV_SIZE - n);
}

static GrubEnv parse_ok(const char *text)
{
        char block[GRUBENV_SIZE];
        GrubEnv env;
        Error e = {};

        block_of(text, block);
        if (grubenv_parse(block, sizeof block, &env, &e) < 0)
                fail_msg("parse failed: %s", e.message);
        return env;
}

static void parse_fails(const char *text, size_t len, const char *message)
{
        char block[GRUBENV_SIZE + 1];
        GrubEnv env = { .n_vars = 777 };
        Error e = {};

        assert_true(len <= sizeof block);
        block_of(text, block);
        assert_int_equal(grubenv_parse(block, len, &env, &e), -EINVAL);
        assert_string_equal(e.message, message);
        assert_int_equal(env.n_vars, 777);
}

static void test_parse_empty(void **state)
{
        GrubEnv env = parse_ok(HEADER);

        assert_int_equal(env.n_vars, 0);
        assert_null(grubenv_get(&env, "boot_counter"));
        grubenv_done(&env);
}

static void test_parse_values(void **state)
{
        GrubEnv env = parse_ok(HEADER "a=x\\\\y\nb=l1\\\nl2\nc=\nd=e=f\n# a comment\nsaved_entry=0\n");

        assert_int_equal(env.n_vars, 5);
        assert_string_equal(grubenv_get(&env, "a"), "x\\y");
        assert_string_equal(grubenv_get(&env, "b"), "l1\nl2");
        assert_string_equal(grubenv_get(&env, "c"), "");
        assert_string_equal(grubenv_get(&env, "d"), "e=f");
        assert_string_equal(grubenv_get(&env, "saved_entry"), "0");
        assert_string_equal(env.vars[4].name, "saved_entry");
        grubenv_done(&env);
        grubenv_done(&env); /* idempotent */
}

static void test_parse_errors(void **state)
{
        char nul[] = HEADER "a=b\n";

        parse_fails(HEADER, 1023, "the block is 1023 bytes, expected 1024");
        parse_fails(HEADER, 1025, "the block is 1025 bytes, expected 1024");
        parse_fails(HEADER, 0, "the block is 0 bytes, expected 1024");
        parse_fails("# GRUB Environment Blocks\n", GRUBENV_SIZE,
                    "missing the signature \"# GRUB Environment Block\"");
        parse_fails(HEADER "a-b=1\n", GRUBENV_SIZE, "offset 94: invalid variable name 'a-b'");
        parse_fails(HEADER "=1\n", GRUBENV_SIZE, "offset 94: invalid variable name ''");
        parse_fails(HEADER "a=1\na=2\n", GRUBENV_SIZE, "offset 98: variable a set twice");
        parse_fails(HEADER "a=\\n\n", GRUBENV_SIZE, "offset 96: variable a: invalid escape '\\n'");
        parse_fails(HEADER "justtext\na=1\n", GRUBENV_SIZE,
                    "offset 94: a line that is neither a comment nor name=value");
        parse_fails(HEADER "a=1\n#padding#x##", GRUBENV_SIZE,
                    "offset 99: the padding holds a character other than '#'");
        {
                char block[GRUBENV_SIZE];
                GrubEnv env;
                Error e = {};

                block_of(nul, block);
                block[sizeof(HEADER) + 1] = '\0';
                assert_int_equal(grubenv_parse(block, sizeof block, &env, &e), -EINVAL);
                assert_string_equal(e.message, "offset 96: a NUL byte");
        }
}

static void test_parse_unterminated(void **state)
{
        char block[GRUBENV_SIZE];
        GrubEnv env;
        Error e = {};

        memcpy(block, HEADER "a=", sizeof(HEADER) + 1);
        memset(block + sizeof(HEADER) + 1, 'v', GRUBENV_SIZE - sizeof(HEADER) - 1);
        assert_int_equal(grubenv_parse(block, sizeof block, &env, &e), -EINVAL);
        assert_string_equal(e.message, "variable a: the value runs to the end of the block");
        block[GRUBENV_SIZE - 1] = '\\';
        assert_int_equal(grubenv_parse(block, sizeof block, &env, &e), -EINVAL);
        assert_string_equal(e.message, "variable a: the value runs to the end of the block");
}

static void test_name_valid(void **state)
{
        char long_name[66];

        assert_true(grubenv_name_valid("boot_counter"));
        assert_true(grubenv_name_valid("A_OK9"));
        assert_false(grubenv_name_valid(""));
        assert_false(grubenv_name_valid("a b"));
        assert_false(grubenv_name_valid("a=b"));
        memset(long_name, 'n', 65);
        long_name[65] = '\0';
        assert_false(grubenv_name_valid(long_name));
        long_name[64] = '\0';
        assert_true(grubenv_name_valid(long_name));
}

static void test_set_unset_format(void **state)
{
        GrubEnv env = GRUBENV_INIT;
        char block[GRUBENV_SIZE], want[GRUBENV_SIZE];
        Error e = {};

        assert_int_equal(grubenv_set(&env, "a", "1", &e), 0);
        assert_int_equal(grubenv_set(&env, "b", "x\\y\nz", &e), 0);
        assert_int_equal(grubenv_set(&env, "c", "3", &e), 0);
        assert_int_equal(grubenv_set(&env, "a", "one", &e), 0); /* in place */
        assert_int_equal(grubenv_unset(&env, "c"), 1);
        assert_int_equal(grubenv_unset(&env, "c"), 0);
        assert_int_equal(grubenv_set(&env, "bad name", "1", &e), -EINVAL);
        assert_string_equal(e.message, "invalid variable name 'bad name'");
        assert_int_equal(grubenv_vars_size(&env), strlen("a=one\nb=x\\\\y\\\nz\n"));
        assert_int_equal(grubenv_format(&env, block, &e), 0);
        block_of(HEADER "a=one\nb=x\\\\y\\\nz\n", want);
        assert_memory_equal(block, want, GRUBENV_SIZE);
        grubenv_done(&env);

        env = parse_ok(HEADER "x=1\n# dropped\ny=2\n");
        assert_int_equal(grubenv_format(&env, block, &e), 0);
        block_of(HEADER "x=1\ny=2\n", want);
        assert_memory_equal(block, want, GRUBENV_SIZE);
        grubenv_done(&env);
}

static void test_size_limit(void **state)
{
        GrubEnv env = GRUBENV_INIT;
        char value[GRUBENV_SIZE], block[GRUBENV_SIZE];
        GrubEnvVar extra[1];
        Error e = {};

        /* 94 header bytes + "x=" + 927 + "\n" fill the block exactly, as grub-editenv allows. */
        memset(value, 'a', 927);
        value[927] = '\0';
        assert_int_equal(grubenv_set(&env, "x", value, &e), 0);
        assert_int_equal(grubenv_format(&env, block, &e), 0);
        assert_int_equal(block[GRUBENV_SIZE - 1], '\n');
        grubenv_done(&env);
        env = (GrubEnv){};
        {
                GrubEnv back;
                assert_int_equal(grubenv_parse(block, sizeof block, &back, &e), 0);
                assert_string_equal(grubenv_get(&back, "x"), value);
                assert_int_equal(grubenv_set(&back, "y", "1", &e), -ENOSPC);
                assert_string_equal(e.message, "setting y: environment block too small");
                assert_int_equal(back.n_vars, 1);
                grubenv_done(&back);
        }
        value[927] = 'a';
        value[928] = '\0';
        assert_int_equal(grubenv_set(&env, "x", value, &e), -ENOSPC);
        assert_int_equal(env.n_vars, 0);
        /* An escape counts twice. */
        value[927] = '\n';
        value[928] = '\0';
        assert_int_equal(grubenv_set(&env, "x", value + 1, &e), -ENOSPC);

        /* format() refuses what set() would have refused. */
        extra[0] = (GrubEnvVar){ .name = (char *)"x", .value = value };
        env = (GrubEnv){ .vars = extra, .n_vars = 1 };
        memset(block, 0, sizeof block);
        assert_int_equal(grubenv_format(&env, block, &e), -ENOSPC);
        assert_string_equal(e.message, "the variables take 932 bytes, 930 fit: environment block too small");
        assert_int_equal(block[0], 0);
}

static void test_greenboot_vars(void **state)
{
        GrubEnv env = parse_ok(HEADER "boot_counter=-1\nboot_success=0\n");
        Error e = {};
        bool ok = true;
        int n = 99;

        assert_int_equal(grubenv_get_boot_counter(&env, &n, &e), 0);
        assert_int_equal(n, -1);
        assert_int_equal(grubenv_get_boot_success(&env, &ok, &e), 0);
        assert_false(ok);
        assert_int_equal(grubenv_set_boot_counter(&env, 3, &e), 0);
        assert_int_equal(grubenv_set_boot_success(&env, true, &e), 0);
        assert_string_equal(grubenv_get(&env, "boot_counter"), "3");
        assert_string_equal(grubenv_get(&env, "boot_success"), "1");
        assert_int_equal(grubenv_get_boot_success(&env, &ok, &e), 0);
        assert_true(ok);
        assert_int_equal(grubenv_unset(&env, GRUBENV_BOOT_COUNTER), 1);
        n = 99;
        assert_int_equal(grubenv_get_boot_counter(&env, &n, &e), -ENOENT);
        assert_int_equal(n, 99);
        grubenv_done(&env);

        env = parse_ok(HEADER "boot_counter=1001\nboot_success=yes\n");
        assert_int_equal(grubenv_get_boot_counter(&env, &n, &e), -EINVAL);
        assert_string_equal(e.message, "boot_counter is \"1001\", expected an integer in [-1, 1000]");
        assert_int_equal(grubenv_get_boot_success(&env, &ok, &e), -EINVAL);
        assert_string_equal(e.message, "boot_success is \"yes\", expected 0 or 1");
        assert_int_equal(grubenv_set(&env, "boot_counter", "-2", &e), 0);
        assert_int_equal(grubenv_get_boot_counter(&env, &n, &e), -EINVAL);
        assert_int_equal(grubenv_set(&env, "boot_counter", " 1", &e), 0);
        assert_int_equal(grubenv_get_boot_counter(&env, &n, &e), -EINVAL);
        assert_int_equal(grubenv_unset(&env, GRUBENV_BOOT_SUCCESS), 1);
        assert_int_equal(grubenv_get_boot_success(&env, &ok, &e), -ENOENT);
        assert_int_equal(n, 99);
        grubenv_done(&env);
}

/* A fresh temporary directory; the path is written to dir. */
static void make_dir(char dir[static PATH_MAX])
{
        snprintf(dir, PATH_MAX, "%s/test-grubenv.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* How many entries dir holds besides . and .. */
static int count_entries(const char *dir)
{
        char cmd[PATH_MAX + 64], out[32] = "";
        FILE *f;

        snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
        f = popen(cmd, "r");
        assert_non_null(f);
        assert_non_null(fgets(out, sizeof out, f));
        pclose(f);
        return atoi(out);
}

static void test_file_roundtrip(void **state)
{
        char dir[PATH_MAX], path[PATH_MAX + 16], link_path[PATH_MAX + 16];
        GrubEnv env = GRUBENV_INIT, back;
        struct stat st;
        Error e = {};

        make_dir(dir);
        snprintf(path, sizeof path, "%s/grubenv", dir);
        assert_int_equal(grubenv_load(path, &back, &e), -ENOENT);
        assert_int_equal(grubenv_set_boot_counter(&env, 3, &e), 0);
        assert_int_equal(grubenv_set_boot_success(&env, false, &e), 0);
        assert_int_equal(grubenv_save(path, &env, &e), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, GRUBENV_SIZE);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(count_entries(dir), 1);
        assert_int_equal(grubenv_load(path, &back, &e), 0);
        assert_string_equal(grubenv_get(&back, "boot_counter"), "3");
        grubenv_done(&back);

        /* The mode is kept; a symbolic link is followed, not replaced. */
        assert_int_equal(chmod(path, 0600), 0);
        snprintf(link_path, sizeof link_path, "%s/link", dir);
        assert_int_equal(symlink("grubenv", link_path), 0);
        assert_int_equal(grubenv_set_boot_counter(&env, 2, &e), 0);
        assert_int_equal(grubenv_save(link_path, &env, &e), 0);
        assert_int_equal(lstat(link_path, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(grubenv_load(path, &back, &e), 0);
        assert_string_equal(grubenv_get(&back, "boot_counter"), "2");
        assert_int_equal(count_entries(dir), 2);
        grubenv_done(&back);
        grubenv_done(&env);
        remove_dir(dir);
}

static void test_file_errors(void **state)
{
        char dir[PATH_MAX], path[PATH_MAX + 16], expect[3 * PATH_MAX], sub[PATH_MAX + 16];
        GrubEnv env = GRUBENV_INIT, back;
        _cleanup_free_ char *before = NULL, *after = NULL;
        size_t len;
        Error e = {};
        int fd;

        make_dir(dir);
        snprintf(path, sizeof path, "%s/grubenv", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "# GRUB Environment Block\n", 25), 25);
        close(fd);
        assert_int_equal(grubenv_load(path, &back, &e), -EINVAL);
        snprintf(expect, sizeof expect, "%s: the block is 25 bytes, expected 1024", path);
        assert_string_equal(e.message, expect);

        /* Too large for the block: nothing written. */
        assert_int_equal(read_full_file(path, 4096, &before, &len), 0);
        assert_int_equal(grubenv_set(&env, "a", "1", &e), 0);
        free(env.vars[0].value);
        env.vars[0].value = calloc(1, 1000);
        memset(env.vars[0].value, 'v', 999);
        assert_int_equal(grubenv_save(path, &env, &e), -ENOSPC);
        snprintf(expect, sizeof expect,
                 "%s: the variables take 1002 bytes, 930 fit: environment block too small", path);
        assert_string_equal(e.message, expect);
        assert_int_equal(read_full_file(path, 4096, &after, &len), 0);
        assert_string_equal(before, after);
        assert_int_equal(count_entries(dir), 1);
        grubenv_done(&env);

        /* The rename fails (the target is a directory): the temporary file is removed. */
        snprintf(sub, sizeof sub, "%s/sub", dir);
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(grubenv_save(sub, &env, &e), -EISDIR);
        snprintf(expect, sizeof expect, "writing %s: Is a directory", sub);
        assert_string_equal(e.message, expect);
        assert_int_equal(count_entries(dir), 2);
        assert_int_equal(count_entries(sub), 0);

        /* A directory that does not exist. */
        snprintf(sub, sizeof sub, "%s/none/grubenv", dir);
        assert_int_equal(grubenv_save(sub, &env, &e), -ENOENT);
        snprintf(expect, sizeof expect,
                 "writing %s/none/grubenv: creating a temporary file in %s/none: No such "
                 "file or directory",
                 dir, dir);
        assert_string_equal(e.message, expect);

        /* A directory we may not write to (only meaningful when not root). */
        if (geteuid() != 0) {
                assert_int_equal(chmod(dir, 0555), 0);
                assert_int_equal(grubenv_save(path, &env, &e), -EACCES);
                assert_int_equal(chmod(dir, 0755), 0);
                free(after);
                after = NULL;
                assert_int_equal(read_full_file(path, 4096, &after, &len), 0);
                assert_string_equal(before, after);
                assert_int_equal(count_entries(dir), 2);
        }
        remove_dir(dir);
}

static int run(const char *fmt, ...) _printf_(1, 2);
static int run(const char *fmt, ...)
{
        char cmd[4 * PATH_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        return system(cmd);
}

/* grub-editenv writes, we read; we write what grub-editenv would have written, byte for byte. */
static void test_grub_editenv_writes(void **state)
{
        char dir[PATH_MAX], path[PATH_MAX + 16], block[GRUBENV_SIZE];
        _cleanup_free_ char *theirs = NULL;
        GrubEnv env;
        size_t len;
        Error e = {};

        if (access(GRUB_EDITENV, X_OK) < 0)
                skip();
        make_dir(dir);
        snprintf(path, sizeof path, "%s/grubenv", dir);
        assert_int_equal(run(GRUB_EDITENV " %s create", path), 0);
        assert_int_equal(run(GRUB_EDITENV " %s set boot_counter=3 boot_success=0 'a=x\\y' \"b=$(printf "
                                          "'l1\\nl2')\" c= d=e=f",
                             path),
                         0);
        assert_int_equal(run(GRUB_EDITENV " %s set boot_counter=2 e=5", path), 0);
        assert_int_equal(run(GRUB_EDITENV " %s unset c", path), 0);
        assert_int_equal(grubenv_load(path, &env, &e), 0);
        assert_int_equal(env.n_vars, 6);
        assert_string_equal(grubenv_get(&env, "boot_counter"), "2");
        assert_string_equal(grubenv_get(&env, "a"), "x\\y");
        assert_string_equal(grubenv_get(&env, "b"), "l1\nl2");
        assert_string_equal(grubenv_get(&env, "d"), "e=f");
        assert_string_equal(env.vars[5].name, "e");
        assert_int_equal(grubenv_format(&env, block, &e), 0);
        assert_int_equal(read_full_file(path, 4096, &theirs, &len), 0);
        assert_int_equal(len, GRUBENV_SIZE);
        assert_memory_equal(block, theirs, GRUBENV_SIZE);
        grubenv_done(&env);
        remove_dir(dir);
}

/* We write, grub-editenv reads and edits. */
static void test_grub_editenv_reads(void **state)
{
        char dir[PATH_MAX], path[PATH_MAX + 16], out[PATH_MAX + 16];
        _cleanup_free_ char *listed = NULL;
        GrubEnv env = GRUBENV_INIT, back;
        size_t len;
        Error e = {};

        if (access(GRUB_EDITENV, X_OK) < 0)
                skip();
        make_dir(dir);
        snprintf(path, sizeof path, "%s/grubenv", dir);
        snprintf(out, sizeof out, "%s/out", dir);
        assert_int_equal(grubenv_set(&env, "boot_success", "1", &e), 0);
        assert_int_equal(grubenv_set(&env, "v", "back\\slash\nnew line", &e), 0);
        assert_int_equal(grubenv_save(path, &env, &e), 0);
        assert_int_equal(run(GRUB_EDITENV " %s list > %s", path, out), 0);
        assert_int_equal(read_full_file(out, 4096, &listed, &len), 0);
        assert_string_equal(listed, "boot_success=1\nv=back\\slash\nnew line\n");
        /* grub-editenv can still edit the block in place. */
        assert_int_equal(run(GRUB_EDITENV " %s set boot_counter=1", path), 0);
        assert_int_equal(run(GRUB_EDITENV " %s unset boot_success", path), 0);
        assert_int_equal(grubenv_load(path, &back, &e), 0);
        assert_int_equal(back.n_vars, 2);
        assert_string_equal(grubenv_get(&back, "boot_counter"), "1");
        assert_string_equal(grubenv_get(&back, "v"), "back\\slash\nnew line");
        grubenv_done(&back);
        grubenv_done(&env);
        remove_dir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_empty),         cmocka_unit_test(test_parse_values),
                cmocka_unit_test(test_parse_errors),        cmocka_unit_test(test_parse_unterminated),
                cmocka_unit_test(test_name_valid),          cmocka_unit_test(test_set_unset_format),
                cmocka_unit_test(test_size_limit),          cmocka_unit_test(test_greenboot_vars),
                cmocka_unit_test(test_file_roundtrip),      cmocka_unit_test(test_file_errors),
                cmocka_unit_test(test_grub_editenv_writes), cmocka_unit_test(test_grub_editenv_reads),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

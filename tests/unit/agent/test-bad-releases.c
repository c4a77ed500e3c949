/* test-bad-releases.c — unit tests for the record of releases that failed on this node
 * (src/agent/bad-releases.c): adding (validation, cleaning, caps, replacement, the oldest dropped), finding,
 * forgetting, the JSON form both ways with every rejection's message, and the file (missing, corrupt,
 * atomic replacement that leaves no temporary file and the old file untouched on failure). */
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

#include "bad-releases.h"
#include "fileio.h"

#define SUM_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SUM_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void add_ok(BadReleases *l, const char *version, const char *checksum, int64_t when)
{
        Error e = {};

        if (bad_releases_add(l, version, checksum, BAD_RELEASE_ROLLED_BACK, "checks failed", NULL, 0, when,
                             &e) < 0)
                fail_msg("add failed: %s", e.message);
}

static void test_outcome_names(void **state)
{
        assert_string_equal(bad_release_outcome_to_string(BAD_RELEASE_ROLLED_BACK), "rolled_back");
        assert_string_equal(bad_release_outcome_to_string(BAD_RELEASE_BOOT_FALLBACK), "boot_fallback");
        assert_string_equal(bad_release_outcome_to_string(BAD_RELEASE_STAGE_FAILED), "stage_failed");
        assert_null(bad_release_outcome_to_string(_BAD_RELEASE_OUTCOME_MAX));
        for (int o = 0; o < _BAD_RELEASE_OUTCOME_MAX; o++)
                assert_int_equal(bad_release_outcome_from_string(bad_release_outcome_to_string(o)), o);
        assert_int_equal(bad_release_outcome_from_string("rolled-back"), -EINVAL);
        assert_int_equal(bad_release_outcome_from_string(""), -EINVAL);
        assert_int_equal(bad_release_outcome_from_string(NULL), -EINVAL);
}

static void test_add_find(void **state)
{
        BadReleases l = BAD_RELEASES_INIT;
        char *checks[] = { (char *)"01_dns.sh", (char *)"02_app.sh" };
        const BadRelease *b;
        Error e = {};

        assert_null(bad_releases_find(&l, "1", SUM_A));
        assert_int_equal(bad_releases_add(&l, "41.1", SUM_A, BAD_RELEASE_BOOT_FALLBACK, "did not boot",
                                          checks, 2, 1767225600, &e),
                         0);
        add_ok(&l, "41.2", SUM_B, 1767225700);
        b = bad_releases_find(&l, "41.1", NULL);
        assert_non_null(b);
        assert_string_equal(b->checksum, SUM_A);
        assert_int_equal(b->outcome, BAD_RELEASE_BOOT_FALLBACK);
        assert_string_equal(b->reason, "did not boot");
        assert_int_equal(b->n_checks, 2);
        assert_string_equal(b->checks[1], "02_app.sh");
        assert_null(b->checks[2]);
        assert_int_equal(b->when, 1767225600);
        assert_ptr_equal(bad_releases_find(&l, NULL, SUM_B), &l.entries[1]);
        assert_ptr_equal(bad_releases_find(&l, "nope", SUM_B), &l.entries[1]);
        assert_null(bad_releases_find(&l, "41.3", "cc"));
        assert_null(bad_releases_find(&l, NULL, NULL));
        /* The checksum of one and the version of another: the newest wins. */
        assert_ptr_equal(bad_releases_find(&l, "41.2", SUM_A), &l.entries[1]);
        bad_releases_done(&l);
        bad_releases_done(&l);
}

static void test_add_replaces(void **state)
{
        BadReleases l = BAD_RELEASES_INIT;

        add_ok(&l, "1", "c1", 1);
        add_ok(&l, "2", "c2", 2);
        add_ok(&l, "3", "c3", 3);
        add_ok(&l, "1", "c1-rebuilt", 4); /* same version */
        assert_int_equal(l.n_entries, 3);
        assert_string_equal(l.entries[2].checksum, "c1-rebuilt");
        assert_string_equal(l.entries[0].version, "2");
        add_ok(&l, "2b", "c2", 5); /* same checksum */
        assert_int_equal(l.n_entries, 3);
        assert_string_equal(l.entries[0].version, "3");
        assert_string_equal(l.entries[2].version, "2b");
        add_ok(&l, "3", "c1-rebuilt", 6); /* both, two entries */
        assert_int_equal(l.n_entries, 2);
        assert_string_equal(l.entries[0].version, "2b");
        assert_int_equal(l.entries[1].when, 6);
        bad_releases_done(&l);
}

static void test_add_cap(void **state)
{
        BadReleases l = BAD_RELEASES_INIT;
        char v[16], c[16];

        for (int i = 0; i < BAD_RELEASES_MAX + 2; i++) {
                snprintf(v, sizeof v, "v%d", i);
                snprintf(c, sizeof c, "c%d", i);
                add_ok(&l, v, c, i);
        }
        assert_int_equal(l.n_entries, BAD_RELEASES_MAX);
        assert_null(bad_releases_find(&l, "v0", NULL));
        assert_null(bad_releases_find(&l, "v1", NULL));
        assert_string_equal(l.entries[0].version, "v2");
        assert_string_equal(l.entries[BAD_RELEASES_MAX - 1].version, "v65");
        bad_releases_done(&l);
}

static void add_fails(const char *version, const char *checksum, const char *message)
{
        BadReleases l = BAD_RELEASES_INIT;
        Error e = {};

        add_ok(&l, "keep", "keep", 1);
        assert_int_equal(
                bad_releases_add(&l, version, checksum, BAD_RELEASE_STAGE_FAILED, "r", NULL, 0, 2, &e),
                -EINVAL);
        assert_string_equal(e.message, message);
        assert_int_equal(l.n_entries, 1);
        assert_string_equal(l.entries[0].version, "keep");
        bad_releases_done(&l);
}

static void test_add_invalid(void **state)
{
        char long_sum[BAD_RELEASE_CHECKSUM_MAX + 2];

        memset(long_sum, 'f', sizeof long_sum - 1);
        long_sum[sizeof long_sum - 1] = '\0';
        add_fails("", "c", "version: empty");
        add_fails(NULL, "c", "version: empty");
        add_fails("1", "", "checksum: empty");
        add_fails("1", long_sum, "checksum: longer than 256 bytes");
        add_fails("1\n2", "c", "version: invalid UTF-8 or a control character");
        add_fails("1", "c\xff", "checksum: invalid UTF-8 or a control character");
        add_fails("1\xc2\x85", "c", "version: invalid UTF-8 or a control character");
        add_fails("\xed\xa0\x80", "c", "version: invalid UTF-8 or a control character");  /* a surrogate */
        add_fails("\xc0\xaf", "c", "version: invalid UTF-8 or a control character");      /* overlong '/' */
        add_fails("1\xe2\x80\xae", "c", "version: invalid UTF-8 or a control character"); /* bidi override */
        add_fails("1", "c\xe2\x81\xa9", "checksum: invalid UTF-8 or a control character"); /* bidi isolate */
        long_sum[BAD_RELEASE_CHECKSUM_MAX] = '\0';
        {
                BadReleases l = BAD_RELEASES_INIT;
                add_ok(&l, "41.20250101.3.0 (é)", long_sum, 0);
                bad_releases_done(&l);
        }
}

static void test_add_cleans(void **state)
{
        BadReleases l = BAD_RELEASES_INIT;
        char reason[BAD_RELEASE_REASON_MAX + 8], *checks[BAD_RELEASE_CHECKS_MAX + 3], name[8];
        Error e = {};

        memset(reason, 'r', BAD_RELEASE_REASON_MAX - 1);
        strcpy(reason + BAD_RELEASE_REASON_MAX - 1, "\xc3\xa9xyz"); /* 'é' straddles the cap */
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                snprintf(name, sizeof name, "c%zu", i);
                checks[i] = strdup(name);
        }
        free(checks[0]);
        checks[0] = strdup("bad\tname\x1b[31m\xff");
        assert_int_equal(bad_releases_add(&l, "1", "c", BAD_RELEASE_ROLLED_BACK, reason, checks,
                                          ELEMENTSOF(checks), 7, &e),
                         0);
        assert_int_equal(strlen(l.entries[0].reason), BAD_RELEASE_REASON_MAX - 1);
        assert_int_equal(l.entries[0].n_checks, BAD_RELEASE_CHECKS_MAX);
        assert_string_equal(l.entries[0].checks[0], "bad name?[31m?");
        assert_string_equal(l.entries[0].checks[BAD_RELEASE_CHECKS_MAX - 1], "c31");

        assert_int_equal(bad_releases_add(&l, "2", "d", BAD_RELEASE_ROLLED_BACK,
                                          "line1\nline2\r\x7f\xc2\x85 caf\xc3\xa9 \xe2\x82", NULL, 0, 8, &e),
                         0);
        assert_string_equal(l.entries[1].reason, "line1 line2 ?  caf\xc3\xa9 ??");
        /* bidi controls and C1 from a graph server are not kept either */
        assert_int_equal(bad_releases_add(&l, "2", "d", BAD_RELEASE_ROLLED_BACK,
                                          "a\xe2\x80\xae"
                                          "b\xe2\x81\xa6"
                                          "c\xc2\x9b"
                                          "1m",
                                          NULL, 0, 8, &e),
                         0);
        assert_string_equal(l.entries[1].reason, "a?b?c?1m");
        assert_int_equal(bad_releases_add(&l, "3", "e", BAD_RELEASE_ROLLED_BACK, NULL, NULL, 0, 9, &e), 0);
        assert_string_equal(l.entries[2].reason, "");
        assert_non_null(l.entries[2].checks);
        assert_null(l.entries[2].checks[0]);
        for (size_t i = 0; i < ELEMENTSOF(checks); i++)
                free(checks[i]);
        bad_releases_done(&l);
}

static void test_forget(void **state)
{
        BadReleases l = BAD_RELEASES_INIT;
        Error e = {};

        add_ok(&l, "1", "c1", 1);
        add_ok(&l, "2", "c2", 2);
        add_ok(&l, "3", "c3", 3);
        assert_int_equal(bad_releases_forget(&l, "2", &e), 1);
        assert_int_equal(l.n_entries, 2);
        assert_null(bad_releases_find(&l, "2", "c2"));
        assert_int_equal(bad_releases_forget(&l, "c3", &e), 1);
        assert_int_equal(bad_releases_forget(&l, "c3", &e), -ENOENT);
        assert_string_equal(e.message, "no bad release has the version or checksum \"c3\"");
        assert_int_equal(l.n_entries, 1);
        assert_string_equal(l.entries[0].version, "1");
        bad_releases_done(&l);

        /* One key that is the version of one entry and the checksum of another. */
        add_ok(&l, "x", "y", 1);
        add_ok(&l, "y", "z", 2);
        assert_int_equal(bad_releases_forget(&l, "y", &e), 2);
        assert_int_equal(l.n_entries, 0);
        bad_releases_done(&l);
}

static const char encoded_one[] =
        "{\"bad_releases\": [\n"
        "    {\"version\": \"41.1\", \"checksum\": \"c\\\"1\", \"outcome\": \"boot_fallback\", \"reason\": "
        "\"caf\xc3\xa9 \\\\ ok\", \"checks\": [\"a.sh\", \"b.sh\"], \"when\": 1767225600},\n"
        "    {\"version\": \"41.2\", \"checksum\": \"c2\", \"outcome\": \"stage_failed\", \"reason\": \"\", "
        "\"checks\": [], \"when\": 0}\n"
        "]}\n";

static void test_encode_decode(void **state)
{
        BadReleases l = BAD_RELEASES_INIT, back;
        char *checks[] = { (char *)"a.sh", (char *)"b.sh" };
        Buf out = BUF_INIT(65536), small = BUF_INIT(40);
        Error e = {};

        assert_int_equal(bad_releases_encode(&l, &out), 0);
        assert_string_equal(out.data, "{\"bad_releases\": []}\n");
        buf_truncate(&out, 0);
        assert_int_equal(bad_releases_add(&l, "41.1", "c\"1", BAD_RELEASE_BOOT_FALLBACK, "caf\xc3\xa9 \\ ok",
                                          checks, 2, 1767225600, &e),
                         0);
        assert_int_equal(bad_releases_add(&l, "41.2", "c2", BAD_RELEASE_STAGE_FAILED, "", NULL, 0, 0, &e),
                         0);
        assert_int_equal(bad_releases_encode(&l, &out), 0);
        assert_string_equal(out.data, encoded_one);

        assert_int_equal(bad_releases_decode(out.data, out.len, &back, &e), 0);
        assert_int_equal(back.n_entries, 2);
        assert_string_equal(back.entries[0].checksum, "c\"1");
        assert_string_equal(back.entries[0].reason, "caf\xc3\xa9 \\ ok");
        assert_int_equal(back.entries[0].outcome, BAD_RELEASE_BOOT_FALLBACK);
        assert_int_equal(back.entries[0].n_checks, 2);
        assert_string_equal(back.entries[0].checks[1], "b.sh");
        assert_int_equal(back.entries[1].when, 0);
        assert_int_equal(back.entries[1].n_checks, 0);
        assert_non_null(back.entries[1].checks);

        /* Past the buffer's cap: -ENOBUFS and the buffer as it was. */
        assert_int_equal(buf_puts(&small, "keep"), 0);
        assert_int_equal(bad_releases_encode(&l, &small), -ENOBUFS);
        assert_string_equal(small.data, "keep");
        buf_free(&small);
        buf_free(&out);
        bad_releases_done(&back);
        bad_releases_done(&l);
}

static void test_decode_lenient_parts(void **state)
{
        const char *text = "{\"format\": 2, \"bad_releases\": [{\"version\": \"1\", \"checksum\": \"c\", "
                           "\"outcome\": \"rolled_back\", \"when\": 5, \"future\": {\"x\": [1]}}]}";
        BadReleases l;
        Error e = {};

        assert_int_equal(bad_releases_decode(text, strlen(text), &l, &e), 0);
        assert_int_equal(l.n_entries, 1);
        assert_string_equal(l.entries[0].reason, "");
        assert_int_equal(l.entries[0].n_checks, 0);
        assert_int_equal(l.entries[0].when, 5);
        bad_releases_done(&l);
}

#define ENTRY(fields) "{\"bad_releases\": [{" fields "}]}"
#define GOOD "\"version\": \"1\", \"checksum\": \"c\", \"outcome\": \"rolled_back\", \"when\": 5"

static void decode_fails(const char *text, const char *message)
{
        BadReleases l = { .n_entries = 777 };
        Error e = {};

        assert_int_equal(bad_releases_decode(text, strlen(text), &l, &e), -EINVAL);
        assert_string_equal(e.message, message);
        assert_int_equal(l.n_entries, 777);
}

static void test_decode_errors(void **state)
{
        decode_fails("", "line 1 column 0: unexpected token near end of file");
        decode_fails("[]", "expected an object, got array");
        decode_fails("{}", "the document: missing field 'bad_releases'");
        decode_fails("{\"bad_releases\": {}}",
                     "the document: field 'bad_releases' must be an array, got object");
        decode_fails("{\"bad_releases\": [3]}", "bad_releases[0]: expected an object, got integer");
        decode_fails(ENTRY("\"checksum\": \"c\", \"outcome\": \"rolled_back\", \"when\": 5"),
                     "bad_releases[0]: missing field 'version'");
        decode_fails(ENTRY("\"version\": 1, \"checksum\": \"c\", \"outcome\": \"rolled_back\", \"when\": 5"),
                     "bad_releases[0]: field 'version' must be a string, got integer");
        decode_fails(
                ENTRY("\"version\": \"\", \"checksum\": \"c\", \"outcome\": \"rolled_back\", \"when\": 5"),
                "bad_releases[0]: version: empty");
        decode_fails(ENTRY("\"version\": \"1\", \"checksum\": \"c\\u0007\", \"outcome\": \"rolled_back\", "
                           "\"when\": 5"),
                     "bad_releases[0]: checksum: invalid UTF-8 or a control character");
        decode_fails(
                ENTRY("\"version\": \"1\", \"checksum\": \"c\", \"outcome\": \"exploded\", \"when\": 5"),
                "bad_releases[0]: unknown outcome \"exploded\"");
        decode_fails(
                ENTRY("\"version\": \"1\", \"checksum\": \"c\", \"outcome\": \"rolled_back\", \"when\": -1"),
                "bad_releases[0]: field 'when' is -1, outside [0, 9223372036854775807]");
        decode_fails(ENTRY("\"version\": \"1\", \"checksum\": \"c\", \"outcome\": \"rolled_back\", "
                           "\"when\": 1.5"),
                     "bad_releases[0]: field 'when' must be an integer, got number");
        decode_fails(ENTRY(GOOD ", \"reason\": \"a\\nb\""),
                     "bad_releases[0]: reason: longer than 1024 bytes or holds a control character");
        decode_fails(ENTRY(GOOD ", \"reason\": \"a\\u202eb\""),
                     "bad_releases[0]: reason: longer than 1024 bytes or holds a control character");
        decode_fails(ENTRY(GOOD ", \"reason\": null"),
                     "bad_releases[0]: field 'reason' must be a string, got null");
        decode_fails(ENTRY(GOOD ", \"checks\": \"a\""),
                     "bad_releases[0]: field 'checks' must be an array, got string");
        decode_fails(ENTRY(GOOD ", \"checks\": [\"a\", 2]"),
                     "bad_releases[0]: checks[1] must be a string, got integer");
        decode_fails(ENTRY(GOOD ", \"checks\": [\"\\t\"]"),
                     "bad_releases[0]: checks[0]: longer than 256 bytes or holds a control character");
        decode_fails("{\"bad_releases\": [{" GOOD
                     "}, {\"version\": \"2\", \"checksum\": \"c\", \"outcome\": "
                     "\"rolled_back\", \"when\": 6}]}",
                     "bad_releases[1]: the same version or checksum as entry 0");
        decode_fails("{\"bad_releases\": [], \"bad_releases\": []}",
                     "line 1 column 35: duplicate object key near '\"bad_releases\"'");
}

static void test_decode_caps(void **state)
{
        Buf text = BUF_INIT(BAD_RELEASES_FILE_MAX * 2);
        BadReleases l;
        Error e = {};

        assert_int_equal(buf_puts(&text, "{\"bad_releases\": ["), 0);
        for (int i = 0; i <= BAD_RELEASES_MAX; i++)
                assert_int_equal(buf_printf(&text,
                                            "%s{\"version\": \"%d\", \"checksum\": \"c%d\", \"outcome\": "
                                            "\"rolled_back\", \"when\": 1}",
                                            i ? "," : "", i, i),
                                 0);
        assert_int_equal(buf_puts(&text, "]}"), 0);
        assert_int_equal(bad_releases_decode(text.data, text.len, &l, &e), -EINVAL);
        assert_string_equal(e.message, "bad_releases: 65 entries, at most 64");

        buf_truncate(&text, 0);
        assert_int_equal(buf_puts(&text, "{\"bad_releases\": [{" GOOD ", \"checks\": ["), 0);
        for (int i = 0; i <= BAD_RELEASE_CHECKS_MAX; i++)
                assert_int_equal(buf_printf(&text, "%s\"c%d\"", i ? "," : "", i), 0);
        assert_int_equal(buf_puts(&text, "]}]}"), 0);
        assert_int_equal(bad_releases_decode(text.data, text.len, &l, &e), -EINVAL);
        assert_string_equal(e.message, "bad_releases[0]: 33 checks, at most 32");

        buf_truncate(&text, 0);
        assert_int_equal(buf_puts(&text, "{\"bad_releases\": [{" GOOD ", \"reason\": \""), 0);
        for (int i = 0; i <= BAD_RELEASE_REASON_MAX; i++)
                assert_int_equal(buf_putc(&text, 'r'), 0);
        assert_int_equal(buf_puts(&text, "\"}]}"), 0);
        assert_int_equal(bad_releases_decode(text.data, text.len, &l, &e), -EINVAL);
        assert_string_equal(e.message,
                            "bad_releases[0]: reason: longer than 1024 bytes or holds a control character");

        assert_int_equal(bad_releases_decode(text.data, BAD_RELEASES_FILE_MAX + 1, &l, &e), -EFBIG);
        assert_string_equal(e.message, "1048577 bytes, at most 1048576");
        buf_free(&text);
}

static void make_dir(char dir[static PATH_MAX])
{
        snprintf(dir, PATH_MAX, "%s/test-bad-releases.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

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
        char dir[PATH_MAX], path[PATH_MAX + 32];
        BadReleases l = BAD_RELEASES_INIT, back = { .n_entries = 5 };
        _cleanup_free_ char *text = NULL;
        struct stat st;
        mode_t old_umask;
        size_t len;
        Error e = {};

        make_dir(dir);
        snprintf(path, sizeof path, "%s/bad-releases.json", dir);
        assert_int_equal(bad_releases_load(path, &back, &e), 0);
        assert_int_equal(back.n_entries, 0);
        assert_null(back.entries);

        add_ok(&l, "41.1", SUM_A, 100);
        old_umask = umask(077);
        assert_int_equal(bad_releases_store(path, &l, &e), 0);
        umask(old_umask);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, BAD_RELEASES_MODE);
        assert_int_equal(count_entries(dir), 1);
        assert_int_equal(read_full_file(path, 65536, &text, &len), 0);
        assert_true(strstr(text, "\"version\": \"41.1\"") != NULL);

        add_ok(&l, "41.2", SUM_B, 200);
        assert_int_equal(bad_releases_store(path, &l, &e), 0);
        assert_int_equal(bad_releases_load(path, &back, &e), 0);
        assert_int_equal(back.n_entries, 2);
        assert_string_equal(back.entries[1].checksum, SUM_B);
        assert_int_equal(count_entries(dir), 1);
        bad_releases_done(&back);
        bad_releases_done(&l);
        remove_dir(dir);
}

static void test_file_errors(void **state)
{
        char dir[PATH_MAX], path[PATH_MAX + 32], sub[PATH_MAX + 32], expect[3 * PATH_MAX];
        _cleanup_free_ char *before = NULL, *after = NULL;
        BadReleases l = BAD_RELEASES_INIT, back = { .n_entries = 5 };
        size_t len;
        Error e = {};
        int fd;

        make_dir(dir);
        snprintf(path, sizeof path, "%s/bad-releases.json", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "{\"bad_releases\": [1]}", 21), 21);
        close(fd);
        assert_int_equal(bad_releases_load(path, &back, &e), -EINVAL);
        snprintf(expect, sizeof expect, "%s: bad_releases[0]: expected an object, got integer", path);
        assert_string_equal(e.message, expect);
        assert_int_equal(back.n_entries, 5);

        /* The rename fails (the target is a directory): no temporary file is left. */
        add_ok(&l, "1", "c", 1);
        snprintf(sub, sizeof sub, "%s/sub", dir);
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(bad_releases_store(sub, &l, &e), -EISDIR);
        snprintf(expect, sizeof expect, "writing %s: Is a directory", sub);
        assert_string_equal(e.message, expect);
        assert_int_equal(count_entries(dir), 2);
        assert_int_equal(count_entries(sub), 0);

        snprintf(sub, sizeof sub, "%s/none/bad-releases.json", dir);
        assert_int_equal(bad_releases_store(sub, &l, &e), -ENOENT);
        snprintf(expect, sizeof expect,
                 "writing %s/none/bad-releases.json: creating a temporary file in %s/none: No such file or "
                 "directory",
                 dir, dir);
        assert_string_equal(e.message, expect);

        /* A directory we may not write to leaves the old file as it was (meaningful only when not root). */
        assert_int_equal(read_full_file(path, 65536, &before, &len), 0);
        if (geteuid() != 0) {
                assert_int_equal(chmod(dir, 0555), 0);
                assert_int_equal(bad_releases_store(path, &l, &e), -EACCES);
                assert_int_equal(chmod(dir, 0755), 0);
        }
        assert_int_equal(read_full_file(path, 65536, &after, &len), 0);
        assert_string_equal(before, after);
        assert_int_equal(count_entries(dir), 2);

        /* Not a regular file we can read. */
        assert_int_equal(bad_releases_load(dir, &back, &e), -EISDIR);
        snprintf(expect, sizeof expect, "reading %s: Is a directory", dir);
        assert_string_equal(e.message, expect);
        bad_releases_done(&l);
        remove_dir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_outcome_names),
                cmocka_unit_test(test_add_find),
                cmocka_unit_test(test_add_replaces),
                cmocka_unit_test(test_add_cap),
                cmocka_unit_test(test_add_invalid),
                cmocka_unit_test(test_add_cleans),
                cmocka_unit_test(test_forget),
                cmocka_unit_test(test_encode_decode),
                cmocka_unit_test(test_decode_lenient_parts),
                cmocka_unit_test(test_decode_errors),
                cmocka_unit_test(test_decode_caps),
                cmocka_unit_test(test_file_roundtrip),
                cmocka_unit_test(test_file_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test-os-ostree.c — the libostree OS backend on a real test sysroot: an archive repository with a tiny
 * bootable tree built by the `ostree` CLI and served over HTTP (the project's own server on 127.0.0.1
 * port 0), a sysroot with release 1 deployed, then status, stage (progress, idempotence, version and
 * downgrade checks, unknown and corrupted commits, GPG), finalize and "reboots" (reopening the backend). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "http-server.h"
#include "macros.h"
#include "os-backend.h"
#include "strutil.h"

#include <ostree.h>

#define N_RELEASES 3
#define BRANCH "testos/x86_64/stable"

static char tmp[PATH_MAX];
static char srv[PATH_MAX + 16];
static char sysroot[PATH_MAX + 16];
static char gnupg[PATH_MAX + 16];
static char gpg_key[128];
static char c[N_RELEASES + 1][65]; /* c[1..3]: releases 1, 2, 3 on BRANCH */
static char c_corrupt[65];         /* release 4 on testos/x86_64/corrupt: one file object damaged */
static char c_signed[65];          /* release 5 on testos/x86_64/signed: signed with gpg_key */
static HttpServer *server;

/* Runs a shell command line (stdout to stderr, to keep TAP clean) and asserts it succeeded. */
_printf_(1, 2) static void sh(const char *fmt, ...)
{
        char cmd[8192];
        va_list ap;
        int n, r;

        va_start(ap, fmt);
        memcpy(cmd, "{ ", 2);
        n = vsnprintf(cmd + 2, sizeof(cmd) - 16, fmt, ap);
        va_end(ap);
        assert_true(n > 0 && (size_t)n < sizeof(cmd) - 16);
        strcat(cmd, "; } 1>&2");
        r = system(cmd);
        if (r != 0)
                fail_msg("command failed (%d): %s", r, cmd);
}

/* Runs a command and returns its first output line (without the newline). */
_printf_(3, 4) static void capture(char *out, size_t size, const char *fmt, ...)
{
        char cmd[8192];
        va_list ap;
        FILE *f;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        assert_true(n > 0 && (size_t)n < sizeof(cmd));
        f = popen(cmd, "r");
        assert_non_null(f);
        if (!fgets(out, (int)size, f))
                out[0] = 0;
        out[strcspn(out, "\n")] = 0;
        if (pclose(f) != 0 || !out[0])
                fail_msg("command failed: %s", cmd);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* A tiny bootable tree: kernel and initramfs, /usr/etc, os-release, a program. */
static void make_tree(const char *name, int release, const char *extra_file)
{
        char dir[PATH_MAX + 64], p[PATH_MAX + 128], text[256];

        snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
        sh("mkdir -p '%s/usr/lib/modules/6.1.0' '%s/usr/etc' '%s/usr/bin' '%s/usr/share/upkeep'", dir, dir,
           dir, dir);
        snprintf(p, sizeof(p), "%s/usr/lib/modules/6.1.0/vmlinuz", dir);
        snprintf(text, sizeof(text), "kernel of release %d\n", release);
        write_file(p, text);
        snprintf(p, sizeof(p), "%s/usr/lib/modules/6.1.0/initramfs.img", dir);
        write_file(p, "initramfs\n");
        snprintf(p, sizeof(p), "%s/usr/lib/os-release", dir);
        snprintf(text, sizeof(text), "ID=testos\nNAME=\"Test OS\"\nVERSION_ID=%d\n", release);
        write_file(p, text);
        snprintf(p, sizeof(p), "%s/usr/etc/hello.conf", dir);
        snprintf(text, sizeof(text), "greeting=release %d\n", release);
        write_file(p, text);
        snprintf(p, sizeof(p), "%s/usr/bin/hello", dir);
        snprintf(text, sizeof(text), "#!/bin/sh\necho 'hello from release %d'\n", release);
        write_file(p, text);
        assert_int_equal(chmod(p, 0755), 0);
        if (extra_file) {
                snprintf(p, sizeof(p), "%s/usr/share/upkeep/%s", dir, extra_file);
                snprintf(text, sizeof(text),
                         "a file only release %d has, long enough to be compressed: %0128d\n", release, 0);
                write_file(p, text);
        }
}

static void commit(const char *branch, const char *tree, int release, const char *extra_args, char out[65])
{
        sh("ostree --repo='%s' commit --bootable -b %s --tree=dir='%s/%s' --add-metadata-string=version=%d "
           "--add-metadata-string=fedora-coreos.stream=stable --timestamp=2024-01-%02dT00:00:00Z %s",
           srv, branch, tmp, tree, release, release, extra_args);
        capture(out, 65, "ostree --repo='%s' rev-parse %s", srv, branch);
        assert_int_equal(strlen(out), 64);
}

/* Serves the archive repository's files. */
static int handler(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        char path[PATH_MAX * 2];
        char *data;
        size_t len;

        if (!streq(req->method, "GET") || req->path[0] != '/' || strstr(req->path, ".."))
                return http_reply_error(reply, 400, "bad_request", "path");
        snprintf(path, sizeof(path), "%s%s", srv, req->path);
        if (read_full_file(path, 64 * 1024 * 1024, &data, &len) < 0)
                return http_reply_error(reply, 404, "not_found", req->path);
        reply->status = 200;
        reply->content_type = "application/octet-stream";
        reply->owned = data;
        reply->owned_len = len;
        return 0;
}

static int group_setup(void **state)
{
        char tmpl[] = "/tmp/test-os-ostree-XXXXXX";
        char obj[128];
        HttpServerConfig hc = { .address = "127.0.0.1", .handler = handler };
        Error e;

        if (!mkdtemp(tmpl))
                return -1;
        snprintf(tmp, sizeof(tmp), "%s", tmpl);
        snprintf(srv, sizeof(srv), "%s/srv", tmp);
        snprintf(sysroot, sizeof(sysroot), "%s/sysroot", tmp);
        snprintf(gnupg, sizeof(gnupg), "%s/gnupg", tmp);
        /* No immutable bit on deployments (needs privileges and a file system that has it). */
        setenv("OSTREE_SYSROOT_DEBUG", "mutable-deployments", 1);
        setenv("GNUPGHOME", gnupg, 1);

        sh("ostree --repo='%s' init --mode=archive", srv);
        for (int i = 1; i <= N_RELEASES; i++) {
                char name[16];
                snprintf(name, sizeof(name), "tree%d", i);
                make_tree(name, i, NULL);
                commit(BRANCH, name, i, "", c[i]);
        }

        /* Release 4 has a file of its own; its object in the served repository is damaged. */
        make_tree("tree4", 4, "corrupt.bin");
        commit("testos/x86_64/corrupt", "tree4", 4, "", c_corrupt);
        capture(obj, sizeof(obj),
                "ostree --repo='%s' ls -C %s /usr/share/upkeep/corrupt.bin | awk '{print $5}'", srv,
                c_corrupt);
        assert_int_equal(strlen(obj), 64);
        sh("printf 'garbage garbage garbage garbage' | "
           "dd of='%s/objects/%.2s/%s.filez' bs=1 seek=40 conv=notrunc status=none",
           srv, obj, obj + 2);

        /* Release 5, signed with a fresh key. */
        sh("mkdir -m 0700 '%s' && gpg --batch --passphrase '' "
           "--quick-gen-key 'Upkeep Test <test@upkeep.invalid>' ed25519 sign never 2>/dev/null",
           gnupg);
        capture(gpg_key, sizeof(gpg_key),
                "gpg --list-keys --with-colons | awk -F: '/^fpr/ {print $10; exit}'");
        sh("gpg --armor --export %s > '%s/key.asc'", gpg_key, tmp);
        make_tree("tree5", 5, NULL);
        {
                char args[512];
                snprintf(args, sizeof(args), "--gpg-sign=%s --gpg-homedir='%s'", gpg_key, gnupg);
                commit("testos/x86_64/signed", "tree5", 5, args, c_signed);
        }

        if (http_server_start(&hc, &server, &e) < 0) {
                fprintf(stderr, "http server: %s\n", e.message);
                return -1;
        }
        return 0;
}

static int group_teardown(void **state)
{
        char cmd[PATH_MAX + 128];

        http_server_stop(server, 1000);
        snprintf(cmd, sizeof(cmd), "gpgconf --homedir '%s' --kill all 2>/dev/null", gnupg);
        (void)system(cmd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        return system(cmd) == 0 ? 0 : -1;
}

/* A fresh sysroot with release 1 deployed from remote "origin" (HTTP). */
static int setup(void **state)
{
        sh("rm -rf '%s' && mkdir '%s' && ostree admin init-fs --modern '%s' 2>/dev/null && "
           "ostree admin os-init testos --sysroot='%s'",
           sysroot, sysroot, sysroot, sysroot);
        sh("ostree --repo='%s/ostree/repo' remote add --no-gpg-verify origin http://127.0.0.1:%u/ %s",
           sysroot, http_server_port(server), BRANCH);
        sh("ostree --repo='%s/ostree/repo' pull origin %s@%s >/dev/null", sysroot, BRANCH, c[1]);
        sh("ostree admin deploy --sysroot='%s' --os=testos origin:%s --karg=root=LABEL=root", sysroot,
           BRANCH);
        return 0;
}

static OsBackend *open_backend_remote(const char *remote)
{
        OsBackendOptions o = { .kind = OS_BACKEND_OSTREE, .sysroot = sysroot, .remote = remote };
        OsBackend *b = NULL;
        Error e = { { 0 } };

        if (os_backend_open(&o, &b, &e) < 0)
                fail_msg("open: %s", e.message);
        return b;
}

static OsBackend *open_backend(void)
{
        return open_backend_remote(NULL);
}

static void get_status(OsBackend *b, OsStatus *s)
{
        Error e = { { 0 } };
        if (os_backend_status(b, s, &e) < 0)
                fail_msg("status: %s", e.message);
}

/* Asserts the roles: booted/staged/rollback commits (NULL: no such role) and the booted one's index. */
static void expect_roles(OsBackend *b, const char *booted, size_t booted_index, const char *staged,
                         const char *rollback, size_t n)
{
        _cleanup_(os_status_done) OsStatus s = { 0 };

        get_status(b, &s);
        assert_int_equal(s.n_deployments, n);
        assert_non_null(s.booted);
        assert_string_equal(s.booted->checksum, booted);
        assert_int_equal(s.booted - s.deployments, booted_index);
        assert_true(s.booted->booted);
        if (staged) {
                assert_non_null(s.staged);
                assert_string_equal(s.staged->checksum, staged);
                assert_true(s.staged->staged);
                /* staged right after the booted one: the default entry is unchanged */
                assert_int_equal(s.staged - s.deployments, booted_index + 1);
        } else
                assert_null(s.staged);
        if (rollback) {
                assert_non_null(s.rollback);
                assert_string_equal(s.rollback->checksum, rollback);
                assert_true(s.rollback->rollback);
        } else
                assert_null(s.rollback);
}

typedef struct ProgressLog {
        unsigned calls;
        OsProgress last;
        bool monotonic;
} ProgressLog;

static void on_progress(const OsProgress *p, void *userdata)
{
        ProgressLog *l = userdata;

        if (l->calls > 0 && (p->bytes_transferred < l->last.bytes_transferred ||
                             p->objects_fetched < l->last.objects_fetched ||
                             p->objects_requested < l->last.objects_requested))
                l->monotonic = false;
        if (p->objects_fetched > p->objects_requested)
                l->monotonic = false;
        l->last = *p;
        l->calls++;
}

static int stage(OsBackend *b, const char *csum, const char *version, bool allow_downgrade, ProgressLog *log,
                 Error *e)
{
        int r;

        if (log)
                *log = (ProgressLog){ .monotonic = true };
        *e = (Error){ { 0 } };
        r = os_backend_stage(b, csum, version, allow_downgrade, log ? on_progress : NULL, log, e);
        if (r < 0) /* for the log: what the agent would report */
                fprintf(stderr, "stage of %.12s: %d (%s): %s\n", csum, r, strerror(-r), e->message);
        return r;
}

static void stage_ok(OsBackend *b, const char *csum, const char *version, bool allow_downgrade,
                     ProgressLog *log)
{
        Error e;
        if (stage(b, csum, version, allow_downgrade, log, &e) < 0)
                fail_msg("stage of %s: %s", csum, e.message);
}

static void finalize_ok(OsBackend *b, const char *csum)
{
        Error e = { { 0 } };
        if (os_backend_finalize(b, csum, &e) < 0)
                fail_msg("finalize of %s: %s", csum, e.message);
}

static bool deployment_dir_exists(const char *csum, int serial)
{
        char p[PATH_MAX * 2];
        struct stat st;

        snprintf(p, sizeof(p), "%s/ostree/deploy/testos/deploy/%s.%d", sysroot, csum, serial);
        return stat(p, &st) == 0;
}

static size_t count_deployment_dirs(void)
{
        char p[PATH_MAX * 2];
        struct dirent *de;
        size_t n = 0;
        DIR *d;

        snprintf(p, sizeof(p), "%s/ostree/deploy/testos/deploy", sysroot);
        d = opendir(p);
        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && !endswith(de->d_name, ".origin"))
                        n++;
        closedir(d);
        return n;
}

/* Boot loader entries, and how many carry the deployment's kernel arguments. */
static size_t count_boot_entries(size_t *ret_with_kargs)
{
        char p[PATH_MAX * 2];
        struct dirent *de;
        size_t n = 0, k = 0;
        DIR *d;

        snprintf(p, sizeof(p), "%s/boot/loader/entries", sysroot);
        d = opendir(p);
        assert_non_null(d);
        while ((de = readdir(d))) {
                char f[PATH_MAX * 3];
                _cleanup_free_ char *text = NULL;

                if (!endswith(de->d_name, ".conf"))
                        continue;
                snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
                assert_int_equal(read_full_file(f, 1 << 16, &text, NULL), 0);
                n++;
                if (strstr(text, "options root=LABEL=root "))
                        k++;
        }
        closedir(d);
        *ret_with_kargs = k;
        return n;
}

static void test_status(void **state)
{
        OsBackend *b = open_backend();
        _cleanup_(os_status_done) OsStatus s = { 0 };

        get_status(b, &s);
        assert_int_equal(s.n_deployments, 1);
        assert_ptr_equal(s.booted, &s.deployments[0]);
        assert_null(s.staged);
        assert_null(s.rollback);
        assert_string_equal(s.booted->checksum, c[1]);
        assert_string_equal(s.booted->version, "1");
        assert_string_equal(s.booted->stream, "stable");
        assert_string_equal(s.booted->osname, "testos");
        assert_int_equal(s.booted->serial, 0);
        assert_int_equal(s.booted->timestamp, 1704067200); /* 2024-01-01T00:00:00Z */
        assert_int_equal(os_backend_finalize_reboots(b), false);
        os_backend_free(b);
}

static void test_stage_finalize_reboot(void **state)
{
        OsBackend *b = open_backend();
        char unknown[65];
        ProgressLog log;
        Error e;

        /* stage release 2: downloaded with progress, deployed after the booted one */
        stage_ok(b, c[2], "2", false, &log);
        assert_true(log.calls > 0);
        assert_true(log.monotonic);
        assert_true(log.last.bytes_transferred > 0);
        assert_true(log.last.objects_fetched > 0);
        expect_roles(b, c[1], 0, c[2], NULL, 2);
        /* a boot entry of its own, with the booted deployment's kernel arguments */
        {
                size_t with_kargs;
                assert_int_equal(count_boot_entries(&with_kargs), 2);
                assert_int_equal(with_kargs, 2);
        }

        /* a restart of the agent (no reboot): the staged marker survives */
        b = os_backend_free(b);
        b = open_backend();
        expect_roles(b, c[1], 0, c[2], NULL, 2);

        /* idempotent: no download */
        stage_ok(b, c[2], "2", false, &log);
        assert_int_equal(log.calls, 0);
        stage_ok(b, c[2], NULL, false, NULL);
        expect_roles(b, c[1], 0, c[2], NULL, 2);

        /* the booted commit */
        assert_int_equal(stage(b, c[1], NULL, false, NULL, &e), -EALREADY);

        /* the wrong version: nothing deployed, the staged one kept */
        assert_int_equal(stage(b, c[3], "2", false, NULL, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "version '3'"));
        expect_roles(b, c[1], 0, c[2], NULL, 2);
        assert_int_equal(count_deployment_dirs(), 2);

        /* a commit the remote does not have */
        memset(unknown, 'a', 64);
        unknown[64] = 0;
        assert_int_equal(stage(b, unknown, NULL, false, NULL, &e), -ENOENT);
        assert_non_null(strstr(e.message, "pull of aaaaaaaaaaaa"));
        assert_non_null(strstr(e.message, "remote 'origin'"));
        expect_roles(b, c[1], 0, c[2], NULL, 2);

        /* not a checksum */
        assert_int_equal(stage(b, "3a7c", NULL, false, NULL, &e), -EINVAL);

        /* finalize: only the staged commit */
        e = (Error){ { 0 } };
        assert_int_equal(os_backend_finalize(b, c[3], &e), -ENOENT);
        assert_non_null(strstr(e.message, "no staged deployment"));
        finalize_ok(b, c[2]);
        {
                _cleanup_(os_status_done) OsStatus s = { 0 };
                get_status(b, &s);
                assert_int_equal(s.n_deployments, 2);
                assert_string_equal(s.deployments[0].checksum, c[2]); /* the default entry */
                assert_ptr_equal(s.booted, &s.deployments[1]);        /* still running release 1 */
                assert_string_equal(s.booted->checksum, c[1]);
                assert_null(s.staged);
                assert_null(s.rollback);
        }

        /* reboot into the default entry */
        b = os_backend_free(b);
        b = open_backend();
        expect_roles(b, c[2], 0, NULL, c[1], 2);

        /* release 3: stage, finalize, reboot; release 1 is cleaned up */
        stage_ok(b, c[3], "3", false, &log);
        assert_true(log.calls > 0);
        expect_roles(b, c[2], 0, c[3], c[1], 3);
        finalize_ok(b, c[3]);
        b = os_backend_free(b);
        b = open_backend();
        expect_roles(b, c[3], 0, NULL, c[2], 2);
        assert_false(deployment_dir_exists(c[1], 0));
        assert_true(deployment_dir_exists(c[2], 0));
        assert_true(deployment_dir_exists(c[3], 0));
        assert_int_equal(count_deployment_dirs(), 2);
        os_backend_free(b);
}

static void test_replace_staged(void **state)
{
        OsBackend *b = open_backend();

        stage_ok(b, c[2], NULL, false, NULL);
        stage_ok(b, c[3], NULL, false, NULL);
        expect_roles(b, c[1], 0, c[3], NULL, 2);
        assert_false(deployment_dir_exists(c[2], 0));
        assert_int_equal(count_deployment_dirs(), 2);
        os_backend_free(b);
}

static void test_downgrade(void **state)
{
        OsBackend *b = open_backend();
        ProgressLog log;
        Error e;

        stage_ok(b, c[3], NULL, false, NULL);
        finalize_ok(b, c[3]);
        b = os_backend_free(b);
        b = open_backend();
        expect_roles(b, c[3], 0, NULL, c[1], 2);

        /* older, not deployed: refused after fetching only its commit object */
        assert_int_equal(stage(b, c[2], "2", false, NULL, &e), -EPERM);
        assert_non_null(strstr(e.message, "older"));
        /* older, deployed (the rollback): refused too */
        assert_int_equal(stage(b, c[1], NULL, false, NULL, &e), -EPERM);
        expect_roles(b, c[3], 0, NULL, c[1], 2);
        assert_int_equal(count_deployment_dirs(), 2);

        /* allowed: the rollback deployment becomes the staged one, without a download */
        stage_ok(b, c[1], "1", true, &log);
        assert_int_equal(log.calls, 0);
        expect_roles(b, c[3], 0, c[1], NULL, 2);
        /* and another older release replaces it */
        stage_ok(b, c[2], "2", true, &log);
        assert_true(log.calls > 0);
        expect_roles(b, c[3], 0, c[2], NULL, 2);
        os_backend_free(b);
}

static void test_corrupted_object(void **state)
{
        OsBackend *b = open_backend();
        Error e;

        assert_true(stage(b, c_corrupt, "4", false, NULL, &e) < 0);
        assert_non_null(strstr(e.message, "pull of"));
        assert_true(strstr(e.message, "orrupt") || strstr(e.message, "checksum") ||
                    strstr(e.message, "ompress"));
        expect_roles(b, c[1], 0, NULL, NULL, 1);
        assert_int_equal(count_deployment_dirs(), 1);
        os_backend_free(b);
}

static void test_gpg(void **state)
{
        OsBackend *b;
        Error e;

        /* a remote that verifies signatures but lacks the key refuses the signed commit */
        sh("ostree --repo='%s/ostree/repo' remote add --set=gpg-verify=true nokey http://127.0.0.1:%u/",
           sysroot, http_server_port(server));
        b = open_backend_remote("nokey");
        assert_true(stage(b, c_signed, NULL, false, NULL, &e) < 0);
        assert_non_null(strstr(e.message, "remote 'nokey'"));
        expect_roles(b, c[1], 0, NULL, NULL, 1);
        os_backend_free(b);

        /* with the key imported: accepted */
        sh("ostree --repo='%s/ostree/repo' remote add --set=gpg-verify=true signed http://127.0.0.1:%u/",
           sysroot, http_server_port(server));
        sh("ostree --repo='%s/ostree/repo' remote gpg-import signed -k '%s/key.asc'", sysroot, tmp);
        b = open_backend_remote("signed");
        stage_ok(b, c_signed, "5", false, NULL);
        expect_roles(b, c[1], 0, c_signed, NULL, 2);

        /* unsigned: refused, the signed one stays staged */
        assert_int_equal(stage(b, c[2], "2", false, NULL, &e), -EKEYREJECTED);
        assert_non_null(strstr(e.message, "remote 'signed'"));
        assert_non_null(strstr(e.message, "GPG"));
        expect_roles(b, c[1], 0, c_signed, NULL, 2);
        os_backend_free(b);
}

/* A file:// remote: libostree imports the objects (checksums verified), no bytes are transferred. */
static void test_file_remote(void **state)
{
        OsBackend *b;
        ProgressLog log;
        Error e;

        /* added after the backend was opened: the repository configuration is reloaded */
        b = open_backend_remote("local");
        sh("ostree --repo='%s/ostree/repo' remote add --no-gpg-verify local 'file://%s'", sysroot, srv);
        stage_ok(b, c[2], "2", false, &log);
        assert_true(log.calls > 0);
        assert_true(log.last.objects_fetched > 0);
        expect_roles(b, c[1], 0, c[2], NULL, 2);
        assert_true(stage(b, c_corrupt, NULL, false, NULL, &e) < 0);
        assert_non_null(strstr(e.message, "remote 'local'"));
        expect_roles(b, c[1], 0, c[2], NULL, 2);
        os_backend_free(b);
}

/* Another holder of the sysroot lock (as `ostree admin` would be): staging and finalizing wait for no one.
 */
static void test_sysroot_locked(void **state)
{
        g_autoptr(GFile) path = g_file_new_for_path(sysroot);
        g_autoptr(OstreeSysroot) other = ostree_sysroot_new(path);
        g_autoptr(GError) err = NULL;
        OsBackend *b = open_backend();
        Error e;

        assert_true(ostree_sysroot_load(other, NULL, &err));
        assert_true(ostree_sysroot_lock(other, &err));
        assert_int_equal(stage(b, c[2], NULL, false, NULL, &e), -EBUSY);
        assert_non_null(strstr(e.message, "locked by another process"));
        e = (Error){ { 0 } };
        assert_int_equal(os_backend_finalize(b, c[2], &e), -EBUSY);
        ostree_sysroot_unlock(other);
        stage_ok(b, c[2], NULL, false, NULL);
        finalize_ok(b, c[2]);
        os_backend_free(b);
}

static OsSetDefaultResult set_default_ok(OsBackend *b, const char *csum)
{
        OsSetDefaultResult res;
        Error e = { { 0 } };

        memset(&res, 0xaa, sizeof(res));
        if (os_backend_set_default(b, csum, &res, &e) < 0)
                fail_msg("set-default of %s: %s", csum, e.message);
        return res;
}

static void expect_order(OsBackend *b, const char *first, const char *second, const char *booted)
{
        _cleanup_(os_status_done) OsStatus s = { 0 };

        get_status(b, &s);
        assert_int_equal(s.n_deployments, 2);
        assert_string_equal(s.deployments[0].checksum, first);
        assert_string_equal(s.deployments[1].checksum, second);
        assert_non_null(s.booted);
        assert_string_equal(s.booted->checksum, booted);
        assert_null(s.staged);
}

/* Rollback and the repair after a bootloader fallback: the deployments reordered, all kept, a staged one
 * dropped and named, the sysroot lock respected. */
static void test_set_default(void **state)
{
        g_autoptr(GFile) path = g_file_new_for_path(sysroot);
        g_autoptr(OstreeSysroot) other = ostree_sysroot_new(path);
        g_autoptr(GError) err = NULL;
        OsBackend *b = open_backend();
        OsSetDefaultResult res;
        char unknown[65];
        Error e = { { 0 } };

        /* booted on release 2, release 1 its rollback */
        stage_ok(b, c[2], NULL, false, NULL);
        finalize_ok(b, c[2]);
        b = os_backend_free(b);
        b = open_backend();
        expect_roles(b, c[2], 0, NULL, c[1], 2);

        /* roll back: release 1 becomes the default, release 2 stays (still booted until the reboot) */
        res = set_default_ok(b, c[1]);
        assert_true(res.changed);
        assert_string_equal(res.dropped_staged, "");
        assert_string_equal(res.kept_staged, "");
        expect_order(b, c[1], c[2], c[2]);
        assert_true(deployment_dir_exists(c[1], 0) && deployment_dir_exists(c[2], 0));
        res = set_default_ok(b, c[1]);
        assert_false(res.changed);
        expect_order(b, c[1], c[2], c[2]);

        /* the booted one back as the default (after a bootloader fallback), a staged release dropped */
        stage_ok(b, c[3], NULL, false, NULL);
        res = set_default_ok(b, c[2]);
        assert_true(res.changed);
        assert_string_equal(res.dropped_staged, c[3]);
        expect_order(b, c[2], c[1], c[2]);
        assert_false(deployment_dir_exists(c[3], 0));
        assert_int_equal(count_deployment_dirs(), 2);

        /* already the default, yet a staged release does not survive */
        stage_ok(b, c[3], NULL, false, NULL);
        res = set_default_ok(b, c[2]);
        assert_false(res.changed);
        assert_string_equal(res.dropped_staged, c[3]);
        expect_order(b, c[2], c[1], c[2]);

        /* errors: nothing changes */
        memset(unknown, 'a', 64);
        unknown[64] = 0;
        assert_int_equal(os_backend_set_default(b, unknown, &res, &e), -ENOENT);
        assert_non_null(strstr(e.message, "no deployment of that commit"));
        assert_int_equal(os_backend_set_default(b, "3a7c", &res, &e), -EINVAL);
        assert_true(ostree_sysroot_load(other, NULL, &err));
        assert_true(ostree_sysroot_lock(other, &err));
        assert_int_equal(os_backend_set_default(b, c[1], &res, &e), -EBUSY);
        assert_non_null(strstr(e.message, "locked by another process"));
        ostree_sysroot_unlock(other);
        expect_order(b, c[2], c[1], c[2]);

        /* the staged release itself: the default now, no longer staged after the reboot */
        stage_ok(b, c[3], NULL, false, NULL);
        res = set_default_ok(b, c[3]);
        assert_true(res.changed);
        assert_string_equal(res.dropped_staged, "");
        b = os_backend_free(b);
        b = open_backend();
        expect_roles(b, c[3], 0, NULL, c[2], 3);
        os_backend_free(b);
}

static void test_open_errors(void **state)
{
        OsBackendOptions o = { .kind = OS_BACKEND_OSTREE, .sysroot = "/nonexistent/upkeep-sysroot" };
        OsBackend *b = NULL;
        Error e = { { 0 } };

        assert_true(os_backend_open(&o, &b, &e) < 0);
        assert_null(b);
        assert_non_null(strstr(e.message, "/nonexistent/upkeep-sysroot"));
        o.kind = (OsBackendKind)42;
        assert_int_equal(os_backend_open(&o, &b, &e), -EINVAL);
        assert_string_equal(os_backend_kind_to_string(OS_BACKEND_OSTREE), "ostree");
        assert_string_equal(os_backend_kind_to_string(OS_BACKEND_RPM_OSTREE), "rpm-ostree");
        assert_null(os_backend_kind_to_string((OsBackendKind)42));
        assert_null(os_backend_free(NULL));
}

/* An empty sysroot: no booted deployment to tell, staging is refused. */
static void test_no_deployment(void **state)
{
        char empty[PATH_MAX + 16];
        OsBackendOptions o = { .kind = OS_BACKEND_OSTREE, .sysroot = empty };
        _cleanup_(os_status_done) OsStatus s = { 0 };
        OsBackend *b = NULL;
        Error e = { { 0 } };

        snprintf(empty, sizeof(empty), "%s/empty", tmp);
        sh("rm -rf '%s' && mkdir '%s' && ostree admin init-fs --modern '%s' 2>/dev/null", empty, empty,
           empty);
        if (os_backend_open(&o, &b, &e) < 0)
                fail_msg("open: %s", e.message);
        get_status(b, &s);
        assert_int_equal(s.n_deployments, 0);
        assert_null(s.booted);
        assert_int_equal(stage(b, c[2], NULL, false, NULL, &e), -ENOENT);
        assert_non_null(strstr(e.message, "no booted deployment"));
        os_backend_free(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_errors),
                cmocka_unit_test(test_no_deployment),
                cmocka_unit_test_setup(test_status, setup),
                cmocka_unit_test_setup(test_stage_finalize_reboot, setup),
                cmocka_unit_test_setup(test_replace_staged, setup),
                cmocka_unit_test_setup(test_downgrade, setup),
                cmocka_unit_test_setup(test_corrupted_object, setup),
                cmocka_unit_test_setup(test_gpg, setup),
                cmocka_unit_test_setup(test_file_remote, setup),
                cmocka_unit_test_setup(test_sysroot_locked, setup),
                cmocka_unit_test_setup(test_set_default, setup),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

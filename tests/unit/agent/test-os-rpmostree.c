/* test-os-rpmostree.c — the parser of `rpm-ostree status --json` (recorded-style documents in
 * tests/data/rpm-ostree/, roles, limits, located errors) and the rpm-ostree OS backend driving
 * tests/data/fake-rpm-ostree: the exact commands and environment, verification after a stage, command
 * failures with stderr in the message, timeouts, oversized and garbage output, inherited descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "macros.h"
#include "os-backend.h"
#include "os-status.h"

#define V1 "5f83200b08bfad7bba2bff2dfc7e2e4b2dbc4b71f08b714f91f18fb91b98823e" /* 38.20230709.3.0 */
#define V2 "9368ee0fd0509567a528e88f6bde452da82c65c47a6f6134e8b7432f1af87234" /* 38.20230722.3.0 */
#define V3 "22dd61b72810283c57ec83b9bc9ba3ba5398a612c1394c3ddb524ec306d599a2" /* 38.20230806.3.0 */
#define V2_LAYERED "289c211333f212100a510fe880850239cb1ddd1486528378a7fae5ebbdfcaff8"
#define V3_LAYERED "8cff4f7de4a58adb21f1c8129c4bd4e274a38e1ae24a2cb33ba41df18f2f5d65"
/* Zincati's FCOS 43.20251024.3.0 status sample (oci-booted.json) and the release staged after it */
#define OCI_COMMIT "36ff46d732a070a1bf10f7157f764e316f99a836dcdbf56702798e5042411fe9"
#define OCI_DIGEST "sha256:ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087"
#define OCI_IMAGE "quay.io/fedora/fedora-coreos@" OCI_DIGEST
#define OCI_NEW_DIGEST "sha256:7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b"
#define OCI_NEW_IMAGE "quay.io/fedora/fedora-coreos@" OCI_NEW_DIGEST

static char datadir[PATH_MAX];
static char fake[PATH_MAX + 32];
static char tmp[PATH_MAX];
static char log_path[PATH_MAX + 16];
static char status_path[PATH_MAX + 16];

/* ---- helpers ---- */

static char *data_file(const char *name, size_t *len)
{
        char p[PATH_MAX * 2];
        char *d;

        snprintf(p, sizeof(p), "%s/rpm-ostree/%s", datadir, name);
        if (read_full_file(p, 1 << 20, &d, len) < 0)
                fail_msg("cannot read %s", p);
        return d;
}

static void write_file(const char *path, const char *data, size_t len)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
        write_file(path, text, strlen(text));
}

/* The status the fake replays from now on. */
static void use_status(const char *name)
{
        size_t len;
        _cleanup_free_ char *d = data_file(name, &len);
        write_file(status_path, d, len);
}

static void deploy_status(const char *name)
{
        char p[PATH_MAX * 2];

        snprintf(p, sizeof(p), "%s/rpm-ostree/%s", datadir, name);
        setenv("FAKE_RPMOSTREE_DEPLOY_STATUS", p, 1);
}

static char *read_log(void)
{
        char *d = NULL;
        if (read_full_file(log_path, 1 << 20, &d, NULL) < 0)
                return strdup("");
        return d;
}

static void clear_log(void)
{
        write_file(log_path, "", 0);
}

static void expect_log(const char *expected)
{
        _cleanup_free_ char *l = read_log();
        assert_string_equal(l, expected);
}

static int parse(const char *json, OsStatus *s, Error *e)
{
        *e = (Error){ { 0 } };
        return rpmostree_parse_status(json, strlen(json), NULL, s, e);
}

static void expect_parse_error(const char *json, int r, const char *message)
{
        OsStatus s = { .n_deployments = 4242 }; /* untouched on failure */
        Error e;

        assert_int_equal(parse(json, &s, &e), r);
        assert_int_equal(s.n_deployments, 4242);
        assert_null(s.deployments);
        if (!strstr(e.message, message))
                fail_msg("error '%s' does not contain '%s'", e.message, message);
}

/* One deployment object with the given checksum and extra members. */
static char *one(const char *checksum, const char *extra)
{
        char *s;
        assert_true(asprintf(&s, "{\"checksum\": \"%s\"%s%s}", checksum, extra[0] ? ", " : "", extra) > 0);
        return s;
}

static char *doc_of(const char *a, const char *b, const char *c)
{
        char *s;
        assert_true(asprintf(&s, "{\"deployments\": [%s%s%s%s%s]}", a ? a : "", b ? ", " : "", b ? b : "",
                             c ? ", " : "", c ? c : "") > 0);
        return s;
}

/* ---- fixture ---- */

static int group_setup(void **state)
{
        const char *d = getenv("UPKEEP_TESTDATA");
        char tmpl[] = "/tmp/test-os-rpmostree-XXXXXX";

        /* absolute: a symlink to the fake is made elsewhere */
        if (!realpath(d ? d : "tests/data", datadir)) {
                fprintf(stderr, "%s: not found (set UPKEEP_TESTDATA)\n", d ? d : "tests/data");
                return -1;
        }
        snprintf(fake, sizeof(fake), "%s/fake-rpm-ostree", datadir);
        if (access(fake, X_OK) < 0) {
                fprintf(stderr, "%s: not executable (set UPKEEP_TESTDATA)\n", fake);
                return -1;
        }
        if (!mkdtemp(tmpl))
                return -1;
        snprintf(tmp, sizeof(tmp), "%s", tmpl);
        snprintf(log_path, sizeof(log_path), "%s/log", tmp);
        snprintf(status_path, sizeof(status_path), "%s/status.json", tmp);
        setenv("FAKE_RPMOSTREE_LOG", log_path, 1);
        setenv("FAKE_RPMOSTREE_STATUS", status_path, 1);
        /* replaced by the backend's client id */
        setenv("RPMOSTREE_CLIENT_ID", "not-the-agent", 1);
        return 0;
}

static int group_teardown(void **state)
{
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
        unsetenv("FAKE_RPMOSTREE_DEPLOY_STATUS");
        unsetenv("FAKE_RPMOSTREE_FAIL");
        unsetenv("FAKE_RPMOSTREE_FAIL_MESSAGE");
        unsetenv("FAKE_RPMOSTREE_SLEEP");
        unsetenv("FAKE_RPMOSTREE_CHECK_FD");
        use_status("booted-rollback.json");
        clear_log();
        return 0;
}

static OsBackend *open_fake(const char *client_id, unsigned timeout)
{
        OsBackendOptions o = {
                .kind = OS_BACKEND_RPM_OSTREE,
                .rpm_ostree_path = fake,
                .client_id = client_id,
                .command_timeout_sec = timeout,
        };
        OsBackend *b = NULL;
        Error e = { { 0 } };

        if (os_backend_open(&o, &b, &e) < 0)
                fail_msg("open: %s", e.message);
        clear_log();
        return b;
}

/* ---- the parser ---- */

static void test_parse_booted(void **state)
{
        _cleanup_(os_status_done) OsStatus s = { 0 };
        _cleanup_free_ char *d = NULL;
        size_t len;
        Error e = { { 0 } };

        d = data_file("booted.json", &len);
        assert_int_equal(rpmostree_parse_status(d, len, NULL, &s, &e), 0);
        assert_int_equal(s.n_deployments, 1);
        assert_ptr_equal(s.booted, &s.deployments[0]);
        assert_null(s.staged);
        assert_null(s.rollback);
        assert_string_equal(s.booted->checksum, V1);
        assert_string_equal(s.booted->version, "38.20230709.3.0");
        assert_string_equal(s.booted->stream, "stable");
        assert_string_equal(s.booted->osname, "fedora-coreos");
        assert_int_equal(s.booted->serial, 0);
        assert_int_equal(s.booted->timestamp, 1689011200);
        assert_true(s.booted->booted);
        assert_false(s.booted->staged);
        assert_false(s.booted->rollback);
}

/* A container image host: no commit metadata stream, the image's reference and digest. */
static void test_parse_oci(void **state)
{
        static const char *const files[] = { "oci-booted.json", "oci-annotation.json" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_(os_status_done) OsStatus s = { 0 };
                _cleanup_free_ char *d = NULL;
                size_t len;
                Error e = { { 0 } };

                d = data_file(files[i], &len);
                assert_int_equal(rpmostree_parse_status(d, len, NULL, &s, &e), 0);
                assert_int_equal(s.n_deployments, 1);
                assert_string_equal(s.booted->checksum, OCI_COMMIT);
                assert_string_equal(s.booted->version, "43.20251024.3.0");
                /* the manifest's fedora-coreos.stream annotation (no com.coreos.stream label here) */
                assert_string_equal(s.booted->stream, "stable");
                assert_string_equal(s.booted->image, OCI_IMAGE);
                assert_string_equal(os_deployment_payload(s.booted), OCI_IMAGE);
        }
        {
                _cleanup_(os_status_done) OsStatus s = { 0 };
                _cleanup_free_ char *d = NULL;
                size_t len;
                Error e = { { 0 } };

                /* the com.coreos.stream label wins over the annotation; checksum hosts have no image */
                d = data_file("oci-staged.json", &len);
                assert_int_equal(rpmostree_parse_status(d, len, NULL, &s, &e), 0);
                assert_string_equal(s.staged->image, OCI_NEW_IMAGE);
                assert_string_equal(s.staged->version, "43.20251110.3.1");
                assert_string_equal(s.staged->stream, "stable");
                free(d);
                os_status_done(&s);
                d = data_file("booted.json", &len);
                assert_int_equal(rpmostree_parse_status(d, len, NULL, &s, &e), 0);
                assert_null(s.booted->image);
                assert_string_equal(os_deployment_payload(s.booted), V1);
        }
}

static void expect_image(const char *ref, const char *digest, const char *want)
{
        _cleanup_free_ char *got = NULL;
        int r = os_image_with_digest(ref, digest, &got);

        if (!want) {
                assert_int_equal(r, -EINVAL);
                assert_null(got);
                return;
        }
        assert_int_equal(r, 0);
        assert_string_equal(got, want);
}

static void test_image_references(void **state)
{
        expect_image("ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable", OCI_DIGEST,
                     OCI_IMAGE);
        expect_image("ostree-remote-image:fedora:registry:quay.io/fedora/fedora-coreos:stable", OCI_DIGEST,
                     OCI_IMAGE);
        expect_image("ostree-remote-registry:fedora:quay.io/fedora/fedora-coreos", OCI_DIGEST, OCI_IMAGE);
        expect_image("ostree-unverified-registry:quay.io/fedora/fedora-coreos@" OCI_NEW_DIGEST, OCI_DIGEST,
                     OCI_IMAGE);
        expect_image("ostree-unverified-image:docker://localhost:5000/fcos:testing", OCI_DIGEST,
                     "localhost:5000/fcos@" OCI_DIGEST);
        expect_image("ostree-unverified-registry:fedora/fcos:1", OCI_DIGEST,
                     "docker.io/fedora/fcos@" OCI_DIGEST);
        expect_image("ostree-unverified-registry:fcos", OCI_DIGEST, "docker.io/library/fcos@" OCI_DIGEST);
        /* no registry name, or no sha256 digest */
        expect_image("ostree-unverified-image:oci:/var/fcos", OCI_DIGEST, NULL);
        expect_image("quay.io/fedora/fedora-coreos:stable", OCI_DIGEST, NULL);
        expect_image("ostree-remote-image:fedora", OCI_DIGEST, NULL);
        expect_image("ostree-unverified-registry:", OCI_DIGEST, NULL);
        expect_image("ostree-unverified-registry:quay.io/x:1", "sha512:ab", NULL);
        expect_image("ostree-unverified-registry:quay.io/x:1", OCI_COMMIT, NULL);

        assert_string_equal(os_image_digest(OCI_IMAGE), OCI_DIGEST);
        assert_null(os_image_digest(OCI_COMMIT));
        assert_null(os_image_digest("@" OCI_DIGEST));
        assert_null(os_image_digest("quay.io/x@sha256:ABCD"));
        assert_null(os_image_digest(NULL));
}

static void test_parse_booted_rollback(void **state)
{
        _cleanup_(os_status_done) OsStatus s = { 0 };
        _cleanup_free_ char *d = NULL;
        size_t len;
        Error e = { { 0 } };

        d = data_file("booted-rollback.json", &len);
        assert_int_equal(rpmostree_parse_status(d, len, NULL, &s, &e), 0);
        assert_int_equal(s.n_deployments, 2);
        assert_ptr_equal(s.booted, &s.deployments[0]);
        assert_ptr_equal(s.rollback, &s.deployments[1]);
        assert_null(s.staged);
        assert_string_equal(s.booted->checksum, V2);
        assert_string_equal(s.rollback->checksum, V1);
        assert_true(s.rollback->rollback);
}

static void test_parse_staged(void **state)
{
        _cleanup_(os_status_done) OsStatus s = { 0 };
        _cleanup_free_ char *d = NULL;
        size_t len;
        Error e = { { 0 } };

        d = data_file("staged.json", &len);
        assert_int_equal(rpmostree_parse_status(d, len, NULL, &s, &e), 0);
        assert_int_equal(s.n_deployments, 3);
        assert_ptr_equal(s.staged, &s.deployments[0]);
        assert_ptr_equal(s.booted, &s.deployments[1]);
        assert_ptr_equal(s.rollback, &s.deployments[2]);
        assert_string_equal(s.staged->checksum, V3);
        assert_string_equal(s.staged->version, "38.20230806.3.0");
        assert_string_equal(s.booted->checksum, V2);
        assert_string_equal(s.rollback->checksum, V1);
        assert_true(s.staged->staged && !s.staged->booted && !s.staged->rollback);
}

static void test_parse_layered(void **state)
{
        _cleanup_(os_status_done) OsStatus s = { 0 };
        _cleanup_free_ char *d = NULL;
        size_t len;
        Error e = { { 0 } };

        /* the commit is base-checksum when packages are layered */
        d = data_file("layered.json", &len);
        assert_int_equal(rpmostree_parse_status(d, len, NULL, &s, &e), 0);
        assert_int_equal(s.n_deployments, 3);
        assert_string_equal(s.staged->checksum, V3);
        assert_string_equal(s.booted->checksum, V2);
        assert_string_equal(s.rollback->checksum, V1);
        assert_int_equal(s.staged->serial, 1);
        os_status_done(&s);

        /* another stream key */
        assert_int_equal(rpmostree_parse_status(d, len, "coreos-assembler.basearch", &s, &e), 0);
        assert_string_equal(s.booted->stream, "x86_64");
        os_status_done(&s);
        assert_int_equal(rpmostree_parse_status(d, len, "no.such.key", &s, &e), 0);
        assert_null(s.booted->stream);
}

static void test_parse_optional(void **state)
{
        _cleanup_(os_status_done) OsStatus s = { 0 };
        _cleanup_free_ char *a = one(V1, "\"booted\": true, \"version\": null, \"base-checksum\": null, "
                                         "\"base-commit-meta\": {\"fedora-coreos.stream\": null}");
        _cleanup_free_ char *b = one(V2, "\"staged\": true");
        _cleanup_free_ char *c = one(V3, "");
        _cleanup_free_ char *d = doc_of(b, a, c);
        Error e;

        assert_int_equal(parse(d, &s, &e), 0);
        assert_int_equal(s.n_deployments, 3);
        assert_null(s.booted->version);
        assert_null(s.booted->stream);
        assert_null(s.booted->osname);
        assert_int_equal(s.booted->serial, -1);
        assert_int_equal(s.booted->timestamp, 0);
        assert_string_equal(s.staged->checksum, V2);
        assert_string_equal(s.rollback->checksum, V3);
        os_status_done(&s);

        /* nothing booted: no booted and no rollback role */
        assert_int_equal(parse("{\"deployments\": []}", &s, &e), 0);
        assert_int_equal(s.n_deployments, 0);
        assert_null(s.booted);
        os_status_done(&s);
        {
                _cleanup_free_ char *x = one(V1, "");
                _cleanup_free_ char *y = doc_of(x, NULL, NULL);
                assert_int_equal(parse(y, &s, &e), 0);
                assert_null(s.booted);
                assert_null(s.rollback);
        }
        os_status_done(&s);

        /* the rollback is the first deployment after the booted one that is not staged */
        {
                _cleanup_free_ char *x = one(V1, "\"booted\": true");
                _cleanup_free_ char *y = one(V2, "\"staged\": true");
                _cleanup_free_ char *z = doc_of(x, y, c);
                assert_int_equal(parse(z, &s, &e), 0);
                assert_ptr_equal(s.booted, &s.deployments[0]);
                assert_ptr_equal(s.staged, &s.deployments[1]);
                assert_ptr_equal(s.rollback, &s.deployments[2]);
        }
}

static void test_parse_errors(void **state)
{
        char *d;

        expect_parse_error("", -EINVAL, "status document: line 1");
        expect_parse_error("not json", -EINVAL, "status document: line 1");
        expect_parse_error("{\"deployments\": []} x", -EINVAL, "status document");
        expect_parse_error("{\"deployments\": [], \"deployments\": []}", -EINVAL, "status document");
        expect_parse_error("[]", -EINVAL, "status document: must be an object, got array");
        expect_parse_error("{}", -EINVAL, "deployments: missing");
        expect_parse_error("{\"deployments\": {}}", -EINVAL, "deployments: must be an array, got object");
        expect_parse_error("{\"deployments\": [3]}", -EINVAL,
                           "deployments[0]: must be an object, got integer");
        expect_parse_error("{\"deployments\": [{}]}", -EINVAL, "deployments[0].checksum: missing");

        /* the third deployment's checksum, named */
        {
                _cleanup_free_ char *a = one(V1, "\"booted\": true");
                _cleanup_free_ char *b = one(V2, "");
                _cleanup_free_ char *c = one("3a7c", "");
                d = doc_of(a, b, c);
                expect_parse_error(d, -EINVAL, "deployments[2].checksum: must be a 64-hex-digit string");
                free(d);
        }
        {
                _cleanup_free_ char *a =
                        one("5F83200B08BFAD7BBA2BFF2DFC7E2E4B2DBC4B71F08B714F91F18FB91B98823E", "");
                d = doc_of(a, NULL, NULL);
                expect_parse_error(d, -EINVAL, "deployments[0].checksum: must be a 64-hex-digit string");
                free(d);
        }
        expect_parse_error("{\"deployments\": [{\"checksum\": 5}]}", -EINVAL,
                           "deployments[0].checksum: must be a string, got integer");
#define WITH(extra, message)                                                                                \
        do {                                                                                                \
                _cleanup_free_ char *a_ = one(V1, extra);                                                   \
                _cleanup_free_ char *d_ = doc_of(a_, NULL, NULL);                                           \
                expect_parse_error(d_, -EINVAL, message);                                                   \
        } while (0)
        WITH("\"base-checksum\": \"abc\"", "deployments[0].base-checksum: must be a 64-hex-digit string");
        WITH("\"booted\": \"yes\"", "deployments[0].booted: must be a boolean, got string");
        WITH("\"staged\": 1", "deployments[0].staged: must be a boolean, got integer");
        WITH("\"version\": 38", "deployments[0].version: must be a string, got integer");
        WITH("\"osname\": []", "deployments[0].osname: must be a string, got array");
        WITH("\"serial\": -1", "deployments[0].serial: must be within");
        WITH("\"serial\": 2147483648", "deployments[0].serial: must be within");
        WITH("\"serial\": 1.5", "deployments[0].serial: must be an integer, got number");
        WITH("\"timestamp\": -5", "deployments[0].timestamp: must not be negative");
        WITH("\"base-commit-meta\": []", "deployments[0].base-commit-meta: must be an object, got array");
        WITH("\"base-commit-meta\": {\"fedora-coreos.stream\": 7}",
             "deployments[0].base-commit-meta.fedora-coreos.stream: must be a string, got integer");
        WITH("\"booted\": true, \"staged\": true", "deployments[0]: both booted and staged");
        WITH("\"version\": \"a\\u0000b\"", "status document");
#undef WITH
        {
                _cleanup_free_ char *a = one(V1, "\"booted\": true");
                _cleanup_free_ char *b = one(V2, "\"booted\": true");
                d = doc_of(a, b, NULL);
                expect_parse_error(d, -EINVAL, "deployments[1].booted: deployments[0] is booted already");
                free(d);
        }
        {
                _cleanup_free_ char *a = one(V1, "\"staged\": true");
                _cleanup_free_ char *b = one(V2, "\"booted\": true");
                _cleanup_free_ char *c = one(V3, "\"staged\": true");
                d = doc_of(a, b, c);
                expect_parse_error(d, -EINVAL, "deployments[2].staged: deployments[0] is staged already");
                free(d);
        }
}

static void test_parse_limits(void **state)
{
        _cleanup_(os_status_done) OsStatus s = { 0 };
        size_t cap = RPMOSTREE_STATUS_MAX_BYTES + 1;
        _cleanup_free_ char *big = malloc(cap + 1);
        Buf b = BUF_INIT(1 << 20);
        Error e = { { 0 } };

        /* 64 deployments are fine, 65 are not */
        for (int n = 64; n <= 65; n++) {
                buf_truncate(&b, 0);
                assert_int_equal(buf_puts(&b, "{\"deployments\": ["), 0);
                for (int i = 0; i < n; i++)
                        assert_int_equal(buf_printf(&b, "%s{\"checksum\": \"%s\"}", i ? "," : "", V1), 0);
                assert_int_equal(buf_puts(&b, "]}"), 0);
                if (n == 64) {
                        assert_int_equal(rpmostree_parse_status(b.data, b.len, NULL, &s, &e), 0);
                        assert_int_equal(s.n_deployments, 64);
                        os_status_done(&s);
                } else {
                        assert_int_equal(rpmostree_parse_status(b.data, b.len, NULL, &s, &e), -E2BIG);
                        assert_string_equal(e.message, "deployments: more than 64 entries");
                }
        }
        buf_free(&b);

        /* over 4 MiB: refused before parsing */
        assert_non_null(big);
        memset(big, ' ', cap);
        memcpy(big, "{\"deployments\": []}", 19);
        big[cap] = 0;
        assert_int_equal(rpmostree_parse_status(big, cap, NULL, &s, &e), -EFBIG);
        assert_non_null(strstr(e.message, "larger than 4194304 bytes"));
        assert_int_equal(rpmostree_parse_status(big, cap - 1, NULL, &s, &e), 0);
        assert_int_equal(rpmostree_parse_status(NULL, 0, NULL, &s, &e), -EINVAL);
}

static void test_roles_and_checksums(void **state)
{
        OsDeployment d[4] = {
                { .staged = true, .rollback = true }, { .booted = true }, { .staged = true }, { 0 }
        };
        OsStatus s = { .deployments = d, .n_deployments = 4 };

        os_status_assign_roles(&s);
        assert_ptr_equal(s.staged, &d[0]);
        assert_ptr_equal(s.booted, &d[1]);
        assert_ptr_equal(s.rollback, &d[3]); /* d[2] is flagged staged: not a rollback */
        assert_false(d[0].rollback);
        assert_false(d[2].staged);

        assert_true(os_checksum_valid(V1));
        assert_false(os_checksum_valid(NULL));
        assert_false(os_checksum_valid(""));
        assert_false(os_checksum_valid(V1 "0"));
        assert_false(os_checksum_valid("gf83200b08bfad7bba2bff2dfc7e2e4b2dbc4b71f08b714f91f18fb91b98823e"));
}

/* ---- the backend ---- */

static void test_open_registers(void **state)
{
        OsBackendOptions o = { .kind = OS_BACKEND_RPM_OSTREE, .rpm_ostree_path = fake };
        OsBackend *b = NULL;
        Error e = { { 0 } };

        assert_int_equal(os_backend_open(&o, &b, &e), 0);
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [deploy] [] [--register-driver=upkeep-agent]\n");
        assert_true(os_backend_finalize_reboots(b));
        os_backend_free(b);

        clear_log();
        o.client_id = "zincati";
        assert_int_equal(os_backend_open(&o, &b, &e), 0);
        expect_log("client=zincati argv: [status] [--json]\n"
                   "client=zincati argv: [deploy] [] [--register-driver=zincati]\n");
        os_backend_free(b);

        o.client_id = "bad id; rm -rf /";
        assert_int_equal(os_backend_open(&o, &b, &e), -EINVAL);
        assert_non_null(strstr(e.message, "client id"));
}

static void test_open_from_path(void **state)
{
        char bin[PATH_MAX + 16], link[PATH_MAX + 32], path[8192];
        const char *old = getenv("PATH");
        _cleanup_free_ char *saved = strdup(old ? old : "/usr/bin:/bin");
        OsBackendOptions o = { .kind = OS_BACKEND_RPM_OSTREE };
        OsBackend *b = NULL;
        Error e = { { 0 } };

        snprintf(bin, sizeof(bin), "%s/bin", tmp);
        snprintf(link, sizeof(link), "%s/rpm-ostree", bin);
        (void)mkdir(bin, 0755);
        (void)unlink(link);
        assert_int_equal(symlink(fake, link), 0);
        snprintf(path, sizeof(path), "%s:%s", bin, saved);
        setenv("PATH", path, 1);
        assert_int_equal(os_backend_open(&o, &b, &e), 0);
        setenv("PATH", saved, 1);
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [deploy] [] [--register-driver=upkeep-agent]\n");
        os_backend_free(b);

        o.rpm_ostree_path = "/nonexistent/rpm-ostree";
        assert_int_equal(os_backend_open(&o, &b, &e), -ENOENT);
        assert_non_null(strstr(e.message, "cannot run '/nonexistent/rpm-ostree'"));
}

static void test_status(void **state)
{
        OsBackend *b;
        _cleanup_(os_status_done) OsStatus s = { 0 };
        Error e = { { 0 } };

        use_status("staged.json");
        b = open_fake(NULL, 0);
        assert_int_equal(os_backend_status(b, &s, &e), 0);
        expect_log("client=upkeep-agent argv: [status] [--json]\n");
        assert_string_equal(s.staged->checksum, V3);
        assert_string_equal(s.booted->checksum, V2);
        assert_string_equal(s.rollback->checksum, V1);
        os_backend_free(b);
}

static void test_stage(void **state)
{
        OsBackend *b = open_fake(NULL, 0);
        _cleanup_(os_status_done) OsStatus s = { 0 };
        Error e = { { 0 } };

        deploy_status("staged.json");
        assert_int_equal(os_backend_stage(b, V3, "38.20230806.3.0", false, NULL, NULL, &e), 0);
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [deploy] [--lock-finalization] [--skip-branch-check] "
                   "[revision=" V3 "] [--disallow-downgrade]\n"
                   "client=upkeep-agent argv: [status] [--json]\n");
        assert_int_equal(os_backend_status(b, &s, &e), 0);
        assert_string_equal(s.staged->checksum, V3);

        /* already staged: no command */
        clear_log();
        assert_int_equal(os_backend_stage(b, V3, "38.20230806.3.0", false, NULL, NULL, &e), 0);
        expect_log("client=upkeep-agent argv: [status] [--json]\n");

        /* downgrades allowed: no --disallow-downgrade */
        use_status("booted-rollback.json");
        clear_log();
        assert_int_equal(os_backend_stage(b, V3, NULL, true, NULL, NULL, &e), 0);
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [deploy] [--lock-finalization] [--skip-branch-check] "
                   "[revision=" V3 "]\n"
                   "client=upkeep-agent argv: [status] [--json]\n");

        /* the booted commit */
        use_status("booted-rollback.json");
        clear_log();
        assert_int_equal(os_backend_stage(b, V2, NULL, false, NULL, NULL, &e), -EALREADY);
        expect_log("client=upkeep-agent argv: [status] [--json]\n");

        /* not a checksum: nothing run */
        clear_log();
        assert_int_equal(os_backend_stage(b, "revision=x", NULL, false, NULL, NULL, &e), -EINVAL);
        expect_log("");
        os_backend_free(b);
}

/* An image is deployed and finalized by digest, as Zincati does (cli_deploy.rs, cli_finalize.rs). */
static void test_stage_and_finalize_oci(void **state)
{
        OsBackend *b;
        Error e = { { 0 } };

        use_status("oci-booted.json");
        b = open_fake(NULL, 0);
        deploy_status("oci-staged.json");
        assert_int_equal(os_backend_stage(b, OCI_NEW_IMAGE, "43.20251110.3.1", false, NULL, NULL, &e), 0);
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [deploy] [--lock-finalization] [" OCI_NEW_DIGEST
                   "] [--disallow-downgrade]\n"
                   "client=upkeep-agent argv: [status] [--json]\n");
        clear_log();
        assert_int_equal(os_backend_finalize(b, OCI_NEW_IMAGE, &e), 0);
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [finalize-deployment] [" OCI_NEW_DIGEST "]\n");

        /* the booted image, an image staged elsewhere, an image for a checksum host */
        use_status("oci-booted.json");
        clear_log();
        assert_int_equal(os_backend_stage(b, OCI_IMAGE, NULL, false, NULL, NULL, &e), -EALREADY);
        assert_int_equal(os_backend_finalize(b, OCI_NEW_IMAGE, &e), -ENOENT);
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [status] [--json]\n");
        deploy_status("staged.json");
        clear_log();
        assert_int_equal(os_backend_stage(b, OCI_NEW_IMAGE, NULL, true, NULL, NULL, &e), -EIO);
        assert_non_null(strstr(e.message, "staged"));
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [deploy] [--lock-finalization] [" OCI_NEW_DIGEST "]\n"
                   "client=upkeep-agent argv: [status] [--json]\n");
        /* a tag is not a digest: nothing run */
        clear_log();
        assert_int_equal(
                os_backend_stage(b, "quay.io/fedora/fedora-coreos:stable", NULL, true, NULL, NULL, &e),
                -EINVAL);
        expect_log("");
        os_backend_free(b);
}

static void test_stage_layered(void **state)
{
        OsBackend *b;
        Error e = { { 0 } };

        /* booted: a layered deployment; after deploy, the staged one is layered on V3 */
        use_status("layered.json");
        b = open_fake(NULL, 0);
        use_status("booted-rollback.json");
        deploy_status("layered.json");
        assert_int_equal(os_backend_stage(b, V3, "38.20230806.3.0", false, NULL, NULL, &e), 0);
        /* the layered commit itself is not what is staged */
        use_status("layered.json");
        unsetenv("FAKE_RPMOSTREE_DEPLOY_STATUS");
        assert_int_equal(os_backend_stage(b, V3_LAYERED, NULL, false, NULL, NULL, &e), -EIO);
        assert_int_equal(os_backend_stage(b, V2_LAYERED, NULL, false, NULL, NULL, &e), -EIO);
        os_backend_free(b);
}

static void test_stage_verification(void **state)
{
        OsBackend *b = open_fake(NULL, 0);
        Error e = { { 0 } };

        /* rpm-ostree succeeded but nothing is staged */
        assert_int_equal(os_backend_stage(b, V3, NULL, false, NULL, NULL, &e), -EIO);
        assert_non_null(strstr(e.message, "no staged deployment"));

        /* another commit is staged */
        use_status("booted-rollback.json");
        deploy_status("staged.json");
        assert_int_equal(os_backend_stage(b, V1, NULL, true, NULL, NULL, &e), -EIO);
        assert_non_null(strstr(e.message, "staged 22dd61b72810… instead"));

        /* the wrong version */
        use_status("booted-rollback.json");
        assert_int_equal(os_backend_stage(b, V3, "38.20230806.4.0", false, NULL, NULL, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "version '38.20230806.3.0', expected '38.20230806.4.0'"));
        os_backend_free(b);
}

static void test_command_failure(void **state)
{
        OsBackend *b = open_fake(NULL, 0);
        Error e = { { 0 } };

        setenv("FAKE_RPMOSTREE_FAIL", "deploy", 1);
        assert_int_equal(os_backend_stage(b, V3, NULL, false, NULL, NULL, &e), -EIO);
        assert_non_null(
                strstr(e.message, "rpm-ostree deploy --lock-finalization --skip-branch-check revision=" V3));
        assert_non_null(strstr(e.message, "exited with status 1"));
        /* the last lines of stderr, on one line */
        assert_non_null(strstr(e.message, "Checking out tree 1a2b3c... done; Staging deployment... failed; "
                                          "error: simulated failure"));
        assert_null(strstr(e.message, "not the reason"));

        /* rpm-ostree's downgrade refusal */
        setenv("FAKE_RPMOSTREE_FAIL_MESSAGE",
               "error: Upgrade target revision '" V1
               "' with timestamp 'Mon Jul 10' is chronologically older "
               "than current revision '" V2 "' with timestamp 'Sat Jul 22'; use --allow-downgrade to permit",
               1);
        assert_int_equal(os_backend_stage(b, V1, NULL, false, NULL, NULL, &e), -EPERM);

        /* status fails: named */
        setenv("FAKE_RPMOSTREE_FAIL", "status", 1);
        unsetenv("FAKE_RPMOSTREE_FAIL_MESSAGE");
        assert_int_equal(os_backend_stage(b, V3, NULL, false, NULL, NULL, &e), -EIO);
        assert_non_null(strstr(e.message, "rpm-ostree status --json: exited with status 1"));
        os_backend_free(b);

        /* registration fails: open fails */
        setenv("FAKE_RPMOSTREE_FAIL", "deploy", 1);
        {
                OsBackendOptions o = { .kind = OS_BACKEND_RPM_OSTREE, .rpm_ostree_path = fake };
                assert_int_equal(os_backend_open(&o, &b, &e), -EIO);
                assert_non_null(
                        strstr(e.message, "rpm-ostree deploy \"\" --register-driver=upkeep-agent: exited"));
        }
}

static void test_timeout(void **state)
{
        OsBackendOptions o = { .kind = OS_BACKEND_RPM_OSTREE,
                               .rpm_ostree_path = fake,
                               .command_timeout_sec = 1 };
        struct timespec t0, t1;
        OsBackend *b = NULL;
        Error e = { { 0 } };
        double elapsed;

        setenv("FAKE_RPMOSTREE_SLEEP", "status", 1);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(os_backend_open(&o, &b, &e), -ETIMEDOUT);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        assert_true(elapsed >= 0.9 && elapsed < 5);
        assert_non_null(strstr(e.message, "rpm-ostree status --json: timed out after 1 s"));

        /* finalize-deployment that does not return (the host would be rebooting) */
        unsetenv("FAKE_RPMOSTREE_SLEEP");
        use_status("staged.json");
        assert_int_equal(os_backend_open(&o, &b, &e), 0);
        setenv("FAKE_RPMOSTREE_SLEEP", "finalize-deployment", 1);
        assert_int_equal(os_backend_finalize(b, V3, &e), -ETIMEDOUT);
        os_backend_free(b);
}

static void test_garbage_output(void **state)
{
        OsBackendOptions o = { .kind = OS_BACKEND_RPM_OSTREE, .rpm_ostree_path = fake };
        size_t big = RPMOSTREE_STATUS_MAX_BYTES + 4096;
        _cleanup_free_ char *data = malloc(big);
        OsBackend *b = NULL;
        Error e = { { 0 } };

        write_text(status_path, "error: this is not JSON\n");
        assert_int_equal(os_backend_open(&o, &b, &e), -EINVAL);
        assert_non_null(strstr(e.message, "rpm-ostree status --json: status document: line 1"));

        write_text(status_path, "{\"deployments\": [{\"checksum\": \"3a7c\"}]}");
        assert_int_equal(os_backend_open(&o, &b, &e), -EINVAL);
        assert_string_equal(
                e.message,
                "rpm-ostree status --json: deployments[0].checksum: must be a 64-hex-digit string");

        /* more than 4 MiB of output: the command is killed */
        assert_non_null(data);
        memset(data, ' ', big);
        write_file(status_path, data, big);
        assert_int_equal(os_backend_open(&o, &b, &e), -EFBIG);
        assert_non_null(strstr(e.message, "output larger than 4194304 bytes"));
}

static void test_finalize(void **state)
{
        OsBackend *b;
        Error e = { { 0 } };

        use_status("staged.json");
        b = open_fake(NULL, 0);
        assert_int_equal(os_backend_finalize(b, V3, &e), 0);
        expect_log("client=upkeep-agent argv: [status] [--json]\n"
                   "client=upkeep-agent argv: [finalize-deployment] [" V3 "]\n");

        /* not the staged commit: nothing run but status */
        clear_log();
        assert_int_equal(os_backend_finalize(b, V1, &e), -ENOENT);
        assert_non_null(strstr(e.message, "no staged deployment"));
        expect_log("client=upkeep-agent argv: [status] [--json]\n");

        setenv("FAKE_RPMOSTREE_FAIL", "finalize-deployment", 1);
        assert_int_equal(os_backend_finalize(b, V3, &e), -EIO);
        assert_non_null(strstr(e.message, "rpm-ostree finalize-deployment " V3 ": exited with status 1"));
        os_backend_free(b);
}

static void test_no_inherited_fds(void **state)
{
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
        char n[16];
        OsBackend *b;

        assert_true(fd >= 3);
        snprintf(n, sizeof(n), "%d", fd);
        setenv("FAKE_RPMOSTREE_CHECK_FD", n, 1);
        b = open_fake(NULL, 0);
        {
                _cleanup_(os_status_done) OsStatus s = { 0 };
                Error e = { { 0 } };
                assert_int_equal(os_backend_status(b, &s, &e), 0);
        }
        expect_log("client=upkeep-agent argv: [status] [--json]\n");
        os_backend_free(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_booted),
                cmocka_unit_test(test_parse_oci),
                cmocka_unit_test(test_image_references),
                cmocka_unit_test(test_parse_booted_rollback),
                cmocka_unit_test(test_parse_staged),
                cmocka_unit_test(test_parse_layered),
                cmocka_unit_test(test_parse_optional),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_parse_limits),
                cmocka_unit_test(test_roles_and_checksums),
                cmocka_unit_test_setup(test_open_registers, setup),
                cmocka_unit_test_setup(test_open_from_path, setup),
                cmocka_unit_test_setup(test_status, setup),
                cmocka_unit_test_setup(test_stage, setup),
                cmocka_unit_test_setup(test_stage_and_finalize_oci, setup),
                cmocka_unit_test_setup(test_stage_layered, setup),
                cmocka_unit_test_setup(test_stage_verification, setup),
                cmocka_unit_test_setup(test_command_failure, setup),
                cmocka_unit_test_setup(test_timeout, setup),
                cmocka_unit_test_setup(test_garbage_output, setup),
                cmocka_unit_test_setup(test_finalize, setup),
                cmocka_unit_test_setup(test_no_inherited_fds, setup),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

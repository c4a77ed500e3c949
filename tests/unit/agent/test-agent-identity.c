/* test-agent-identity.c — the agent's identity: uuid formatting and validation, the platform from
 * realistic kernel command lines, and Zincati's graph request URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-identity.h"

/* NULL where the contract forbids it is a programmer error: expr must abort (assert()) in a child. */
#define assert_aborts(expr)                                                                                 \
        do {                                                                                                \
                pid_t _pid = fork();                                                                        \
                int _status = 0;                                                                            \
                assert_true(_pid >= 0);                                                                     \
                if (_pid == 0) {                                                                            \
                        int _null = open("/dev/null", O_WRONLY);                                            \
                        dup2(_null, STDERR_FILENO); /* the assertion's message */                           \
                        (void)(expr);                                                                       \
                        _exit(0);                                                                           \
                }                                                                                           \
                assert_int_equal(waitpid(_pid, &_status, 0), _pid);                                         \
                assert_true(WIFSIGNALED(_status) && WTERMSIG(_status) == SIGABRT);                          \
        } while (0)

static void test_uuid(void **state)
{
        static const uint8_t bytes[16] = { 0xde, 0x35, 0x10, 0x6b, 0x6e, 0xc2, 0x46, 0x88,
                                           0xb6, 0x3a, 0xfd, 0xda, 0xa1, 0x56, 0x67, 0x9b };
        char out[33];

        (void)state;
        assert_int_equal(identity_format_uuid(bytes, out), 0);
        assert_string_equal(out, "de35106b6ec24688b63afddaa156679b");

        assert_int_equal(identity_parse_uuid("DE35106B6EC24688B63AFDDAA156679B", out), 0);
        assert_string_equal(out, "de35106b6ec24688b63afddaa156679b");
        memset(out, 'x', sizeof(out));
        assert_int_equal(identity_parse_uuid("de35106b-6ec2-4688-b63a-fddaa156679b", out), 0);
        assert_string_equal(out, "de35106b6ec24688b63afddaa156679b");

        memcpy(out, "unchanged", 10);
        assert_int_equal(identity_parse_uuid("", out), -EINVAL);
        assert_int_equal(identity_parse_uuid("de35106b6ec24688b63afddaa156679", out), -EINVAL);
        assert_int_equal(identity_parse_uuid("de35106b6ec24688b63afddaa156679b0", out), -EINVAL);
        assert_int_equal(identity_parse_uuid("de35106b6ec24688b63afddaa156679g", out), -EINVAL);
        assert_int_equal(identity_parse_uuid(" e35106b6ec24688b63afddaa156679b", out), -EINVAL);
        assert_int_equal(identity_parse_uuid("de35106b-6ec2-4688-b63a_fddaa156679b", out), -EINVAL);
        assert_int_equal(identity_parse_uuid("de35106b6-ec2-4688-b63a-fddaa156679b", out), -EINVAL);
        assert_int_equal(identity_parse_uuid("{de35106b-6ec2-4688-b63a-fddaa15667}", out), -EINVAL);
        assert_string_equal(out, "unchanged");
        assert_aborts(identity_parse_uuid(NULL, out));
        assert_aborts(identity_parse_uuid("de35106b6ec24688b63afddaa156679b", NULL));
        assert_aborts(identity_format_uuid(NULL, out));
}

static void check_platform(const char *cmdline, int want_r, const char *want)
{
        char *v = (char *)"untouched";
        int r = identity_parse_platform(cmdline, &v);

        assert_int_equal(r, want_r);
        if (r == 0) {
                assert_string_equal(v, want);
                free(v);
        } else
                assert_string_equal(v, "untouched");
}

static void test_platform(void **state)
{
        (void)state;
        check_platform("BOOT_IMAGE=(hd0,gpt3)/ostree/fedora-coreos-4d6f/vmlinuz-5.9.16-200.fc33.x86_64 "
                       "mitigations=auto,nosmt console=tty0 ignition.platform.id=qemu console=ttyS0 "
                       "ostree=/ostree/boot.1/fedora-coreos/4d6f/0 root=UUID=0d7f rw rootflags=prjquota\n",
                       0, "qemu");
        check_platform("ignition.platform.id=metal", 0, "metal");
        check_platform("ignition.platform.id=aws\n", 0, "aws");
        check_platform("a=b\tignition.platform.id=gcp\tc", 0, "gcp");
        /* The first occurrence wins. */
        check_platform("ignition.platform.id=azure ignition.platform.id=qemu", 0, "azure");
        /* Quotes group and are removed. */
        check_platform("foo=\"a b\" ignition.platform.id=\"open stack\" x", 0, "open stack");
        check_platform("\"ignition.platform.id=vmware\"", 0, "vmware");
        /* Near misses. */
        check_platform("", -ENOENT, NULL);
        check_platform("BOOT_IMAGE=/vmlinuz console=ttyS0\n", -ENOENT, NULL);
        check_platform("xignition.platform.id=qemu", -ENOENT, NULL);
        check_platform("ignition.platform.idx=qemu ignition.platform.id", -ENOENT, NULL);
        check_platform("foo=\"ignition.platform.id=qemu bar\"", -ENOENT, NULL);
        check_platform("ignition.platform.id= console=ttyS0", -EINVAL, NULL);

        /* Bounded value and command line. */
        char big[600];
        memcpy(big, "ignition.platform.id=", 21);
        memset(big + 21, 'p', sizeof(big) - 22);
        big[sizeof(big) - 1] = 0;
        check_platform(big, -E2BIG, NULL);
        big[21 + IDENTITY_PLATFORM_MAX] = 0;
        char *v = NULL;
        assert_int_equal(identity_parse_platform(big, &v), 0);
        assert_int_equal(strlen(v), IDENTITY_PLATFORM_MAX);
        free(v);

        char *huge = malloc(IDENTITY_CMDLINE_MAX + 2);
        assert_non_null(huge);
        memset(huge, ' ', IDENTITY_CMDLINE_MAX + 1);
        huge[IDENTITY_CMDLINE_MAX + 1] = 0;
        check_platform(huge, -E2BIG, NULL);
        huge[IDENTITY_CMDLINE_MAX] = 0;
        check_platform(huge, -ENOENT, NULL);
        free(huge);
        assert_aborts(identity_parse_platform(NULL, &v));
        assert_aborts(identity_parse_platform("ignition.platform.id=qemu", NULL));
}

static Identity sample(void)
{
        Identity id = {
                .node_uuid = "de35106b6ec24688b63afddaa156679b",
                .group = strdup("default"),
                .basearch = strdup("x86_64"),
                .platform = strdup("qemu"),
                .stream = strdup("stable"),
                .os_version = strdup("33.20201201.3.0"),
                .os_checksum = strdup("cad80088392f9b8b0d7eb7e5bc5a2b10b52d9e5ec6df47e4a3b7e0fac7cfb5a3"),
        };
        assert_non_null(id.os_checksum);
        return id;
}

#define QUERY                                                                                               \
        "?basearch=x86_64&os_version=33.20201201.3.0&group=default&node_uuid="                              \
        "de35106b6ec24688b63afddaa156679b"                                                                  \
        "&platform=qemu&stream=stable&os_checksum="                                                         \
        "cad80088392f9b8b0d7eb7e5bc5a2b10b52d9e5ec6df47e4a3b7e0fac7cfb5a3"

static void check_url(const char *base, const Identity *id, const char *want)
{
        Buf b = BUF_INIT(8192);

        assert_int_equal(graph_request_url(base, id, &b), 0);
        assert_string_equal(b.data, want);
        buf_free(&b);
}

static void test_url_join(void **state)
{
        Identity id = sample();

        (void)state;
        check_url("https://updates.coreos.fedoraproject.org", &id,
                  "https://updates.coreos.fedoraproject.org/v1/graph" QUERY);
        check_url("https://h/x/", &id, "https://h/x/v1/graph" QUERY);
        check_url("https://h/x", &id, "https://h/v1/graph" QUERY);
        check_url("https://h/", &id, "https://h/v1/graph" QUERY);
        check_url("http://user@h:8080/a/b/c", &id, "http://user@h:8080/a/b/v1/graph" QUERY);
        /* The base's query and fragment are dropped; a '/' inside them is no path. */
        check_url("https://h/x/?token=a/b#frag", &id, "https://h/x/v1/graph" QUERY);
        check_url("https://h?x=/y/", &id, "https://h/v1/graph" QUERY);
        check_url("https://h#/y/", &id, "https://h/v1/graph" QUERY);
        /* Dot segments are removed, never above the root. */
        check_url("https://h/a/./b/../c/", &id, "https://h/a/c/v1/graph" QUERY);
        check_url("https://h/../../x/", &id, "https://h/x/v1/graph" QUERY);
        check_url("https://h/a/%2E%2e/b/", &id, "https://h/b/v1/graph" QUERY);
        check_url("https://h//x//", &id, "https://h//x//v1/graph" QUERY);
        identity_done(&id);
}

/* A container image host sends its image with digest as os_checksum and oci=true (Zincati's identity). */
static void test_url_oci(void **state)
{
        Identity id = sample();

        (void)state;
        free(id.os_checksum);
        id.os_checksum = strdup("quay.io/fedora/fedora-coreos@sha256:"
                                "ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087");
        id.oci = true;
        check_url("https://h/", &id,
                  "https://h/v1/graph?basearch=x86_64&os_version=33.20201201.3.0&group=default"
                  "&node_uuid=de35106b6ec24688b63afddaa156679b&platform=qemu&stream=stable"
                  "&os_checksum=quay.io%2Ffedora%2Ffedora-coreos%40sha256%3A"
                  "ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087&oci=true");
        identity_done(&id);
}

static void test_url_query(void **state)
{
        Identity id = sample();
        Buf b = BUF_INIT(8192);

        (void)state;
        free(id.group);
        id.group = strdup("a b&c=d/é~*-._+%");
        free(id.platform);
        id.platform = NULL; /* sent empty */
        check_url("https://h/", &id,
                  "https://h/v1/graph?basearch=x86_64&os_version=33.20201201.3.0"
                  "&group=a+b%26c%3Dd%2F%C3%A9%7E*-._%2B%25&node_uuid=de35106b6ec24688b63afddaa156679b"
                  "&platform=&stream=stable"
                  "&os_checksum=cad80088392f9b8b0d7eb7e5bc5a2b10b52d9e5ec6df47e4a3b7e0fac7cfb5a3");

        free(id.group);
        id.group = strdup("default");
        free(id.platform);
        id.platform = strdup("qemu");
        id.has_rollout_wariness = true;
        id.rollout_wariness = 0.5;
        check_url("https://h/", &id, "https://h/v1/graph" QUERY "&rollout_wariness=0.500000");
        id.rollout_wariness = 0.0000004;
        check_url("https://h/", &id, "https://h/v1/graph" QUERY "&rollout_wariness=0.000000");
        id.rollout_wariness = 1;
        check_url("https://h/", &id, "https://h/v1/graph" QUERY "&rollout_wariness=1.000000");
        id.rollout_wariness = 0.1234567;
        check_url("https://h/", &id, "https://h/v1/graph" QUERY "&rollout_wariness=0.123457");

        /* Errors leave out as it was. */
        assert_int_equal(buf_puts(&b, "keep"), 0);
        id.rollout_wariness = 1.5;
        assert_int_equal(graph_request_url("https://h/", &id, &b), -EINVAL);
        id.rollout_wariness = NAN;
        assert_int_equal(graph_request_url("https://h/", &id, &b), -EINVAL);
        id.rollout_wariness = -0.1;
        assert_int_equal(graph_request_url("https://h/", &id, &b), -EINVAL);
        id.has_rollout_wariness = false;
        assert_int_equal(graph_request_url("h/x/", &id, &b), -EINVAL);
        assert_int_equal(graph_request_url("://h/", &id, &b), -EINVAL);
        assert_int_equal(graph_request_url("1http://h/", &id, &b), -EINVAL);
        assert_int_equal(graph_request_url("https:///x/", &id, &b), -EINVAL);
        assert_int_equal(graph_request_url("", &id, &b), -EINVAL);
        assert_aborts(graph_request_url(NULL, &id, &b));
        assert_aborts(graph_request_url("https://h/", NULL, &b));
        assert_string_equal(b.data, "keep");
        Buf small = BUF_INIT(40);
        assert_int_equal(buf_puts(&small, "keep"), 0);
        assert_int_equal(graph_request_url("https://h/", &id, &small), -ENOBUFS);
        assert_string_equal(small.data, "keep");
        assert_int_equal(small.len, 4);
        buf_free(&small);
        buf_free(&b);
        identity_done(&id);
        assert_null(id.group);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uuid),     cmocka_unit_test(test_platform),
                cmocka_unit_test(test_url_join), cmocka_unit_test(test_url_query),
                cmocka_unit_test(test_url_oci),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

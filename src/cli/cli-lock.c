/* cli-lock.c — `upkeep lock status|release|pause|resume`: upkeep-lock's admin API for operators. */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fileio.h"
#include "json-util.h"
#include "lock-config.h"
#include "log.h"
#include "source.h"
#include "time-util.h"

static void lock_usage(FILE *f)
{
        fprintf(f, "usage:\n"
                   "  upkeep lock status [GROUP]          groups, slots, holders and their ages, windows, "
                   "pause\n"
                   "  upkeep lock release GROUP ID        force-release a holder's slot\n"
                   "  upkeep lock pause GROUP             stop granting slots in GROUP\n"
                   "  upkeep lock resume GROUP            grant slots again\n"
                   "options:\n"
                   "  --url URL            upkeep-lock's address (default http://127.0.0.1:3333)\n"
                   "  --token-file PATH    the admin token (or $UPKEEP_ADMIN_TOKEN; "
                   "default " LOCK_ADMIN_TOKEN_DEFAULT
                   ", the token upkeep-lock generates at its first start, readable by root)\n"
                   "  --json               print the server's JSON answer\n");
}

static int print_groups(const char *body, size_t len)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *groups, *g;
        Error e = { { 0 } };
        size_t i;

        if (json_parse_strict(body, len, &root, &e) < 0)
                return log_error_errno(EPROTO, "the server's answer is not JSON: %s", e.message);
        groups = json_object_get(root, "groups");
        if (!groups) { /* one group: list it alone */
                groups = json_array();
                if (!groups || json_array_append(groups, root) < 0) {
                        json_decref(groups);
                        return log_error_errno(ENOMEM, "out of memory");
                }
        } else
                json_incref(groups);
        printf("%-20s %5s %7s  %-6s  %s\n", "GROUP", "SLOTS", "HOLDERS", "PAUSED", "WINDOW");
        json_array_foreach(groups, i, g) {
                json_t *holders = json_object_get(g, "holders"), *h, *w = json_object_get(g, "window");
                char window[128] = "always open";
                size_t k;

                if (json_is_true(json_object_get(w, "configured"))) {
                        char t[64] = "";
                        bool open = json_is_true(json_object_get(w, "open"));
                        json_t *next = json_object_get(w, open ? "next_close" : "next_open");
                        if (json_is_integer(next))
                                format_timestamp_utc(json_integer_value(next), t, sizeof(t));
                        snprintf(window, sizeof(window), "%s%s%s", open ? "open" : "closed",
                                 *t ? (open ? ", closes " : ", opens ") : "", t);
                }
                printf("%-20s %5lld %7zu  %-6s  %s\n", json_string_value(json_object_get(g, "name")) ?: "?",
                       (long long)json_integer_value(json_object_get(g, "slots")), json_array_size(holders),
                       json_is_true(json_object_get(g, "paused")) ? "yes" : "no", window);
                json_array_foreach(holders, k, h) {
                        char age[32], since[64];
                        format_duration_short(json_integer_value(json_object_get(h, "age_secs")), age,
                                              sizeof(age));
                        format_timestamp_utc(json_integer_value(json_object_get(h, "since")), since,
                                             sizeof(since));
                        printf("    holder %-34s since %s (%s)\n",
                               json_string_value(json_object_get(h, "id")) ?: "?", since, age);
                }
        }
        json_decref(groups);
        return 0;
}

/* The admin token: from token_file, else $UPKEEP_ADMIN_TOKEN, else the token upkeep-lock generates on its
 * defaults (LOCK_ADMIN_TOKEN_DEFAULT) when this user may read it, else none (*ret = NULL). */
static int lock_read_token(const char *token_file, char **ret)
{
        _cleanup_free_ char *token = NULL;
        const char *env;
        size_t n;
        int r;

        if ((env = getenv("UPKEEP_ADMIN_TOKEN")) && !token_file) {
                if (!(token = strdup(env)))
                        return log_error_errno(ENOMEM, "out of memory");
                *ret = TAKE_PTR(token);
                return 0;
        }
        r = read_full_file(token_file ? token_file : LOCK_ADMIN_TOKEN_DEFAULT, 4096, &token, &n);
        if (r < 0 && token_file)
                return log_error_errno(r, "%s: %m", token_file);
        if (r < 0) { /* no generated token here (another host, not root): ask without one */
                *ret = NULL;
                return 0;
        }
        while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' '))
                token[--n] = 0;
        *ret = TAKE_PTR(token);
        return 0;
}

/* Appends "/" and the group name percent-encoded (every byte but A-Za-z0-9-._~), as upkeep-lock decodes it:
 * Airlock's group names may hold '/', spaces or '%'. */
static int put_group(Buf *url, const char *group)
{
        int r = buf_putc(url, '/');

        for (const unsigned char *p = (const unsigned char *)group; r >= 0 && *p; p++)
                r = (isalnum(*p) || strchr("-._~", *p)) ? buf_putc(url, (char)*p)
                                                        : buf_printf(url, "%%%02X", *p);
        return r;
}

/* The URL (base + /v1/groups...) and body of the request for verb and its arguments argv[0..argc). */
static int lock_build_request(const char *base, const char *verb, int argc, char **argv, Buf *url, Buf *body)
{
        int r = buf_puts(url, base);

        while (r >= 0 && url->len > 0 && url->data[url->len - 1] == '/')
                buf_truncate(url, url->len - 1);
        if (r >= 0)
                r = buf_puts(url, "/v1/groups");
        if (r < 0)
                return r;
        if (streq(verb, "status") && argc <= 1)
                return argc == 1 ? put_group(url, argv[0]) : 0;
        if (streq(verb, "release") && argc == 2) {
                r = put_group(url, argv[0]);
                if (r >= 0)
                        r = buf_puts(url, "/release");
                if (r >= 0)
                        r = buf_puts(body, "{\"id\":");
                if (r >= 0)
                        r = buf_put_json_string(body, argv[1], strlen(argv[1]));
                if (r >= 0)
                        r = buf_putc(body, '}');
                return r;
        }
        if ((streq(verb, "pause") || streq(verb, "resume")) && argc == 1) {
                r = put_group(url, argv[0]);
                return r < 0 ? r : buf_printf(url, "/%s", verb);
        }
        lock_usage(stderr);
        return -EINVAL;
}

/* What to do about an admin API that is off (404 on /v1/groups) or refuses the token (401). */
static const char *lock_hint(long status, const char *token)
{
        if (status == 401 && !token)
                return "\nupkeep-lock's admin API needs a token: give --token-file or $UPKEEP_ADMIN_TOKEN; "
                       "on the "
                       "lock server's host, sudo upkeep lock status reads " LOCK_ADMIN_TOKEN_DEFAULT;
        if (status == 401)
                return "\nthe admin token was refused: is it the one upkeep-lock has (admin_token, "
                       "admin_token_file "
                       "or " LOCK_ADMIN_TOKEN_DEFAULT ")?";
        if (status == 404)
                return "\nupkeep-lock's admin API may be off: it is on with admin_token, admin_token_file "
                       "or the "
                       "token it generates at first start (" LOCK_ADMIN_TOKEN_DEFAULT ")";
        return "";
}

/* Sends the request and prints the answer (a status table, or the server's JSON). */
static int lock_call(const char *verb, const Buf *url, const Buf *body, const char *token, bool json)
{
        HttpClientOptions o = { .max_body_bytes = CLI_MAX_DOCUMENT };
        HttpClient *client = NULL;
        HttpResponse resp = { 0 };
        Buf auth = BUF_INIT(8192);
        const char *headers[] = { "Accept: application/json", NULL, NULL };
        Error e = { { 0 } };
        int r;

        if (token && (r = buf_printf(&auth, "Authorization: Bearer %s", token)) < 0)
                goto out;
        headers[1] = token ? auth.data : NULL;
        r = http_client_new(&o, &client);
        if (r >= 0)
                r = http_client_request(client, streq(verb, "status") ? "GET" : "POST", url->data, headers,
                                        body->len ? body->data : NULL, body->len, &resp, &e);
        if (r < 0)
                log_error_errno(r, "%s", e.message);
        else if (resp.status != 200)
                r = log_error_errno(EPROTO, "%s: HTTP %ld: %s%s", url->data, resp.status,
                                    resp.body_len ? resp.body : "(empty body)",
                                    lock_hint(resp.status, token));
        else if (json || !streq(verb, "status"))
                printf("%s\n", resp.body);
        else
                r = print_groups(resp.body, resp.body_len);
out:
        http_client_free(client);
        http_response_done(&resp);
        buf_free(&auth);
        return r;
}

int lock_cmd(int argc, char **argv)
{
        static const struct option options[] = {
                { "url", required_argument, NULL, 'u' },
                { "token-file", required_argument, NULL, 't' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *base = "http://127.0.0.1:3333", *token_file = NULL, *verb;
        _cleanup_free_ char *token = NULL;
        Buf url = BUF_INIT(8192), body = BUF_INIT(4096);
        bool json = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'u':
                        base = optarg;
                        break;
                case 't':
                        token_file = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        lock_usage(stdout);
                        return 0;
                default:
                        lock_usage(stderr);
                        return -EINVAL;
                }
        if (optind >= argc) {
                lock_usage(stderr);
                return -EINVAL;
        }
        verb = argv[optind++];
        if ((r = lock_read_token(token_file, &token)) < 0)
                return r;
        if (!source_is_url(base))
                return log_error_errno(EINVAL, "--url: '%s' is not an http(s) URL", base);
        r = lock_build_request(base, verb, argc - optind, argv + optind, &url, &body);
        if (r >= 0)
                r = lock_call(verb, &url, &body, token, json);
        buf_free(&url);
        buf_free(&body);
        return r;
}

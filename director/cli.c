/*
 * director/cli.c — what every thespian command shares: option parsing
 * (with --help and --endpoint on every command), the one endpoint rule,
 * connecting to the host, naming an actor by address or global name, and
 * where things are (the director directory, this binary, thespiand).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "director/cli.h"
#include "base/text.h"

const char *cli_global_endpoint;
const char *cli_argv0;
bool cli_json_out;

/* A message names files, bundles, members and host errors: whatever came
 * from outside is shown escaped, one line. */
static void
vmessage(const cli_cmd_t *cmd, const char *fmt, va_list ap)
{
    char raw[4096], esc[4 * sizeof raw];
    vsnprintf(raw, sizeof raw, fmt, ap);
    thi_text_escape(esc, sizeof esc, raw, strlen(raw), THI_TEXT_SINK);
    fprintf(stderr, "thespian %s: %s\n", cmd->name, esc);
}

void
cli_put_lines(FILE *f, const char *text)
{
    while (text && *text) {
        size_t l = strcspn(text, "\n");
        char esc[4 * 1024 + 1];
        thi_text_escape(esc, sizeof esc, text, l, THI_TEXT_SINK);
        fprintf(f, "%s\n", esc);
        text += l;
        if (*text == '\n')
            text++;
    }
}

const char *
cli_safe(const char *s)
{
    /* a ring, so one printf may take several (the CLI is one thread) */
    static char ring[8][2048];
    static unsigned next;
    if (s == NULL)
        return NULL;
    char *buf = ring[next++ % 8];
    thi_text_escape(buf, sizeof ring[0], s, strlen(s), THI_TEXT_SINK);
    return buf;
}

int
cli_usage_error(const cli_cmd_t *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "(see thespian %s --help)\n", cmd->name);
    return CLI_USAGE;
}

int
cli_fail(const cli_cmd_t *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

void
cli_json_print(const json_t *o)
{
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_ENCODE_ANY);
    puts(text ? text : "null");
    free(text);
}

int
cli_json_result(const cli_cmd_t *cmd, json_t *o)
{
    if (o == NULL)
        return cli_fail(cmd, "done, but the result cannot be shown as JSON "
                             "(a value is not UTF-8)");
    cli_json_print(o);
    json_decref(o);
    return CLI_OK;
}

static const cli_opt_t *
find_opt(const cli_opt_t *opts, const char *name, size_t len)
{
    for (const cli_opt_t *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* The name of positional argument `index` (from 0) as the command's usage
 * line writes it ("GROUP", "ADDR|NAME"), into buf; "" when not found.
 * The usage's synopsis is its first line and the indented lines after
 * it; words outside [...] that are not options are the positionals. */
static void
positional_name(const cli_cmd_t *cmd, size_t index, char *buf, size_t n)
{
    buf[0] = '\0';
    const char *p = cmd->usage ? strstr(cmd->usage, cmd->name) : NULL;
    if (p == NULL)
        return;
    p += strlen(cmd->name);
    int depth = 0;
    size_t seen = 0;
    while (*p) {
        if (*p == '\n') {
            if (p[1] != ' ')
                return; /* the synopsis ends */
            p++;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t len = strcspn(p, " \n");
        const char *w = p;
        p += len;
        if (depth == 0 && w[0] != '[' && w[0] != '-' && w[0] != '|') {
            if (seen++ == index) {
                if (len > 3 && !strncmp(w + len - 3, "...", 3))
                    len -= 3;
                snprintf(buf, n, "%.*s", (int)len, w);
                return;
            }
        }
        for (size_t i = 0; i < len; i++)
            depth += w[i] == '[' ? 1 : w[i] == ']' ? -1 : 0;
    }
}

bool
cli_parse(const cli_cmd_t *cmd, int argc, char **argv, const cli_opt_t *opts,
          const char **pos, size_t min_pos, size_t max_pos, size_t *n_pos,
          int *done)
{
    *n_pos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0' ||
            (a[1] != '-' && a[1] != 'h')) {
            /* "-" alone and negative numbers are positional */
            if (*n_pos == max_pos) {
                *done = cli_usage_error(cmd, "unexpected argument \"%s\"", a);
                return false;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(cmd->usage, stdout);
            *done = CLI_OK;
            return false;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        /* every command takes --endpoint: it sets the global choice */
        cli_opt_t endpoint_opt = {"endpoint", CLI_STRING,
                                  (void *)&cli_global_endpoint};
        const cli_opt_t *o = find_opt(opts, name, len);
        if (o == NULL && len == 8 && strncmp(name, "endpoint", 8) == 0)
            o = &endpoint_opt;
        /* ... and the admin key options */
        const char *key_value = NULL;
        cli_opt_t key_opt = {NULL, CLI_STRING, (void *)&key_value};
        if (o == NULL && cli_key_option(name, len) != NULL) {
            key_opt.name = cli_key_option(name, len);
            o = &key_opt;
        }
        if (o == NULL) {
            *done = cli_usage_error(cmd, "unknown option %s", a);
            return false;
        }
        if (o->kind == CLI_FLAG) {
            if (value) {
                *done = cli_usage_error(cmd, "--%s takes no value", o->name);
                return false;
            }
            *(bool *)o->out = true;
            continue;
        }
        if (value == NULL) {
            if (i + 1 >= argc) {
                *done = cli_usage_error(cmd, "--%s needs a value", o->name);
                return false;
            }
            value = argv[++i];
        }
        if (o == &key_opt) {
            cli_set_key(key_opt.name, value);
        } else if (o->kind == CLI_STRING) {
            *(const char **)o->out = value;
        } else {
            cli_list_t *l = o->out;
            if (l->n == sizeof l->items / sizeof l->items[0]) {
                *done = cli_usage_error(cmd, "too many --%s options", o->name);
                return false;
            }
            l->items[l->n++] = value;
        }
    }
    /* a malformed --endpoint (here or before the command) is a usage
     * error, whatever the command does with it */
    char epbuf[TH_CLIENT_ENDPOINT_MAX];
    th_client_error_t eperr;
    if (cli_global_endpoint &&
        th_client_endpoint(epbuf, cli_global_endpoint, &eperr) != 0) {
        *done = cli_usage_error(cmd, "%s", eperr.message);
        return false;
    }
    if (*n_pos < min_pos) {
        char names[512] = "", one[128];
        size_t used = 0;
        for (size_t i = *n_pos; i < min_pos; i++) {
            positional_name(cmd, i, one, sizeof one);
            int w = snprintf(names + used, sizeof names - used, "%s%s",
                             used ? " " : "", one[0] ? one : "?");
            if (w > 0 && (size_t)w < sizeof names - used)
                used += (size_t)w;
        }
        *done = cli_usage_error(cmd,
                                "missing argument %s (%zu given, %zu needed)",
                                names, *n_pos, min_pos);
        return false;
    }
    return true;
}

/* --admin-key and --server-key: the client library reads the variables
 * they set, so every connection this command makes uses them. */
const char *
cli_key_option(const char *name, size_t len)
{
    static const char *const names[] = {"admin-key", "server-key"};
    for (size_t i = 0; i < 2; i++)
        if (strlen(names[i]) == len && strncmp(name, names[i], len) == 0)
            return names[i];
    return NULL;
}

void
cli_set_key(const char *option, const char *value)
{
    setenv(strcmp(option, "admin-key") == 0 ? "THESPIAN_ADMIN_KEY"
                                            : "THESPIAN_SERVER_KEY",
           value, 1);
}

int
cli_endpoint(const cli_cmd_t *cmd, const char *explicit_ep, char *buf)
{
    th_client_error_t err;
    const char *ep = explicit_ep ? explicit_ep : cli_global_endpoint;
    if (th_client_endpoint(buf, ep, &err) == 0)
        return CLI_OK;
    /* a malformed --endpoint is the command line's fault; a bad
     * $THESPIAN_ENDPOINT or adminendpoint.cfg is the setting's */
    if (ep != NULL)
        return cli_usage_error(cmd, "--endpoint: %s", err.message);
    return cli_fail(cmd, "%s", err.message);
}

int
cli_connect(const cli_cmd_t *cmd, const char *endpoint, th_client_t **out)
{
    th_client_opts_t opts = {.size = sizeof opts, .endpoint = endpoint};
    th_client_error_t err;
    int rc = th_client_connect(out, &opts, &err);
    if (rc != 0)
        return cli_fail(cmd, "%s: %s", th_errname(rc), err.message);
    return CLI_OK;
}

int
cli_target(const cli_cmd_t *cmd, th_client_t *c, const char *text,
           th_addr_t *out)
{
    if (strncmp(text, "th1:", 4) == 0) {
        if (th_client_addr_parse(out, text) != 0)
            return cli_fail(cmd,
                            "InvalidActorAddress: \"%s\" is not an "
                            "actor address",
                            text);
        return CLI_OK;
    }
    int rc = th_client_lookup(c, out, text);
    if (rc != 0)
        return cli_fail(cmd, "%s", th_client_errmsg(c));
    return CLI_OK;
}

bool
cli_seconds(const char *text, int *ms)
{
    char *end = NULL;
    errno = 0;
    double s = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(s) || s < 0 || s > 86400.0)
        return false;
    *ms = (int)(s * 1000.0 + 0.5);
    return true;
}

void
cli_director_dir(char *buf, size_t n)
{
    const char *d = getenv("THESPIAN_DIRECTOR_DIR");
    if (d && *d) {
        snprintf(buf, n, "%s", d);
        return;
    }
    const char *home = getenv("HOME");
    snprintf(buf, n, "%s/.thespian/director", home && *home ? home : ".");
}

bool
cli_self_exe(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return false;
    buf[n] = '\0';
    return true;
}

/* `dir`/`rel` into buf when it is an executable. */
static bool
try_exe(char *buf, size_t size, const char *dir, const char *rel)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel) >=
            sizeof path ||
        access(path, X_OK) != 0)
        return false;
    return (size_t)snprintf(buf, size, "%s", path) < size;
}

void
cli_find_thespiand(char *buf, size_t size)
{
    const char *env = getenv("THESPIAND");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return;
    }
    char self[PATH_MAX];
    char *slash = cli_self_exe(self, sizeof self) ? strrchr(self, '/') : NULL;
    if (slash)
        *slash = '\0';
    if (slash && (try_exe(buf, size, self, "thespiand") ||
                  try_exe(buf, size, self, "../host/thespiand")))
        return;
    snprintf(buf, size, "thespiand");
}

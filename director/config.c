/*
 * director/config.c — reading the director directory's `*.cfg` files: one
 * JSON value each, checked by type for the names thespian knows. A bad
 * file is an error naming the file and the reason, never skipped.
 */
#include "director/config.h"
#include "loader/logspec.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "loader/bundle.h"
#include "thespian/error.h"

void
thi_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

static int
names_add(char ***names, size_t *n, size_t *cap, const char *name)
{
    if (THI_RESERVE(*names, *cap, *n + 1, 16) != 0)
        return TH_ENOMEM;
    if (((*names)[*n] = strdup(name)) == NULL)
        return TH_ENOMEM;
    (*n)++;
    return 0;
}

int
thi_dir_names(char ***names, size_t *n, const char *dir, const char *suffix,
              th_diag_t *d)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return thi_diag_set(d, errno == ENOENT ? TH_ENOENT : TH_EIO,
                            "%s: cannot read the directory: %s", dir,
                            strerror(errno));
    char **list = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dh)) != NULL)
        if (has_suffix(e->d_name, suffix))
            rc = names_add(&list, &count, &cap, e->d_name);
    closedir(dh);
    if (rc != 0) {
        thi_names_free(list, count);
        return thi_diag_set(d, rc, "%s: out of memory", dir);
    }
    if (count > 1)
        qsort(list, count, sizeof *list, name_cmp);
    *names = list;
    *n = count;
    return 0;
}

/* ---- the known files ------------------------------------------------------ */

static int
check_endpoint_text(const json_t *v, const char *path, th_diag_t *d)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || len >= 256 || strchr(s, ':') == NULL ||
        strlen(s) != len)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: want \"HOST:PORT\" or an endpoint "
                            "(tcp://HOST:PORT, ipc://PATH)",
                            path);
    return 0;
}

static int
check_convleader(const json_t *v, const char *path, th_diag_t *d)
{
    if (!json_is_string(v))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: the convention leader must be a string "
                            "\"HOST:PORT\" or endpoint",
                            path);
    return check_endpoint_text(v, path, d);
}

static int
check_othercaps(const json_t *v, const char *path, th_diag_t *d)
{
    if (!json_is_object(v))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: the extra capabilities must be a JSON object",
                            path);
    return 0;
}

static int
check_log(const json_t *v, const char *path, th_diag_t *d)
{
    thi_logspec_t spec;
    th_diag_t inner = {0};
    int rc = thi_logspec_check(v, &spec, &inner);
    return rc ? thi_diag_set(d, TH_EFORMAT, "%s: %s", path, inner.msg) : 0;
}

static int
check_adminendpoint(const json_t *v, const char *path, th_diag_t *d)
{
    if (json_is_string(v))
        return check_endpoint_text(v, path, d);
    json_int_t port = json_integer_value(v);
    if (!json_is_integer(v) || port < 1 || port > 65535)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: want an endpoint string or a port number "
                            "1-65535",
                            path);
    return 0;
}

/* Thespian's adminport.cfg: the admin port (the endpoint rule uses it
 * when adminendpoint.cfg is missing). */
static int
check_adminport(const json_t *v, const char *path, th_diag_t *d)
{
    json_int_t port = json_integer_value(v);
    if (!json_is_integer(v) || port < 1 || port > 65535)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: want a port number 1-65535 (Thespian's "
                            "admin port)",
                            path);
    return 0;
}

/* Thespian's thespbase.cfg names a system base (multiprocTCPBase, ...);
 * thespian-c has one kind of system, so the name is only shown. Plain
 * text, as Thespian writes it, or a JSON string. */
static int
check_thespbase(const json_t *v, const char *path, th_diag_t *d)
{
    const char *s = json_string_value(v);
    bool ok = s && *s && strlen(s) <= 64;
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
             (*p >= '0' && *p <= '9') || *p == '_' || *p == '.';
    if (!ok)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: want a Thespian system base name "
                            "(letters, digits, _ and ., at most 64), such "
                            "as multiprocTCPBase",
                            path);
    return 0;
}

static const struct {
    const char *name;
    int (*check)(const json_t *v, const char *path, th_diag_t *d);
} known[] = {
    {"convleader.cfg", check_convleader},
    {"othercaps.cfg", check_othercaps},
    {"thesplog.cfg", check_log},
    {"thesplogd.cfg", check_log},
    {"adminendpoint.cfg", check_adminendpoint},
    {"adminport.cfg", check_adminport},
    {"thespbase.cfg", check_thespbase},
};

int
thi_config_read(json_t **out, const char *path, th_diag_t *d)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = thi_read_file(&buf, &len, path, THI_CONFIG_MAX, d);
    if (rc != 0)
        return rc;
    json_error_t jerr;
    json_t *v = json_loadb((const char *)buf, len,
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (v == NULL && strcmp(name, "thespbase.cfg") == 0) {
        /* Thespian writes this one as plain text: one word, one line */
        size_t n = len;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                         buf[n - 1] == ' '))
            n--;
        v = json_stringn((const char *)buf, n); /* NULL: not UTF-8 */
    }
    free(buf);
    if (v == NULL)
        return thi_diag_set(d, TH_EFORMAT, "%s: not JSON: %s (line %d)",
                            path, jerr.text, jerr.line);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i].name) == 0 &&
            (rc = known[i].check(v, path, d)) != 0) {
            json_decref(v);
            return rc;
        }
    *out = v;
    return 0;
}

/* loader/manifest.c — the MANIFEST.json schema and name rules (see
 * manifest.h). */
#include "loader/manifest.h"

#include <stdio.h>
#include <string.h>

#include "base/text.h"
#include "base/version.h"
#include "loader/format.h"
#include "loader/plugin.h"
#include "thespian/error.h"

const char *
thi_group_name_problem(const char *s)
{
    const char *why = thi_text_name_problem(s, 64);
    if (why)
        return why;
    return thi_group_name_ok(s) ? NULL
                                : "has a character outside A-Z a-z 0-9 _ -";
}

bool
thi_group_name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

/* A path inside a bundle: relative, '/'-separated, no empty, "." or ".."
 * component, no backslash or drive letter, printable ASCII. Returns NULL
 * when it is one, else why not (for a diag that shows the path escaped). */
const char *
thi_bundle_path_problem(const char *p)
{
    const char *why = thi_text_name_problem(p, 255);
    if (why)
        return why; /* control characters, invalid UTF-8, empty, long */
    size_t n = strlen(p);
    if (p[0] == '/' || p[n - 1] == '/' || (n >= 2 && p[1] == ':'))
        return "is absolute, a directory or a drive path";
    const char *c = p;
    while (*c) {
        size_t l = strcspn(c, "/");
        if (l == 0 || (l == 1 && c[0] == '.') ||
            (l == 2 && c[0] == '.' && c[1] == '.'))
            return "has an empty, '.' or '..' component";
        for (size_t i = 0; i < l; i++)
            if ((unsigned char)c[i] <= 0x20 || (unsigned char)c[i] >= 0x7f ||
                c[i] == '\\')
                return "has a space, backslash or non-ASCII byte";
        c += l;
        if (*c == '/')
            c++;
    }
    if (strcmp(p, THI_MANIFEST_NAME) == 0)
        return "is the manifest's own name";
    return NULL;
}

static bool
hex64_ok(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static int
unknown_fields(const json_t *o, const char *const *known, const char *where,
               const char *what, th_diag_t *d)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (const char *const *kk = known; *kk; kk++)
            ok = ok || strcmp(k, *kk) == 0;
        if (!ok)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s has unknown field \"%.64s\"",
                                what, where, k);
    }
    return 0;
}

/* A plugin entry names its descriptor's plugin and classes (valid names,
 * unique classes, plugin names unique in the bundle); other kinds do not. */
static int
plugin_entry_check(const json_t *f, const json_t *files, size_t i,
                   const char *kind, const char *where, const char *p,
                   const char *what, th_diag_t *d)
{
    json_t *pl = json_object_get(f, "plugin");
    json_t *cl = json_object_get(f, "classes");
    if (strcmp(kind, "plugin") != 0) {
        if (pl || cl)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s (%s): \"plugin\" and "
                                "\"classes\" belong to plugin entries only",
                                what, where, p);
        return 0;
    }
    const char *name = json_string_value(pl);
    if (name == NULL || !thi_plugin_valid_name(name))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest %s.plugin (%s) is missing or not a "
                            "valid plugin name",
                            what, where, p);
    for (size_t j = 0; j < i; j++) {
        const char *o = json_string_value(
            json_object_get(json_array_get(files, j), "plugin"));
        if (o && strcmp(o, name) == 0)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest declares plugin %s twice", what,
                                name);
    }
    if (!json_is_array(cl) || json_array_size(cl) == 0 ||
        json_array_size(cl) > THI_MAX_CLASSES)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest %s.classes (%s) must be an array of "
                            "1 to %d class names",
                            what, where, p, THI_MAX_CLASSES);
    size_t k;
    json_t *c;
    json_array_foreach(cl, k, c)
    {
        const char *cn = json_string_value(c);
        if (cn == NULL || !thi_plugin_valid_name(cn))
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.classes[%zu] (%s) is not a "
                                "valid class name",
                                what, where, k, p);
        for (size_t j = 0; j < k; j++)
            if (strcmp(json_string_value(json_array_get(cl, j)), cn) == 0)
                return thi_diag_set(d, TH_EFORMAT,
                                    "%s: manifest %s.classes (%s) lists %s "
                                    "twice",
                                    what, where, p, cn);
    }
    return 0;
}

/* The TLI may name only classes the plugin entries declare. */
static int
tli_classes_check(const json_t *m, const json_t *files, const char *what,
                  th_diag_t *d)
{
    json_t *actors = json_object_get(json_object_get(m, "tli"), "Actors");
    const char *q;
    json_t *ignored;
    json_object_foreach(actors, q, ignored)
    {
        const char *dot = strchr(q, '.');
        bool found = false;
        size_t i, k;
        json_t *f, *c;
        json_array_foreach(files, i, f)
        {
            const char *pl = json_string_value(json_object_get(f, "plugin"));
            if (found || dot == NULL || pl == NULL ||
                strlen(pl) != (size_t)(dot - q) ||
                strncmp(pl, q, (size_t)(dot - q)) != 0)
                continue;
            json_array_foreach(json_object_get(f, "classes"), k, c)
                found = found || strcmp(json_string_value(c), dot + 1) == 0;
        }
        if (!found)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: the TLI names class %.130s, which no "
                                "plugin of the bundle declares",
                                what, q);
    }
    return 0;
}

int
thi_manifest_check(const json_t *m, const char *what, th_diag_t *d)
{
    static const char *const top[] = {"format", "group", "version", "info",
                                      "abi", "platform", "tli", "files",
                                      NULL};
    static const char *const fkeys[] = {"path", "size", "sha256", "kind",
                                        "plugin", "classes", NULL};
    if (!json_is_object(m))
        return thi_diag_set(d, TH_EFORMAT, "%s: manifest is not an object",
                            what);
    int rc = unknown_fields(m, top, "top level", what, d);
    if (rc)
        return rc;
    json_t *v = json_object_get(m, "format");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"format\" must be 1", what);
    v = json_object_get(m, "group");
    if (!json_is_string(v))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"group\" is missing or not "
                            "a string",
                            what);
    const char *gwhy = thi_group_name_problem(json_string_value(v));
    if (gwhy) {
        char esc[THI_ESC_NAME];
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"group\" (\"%s\") %s (a "
                            "group name is 1-64 of A-Z a-z 0-9 _ -)",
                            what, thi_text_esc(esc, sizeof esc,
                                               json_string_value(v)),
                            gwhy);
    }
    v = json_object_get(m, "version");
    if (v && !json_is_null(v) &&
        (!json_is_string(v) || !thi_version_ok(json_string_value(v))))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"version\" is not a valid "
                            "version (fields of A-Z a-z 0-9 _ - joined by .)",
                            what);
    v = json_object_get(m, "info");
    if (!json_is_string(v) || strlen(json_string_value(v)) > 4096)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"info\" must be a string of "
                            "at most 4096 bytes",
                            what);
    v = json_object_get(m, "abi");
    if (!json_is_object(v) ||
        !json_is_integer(json_object_get(v, "major")) ||
        !json_is_integer(json_object_get(v, "minor")) || json_object_size(v) != 2)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"abi\" must be "
                            "{\"major\": N, \"minor\": N}",
                            what);
    v = json_object_get(m, "platform");
    if (!json_is_object(v) || !json_is_string(json_object_get(v, "arch")) ||
        !json_is_string(json_object_get(v, "libc")) || json_object_size(v) != 2)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"platform\" must be "
                            "{\"arch\": S, \"libc\": S}",
                            what);
    v = json_object_get(m, "tli");
    if (v && !json_is_null(v) && !json_is_object(v))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"tli\" must be an object",
                            what);
    json_t *files = json_object_get(m, "files");
    if (!json_is_array(files) || json_array_size(files) > THI_BUNDLE_MAX_FILES)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"files\" must be an array of "
                            "at most %d entries",
                            what, THI_BUNDLE_MAX_FILES);
    size_t i;
    json_t *f;
    size_t total = 0;
    json_array_foreach(files, i, f)
    {
        char where[32];
        snprintf(where, sizeof where, "files[%zu]", i);
        if (!json_is_object(f))
            return thi_diag_set(d, TH_EFORMAT, "%s: manifest %s is not an "
                                "object", what, where);
        rc = unknown_fields(f, fkeys, where, what, d);
        if (rc)
            return rc;
        const char *p = json_string_value(json_object_get(f, "path"));
        if (p == NULL)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.path is missing or not a "
                                "string",
                                what, where);
        const char *pwhy = thi_bundle_path_problem(p);
        if (pwhy) {
            char esc[THI_ESC_NAME];
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.path (\"%s\") %s: not a "
                                "safe relative path",
                                what, where, thi_text_esc(esc, sizeof esc, p),
                                pwhy);
        }
        json_t *sz = json_object_get(f, "size");
        if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
            (uint64_t)json_integer_value(sz) > THI_BUNDLE_MAX_FILE)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.size (%s) is not a size up "
                                "to %zu",
                                what, where, p, THI_BUNDLE_MAX_FILE);
        total += (size_t)json_integer_value(sz);
        const char *h = json_string_value(json_object_get(f, "sha256"));
        if (h == NULL || !hex64_ok(h))
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.sha256 (%s) is not 64 "
                                "lowercase hex digits",
                                what, where, p);
        const char *k = json_string_value(json_object_get(f, "kind"));
        if (k == NULL || (strcmp(k, "plugin") && strcmp(k, "library") &&
                          strcmp(k, "data")))
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.kind (%s) must be plugin, "
                                "library or data",
                                what, where, p);
        rc = plugin_entry_check(f, files, i, k, where, p, what, d);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_object_get(
                           json_array_get(files, j), "path")),
                       p) == 0)
                return thi_diag_set(d, TH_EFORMAT,
                                    "%s: manifest lists %s twice", what, p);
    }
    if (total > THI_BUNDLE_MAX_TOTAL)
        return thi_diag_set(d, TH_ETOOBIG,
                            "%s: manifest files total %zu bytes, over the "
                            "limit of %zu",
                            what, total, THI_BUNDLE_MAX_TOTAL);
    return tli_classes_check(m, files, what, d);
}

/*
 * loader/plugin.c — dlopen a plugin and check its descriptor field by field
 * before the host trusts any of it. The guard fields come first in the
 * descriptor so garbage or zeroed memory is refused at the magic word.
 */
#include "loader/plugin.h"

#include <dlfcn.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"

/* Size of each struct as ABI 1.0 defined it: the least a plugin may give. */
#define PLUGIN_V1_0_SIZE 32u
#define CLASS_V1_0_SIZE 80u

/* NULL when `s` is 1..TH_NAME_MAX of [A-Za-z0-9_] and the bytes in
 * `extra`, else why not. The shared text rule (control characters,
 * invalid UTF-8) is asked first so a diag says what was really wrong.
 * Reads at most TH_NAME_MAX + 1 bytes: the name is plugin memory. */
static const char *
name_problem(const char *s, const char *extra)
{
    if (s == NULL)
        return "is missing";
    size_t n = strnlen(s, TH_NAME_MAX + 1);
    if (n > TH_NAME_MAX)
        return "is longer than 64 bytes";
    char copy[TH_NAME_MAX + 1];
    memcpy(copy, s, n);
    copy[n] = '\0';
    const char *why = thi_text_name_problem(copy, TH_NAME_MAX);
    if (why)
        return why;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || (c && strchr(extra, c))))
            return "has a character outside the allowed set";
    }
    return NULL;
}

/* A name from plugin memory, escaped for a diag (bounded read). */
static const char *
esc_name(char *buf, size_t size, const char *s)
{
    if (s == NULL)
        return "(null)";
    thi_text_escape(buf, size, s, strnlen(s, TH_NAME_MAX + 1),
                    THI_TEXT_QUOTE);
    return buf;
}

#define ESC_NAME_MAX (4 * (TH_NAME_MAX + 1) + 1)

int
thi_plugin_valid_name(const char *s)
{
    return name_problem(s, "") == NULL;
}

const char *
thi_plugin_name_problem(const char *s)
{
    return name_problem(s, "");
}

const char *
thi_type_name_problem(const char *s)
{
    return name_problem(s, ".:-");
}

/* Message type names of a dispatch table ("*" is checked by the caller). */
static const char *
type_problem(const char *s)
{
    if (s != NULL && strcmp(s, "*") == 0)
        return NULL;
    return name_problem(s, ".:-");
}

#define THI_MAX_REQUIRES 64
#define THI_CLASS_FLAGS \
    (TH_CLASS_TROUPE | TH_CLASS_TRANSIENT | TH_CLASS_TRANSIENT_IDLE)

/* The fields ABI 1.1 added: flags, troupe counts, requirements. */
static int
check_class_1_1(const th_class_t *c, const char *plugin, const char *what,
                th_diag_t *d)
{
    if (c->flags & ~THI_CLASS_FLAGS)
        return thi_diag_set(d, TH_EABI,
                            "%s: class %s.%s: unknown flags 0x%x",
                            what, plugin, c->name, c->flags & ~THI_CLASS_FLAGS);
    if ((c->flags & TH_CLASS_TRANSIENT) && (c->flags & TH_CLASS_TRANSIENT_IDLE))
        return thi_diag_set(d, TH_EABI,
                            "%s: class %s.%s: flags: transient and "
                            "transient_idle exclude each other",
                            what, plugin, c->name);
    if ((c->flags & TH_CLASS_TROUPE) &&
        (c->troupe_max == 0 || c->troupe_max > 4096 ||
         c->troupe_idle > c->troupe_max))
        return thi_diag_set(d, TH_EABI,
                            "%s: class %s.%s: troupe max_count %u / "
                            "idle_count %u (need 1 <= max_count <= 4096, "
                            "idle_count <= max_count)",
                            what, plugin, c->name, c->troupe_max,
                            c->troupe_idle);
    if (c->n_requires > THI_MAX_REQUIRES ||
        (c->n_requires > 0 && c->requires == NULL))
        return thi_diag_set(d, TH_EABI,
                            "%s: class %s.%s: bad requires table "
                            "(%u entries)",
                            what, plugin, c->name, c->n_requires);
    for (uint32_t k = 0; k < c->n_requires; k++) {
        const th_requirement_t *r = &c->requires[k];
        if (r->name == NULL || r->name[0] == '\0' ||
            strlen(r->name) > 255)
            return thi_diag_set(d, TH_EABI,
                                "%s: class %s.%s: requires entry #%u has "
                                "no valid capability name",
                                what, plugin, c->name, k);
        if (r->value_json) {
            json_t *v = json_loads(r->value_json,
                                   JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                                   NULL);
            json_decref(v);
            if (v == NULL)
                return thi_diag_set(d, TH_EABI,
                                    "%s: class %s.%s: requires entry #%u "
                                    "(%.64s): value is not JSON",
                                    what, plugin, c->name, k, r->name);
        }
    }
    return 0;
}

static int
check_class(const th_class_t *c, const char *plugin, unsigned i,
            const char *what, th_diag_t *d)
{
    if (c == NULL)
        return thi_diag_set(d, TH_EABI, "%s: plugin %s: class #%u is NULL",
                            what, plugin, i);
    if (c->size < CLASS_V1_0_SIZE || c->size > sizeof(th_class_t))
        return thi_diag_set(d, TH_EABI,
                            "%s: plugin %s: class #%u has size %u "
                            "(this host knows %zu)",
                            what, plugin, i, c->size, sizeof(th_class_t));
    const char *why = name_problem(c->name, "");
    if (why) {
        char esc[ESC_NAME_MAX];
        return thi_diag_set(d, TH_EABI,
                            "%s: plugin %s: class #%u has an invalid name "
                            "\"%s\": it %s (1-%d of A-Z a-z 0-9 _)",
                            what, plugin, i, esc_name(esc, sizeof esc, c->name),
                            why, TH_NAME_MAX);
    }
    if (c->state_size > THI_MAX_STATE)
        return thi_diag_set(d, TH_EABI,
                            "%s: class %s.%s: state_size %zu over the limit "
                            "of %zu bytes",
                            what, plugin, c->name, c->state_size,
                            THI_MAX_STATE);
    if (c->receive == NULL && c->n_dispatch == 0)
        return thi_diag_set(d, TH_EABI,
                            "%s: class %s.%s has neither receive nor a "
                            "dispatch table",
                            what, plugin, c->name);
    if (c->n_dispatch > THI_MAX_DISPATCH ||
        (c->n_dispatch > 0 && c->dispatch == NULL))
        return thi_diag_set(d, TH_EABI,
                            "%s: class %s.%s: bad dispatch table (%u entries)",
                            what, plugin, c->name, c->n_dispatch);
    for (uint32_t k = 0; k < c->n_dispatch; k++) {
        const th_dispatch_t *e = &c->dispatch[k];
        const char *twhy = type_problem(e->type);
        if (twhy) {
            char esc[ESC_NAME_MAX];
            return thi_diag_set(d, TH_EABI,
                                "%s: class %s.%s: dispatch entry #%u: message "
                                "type \"%s\" %s (1-%d of A-Z a-z 0-9 _ . : -, "
                                "or \"*\")",
                                what, plugin, c->name, k,
                                esc_name(esc, sizeof esc, e->type), twhy,
                                TH_NAME_MAX);
        }
        if (e->handler == NULL)
            return thi_diag_set(d, TH_EABI,
                                "%s: class %s.%s: dispatch entry #%u has no "
                                "handler",
                                what, plugin, c->name, k);
    }
    return c->size >= sizeof(th_class_t) ? check_class_1_1(c, plugin, what, d)
                                         : 0;
}

int
thi_plugin_check(const th_plugin_t *desc, const char *what, th_diag_t *d)
{
    if (desc->magic != TH_PLUGIN_MAGIC)
        return thi_diag_set(d, TH_EABI,
                            "%s: descriptor has bad magic 0x%08x "
                            "(expected 0x%08x)",
                            what, desc->magic, TH_PLUGIN_MAGIC);
    if (desc->abi_major != TH_ABI_MAJOR)
        return thi_diag_set(d, TH_EABI,
                            "%s: plugin ABI %u.%u, host ABI %u.%u: major "
                            "version differs",
                            what, desc->abi_major, desc->abi_minor,
                            TH_ABI_MAJOR, TH_ABI_MINOR);
    if (desc->abi_minor > TH_ABI_MINOR)
        return thi_diag_set(d, TH_EABI,
                            "%s: plugin ABI %u.%u is newer than host ABI "
                            "%u.%u",
                            what, desc->abi_major, desc->abi_minor,
                            TH_ABI_MAJOR, TH_ABI_MINOR);
    if (desc->size < PLUGIN_V1_0_SIZE || desc->size > sizeof(th_plugin_t))
        return thi_diag_set(d, TH_EABI,
                            "%s: descriptor size %u is not valid for ABI "
                            "%u.%u",
                            what, desc->size, desc->abi_major,
                            desc->abi_minor);
    const char *why = name_problem(desc->name, "");
    if (why) {
        char esc[ESC_NAME_MAX];
        return thi_diag_set(d, TH_EABI,
                            "%s: plugin name is invalid: \"%s\" %s (1-%d of "
                            "A-Z a-z 0-9 _)",
                            what, esc_name(esc, sizeof esc, desc->name), why,
                            TH_NAME_MAX);
    }
    if (desc->n_classes == 0 || desc->n_classes > THI_MAX_CLASSES ||
        desc->classes == NULL)
        return thi_diag_set(d, TH_EABI,
                            "%s: plugin %s declares %u classes (1-%d allowed)",
                            what, desc->name, desc->n_classes,
                            THI_MAX_CLASSES);
    for (uint32_t i = 0; i < desc->n_classes; i++) {
        int rc = check_class(desc->classes[i], desc->name, i, what, d);
        if (rc != 0)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(desc->classes[i]->name, desc->classes[j]->name) == 0)
                return thi_diag_set(d, TH_EABI,
                                    "%s: plugin %s defines class %s twice",
                                    what, desc->name, desc->classes[i]->name);
    }
    return 0;
}

int
thi_plugin_open(thi_plugin_t **out, const char *path, th_diag_t *d)
{
    if (path == NULL || strlen(path) >= sizeof((thi_plugin_t *)0)->path)
        return thi_diag_set(d, TH_EINVAL, "plugin path missing or too long");
    thi_plugin_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", path);
    strcpy(p->path, path);
    dlerror();
    p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (p->handle == NULL) {
        const char *why = dlerror();
        int rc = thi_diag_set(d, TH_ENOENT, "%s: cannot load plugin: %s", path,
                              why ? why : "unknown dlopen error");
        free(p);
        return rc;
    }
    p->desc = dlsym(p->handle, TH_PLUGIN_SYMBOL);
    int rc;
    if (p->desc == NULL) {
        rc = thi_diag_set(d, TH_ENOENT,
                          "%s: not a thespian-c plugin: no %s descriptor",
                          path, TH_PLUGIN_SYMBOL);
        goto out_close;
    }
    rc = thi_plugin_check(p->desc, path, d);
    if (rc != 0)
        goto out_close;
    snprintf(p->name, sizeof p->name, "%s", p->desc->name);
    *out = p;
    return 0;

out_close:
    dlclose(p->handle);
    free(p);
    return rc;
}

void
thi_plugin_close(thi_plugin_t *p)
{
    if (p == NULL)
        return;
    if (p->handle)
        dlclose(p->handle);
    free(p);
}

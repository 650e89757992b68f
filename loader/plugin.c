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

/* Size of each struct as ABI 1.0 defined it: the least a plugin may give. */
#define PLUGIN_V1_0_SIZE 32u
#define CLASS_V1_0_SIZE 80u

/* 1..TH_NAME_MAX-1 of [A-Za-z0-9_] and the bytes in `extra`. */
static int
name_of(const char *s, const char *extra)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= TH_NAME_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || strchr(extra, c)))
            return 0;
    }
    return n > 0;
}

int
thi_plugin_valid_name(const char *s)
{
    return name_of(s, "");
}

/* Message type names of a dispatch table ("*" is checked by the caller). */
static int
check_type_name(const char *s)
{
    return name_of(s, ".:-*");
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
    if (c->name == NULL || !thi_plugin_valid_name(c->name))
        return thi_diag_set(d, TH_EABI,
                            "%s: plugin %s: class #%u has an invalid name "
                            "(1-%d of A-Z a-z 0-9 _)",
                            what, plugin, i, TH_NAME_MAX);
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
        if (e->type == NULL || !check_type_name(e->type) ||
            e->handler == NULL ||
            (strchr(e->type, '*') && strcmp(e->type, "*") != 0))
            return thi_diag_set(d, TH_EABI,
                                "%s: class %s.%s: dispatch entry #%u is "
                                "invalid (type name or handler)",
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
    if (desc->name == NULL || !thi_plugin_valid_name(desc->name))
        return thi_diag_set(d, TH_EABI,
                            "%s: plugin name is invalid (1-%d of A-Z a-z "
                            "0-9 _)",
                            what, TH_NAME_MAX);
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

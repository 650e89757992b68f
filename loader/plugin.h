/*
 * loader/plugin.h — opening a plugin .so and validating its descriptor
 * before anything of it is used: magic, ABI major/minor, sizes, names and
 * callbacks. A refused plugin is dlclose'd and described in a diag.
 */
#ifndef TH_LOADER_PLUGIN_H
#define TH_LOADER_PLUGIN_H

#include "base/diag.h"
#include "thespian/actor.h"

#define THI_MAX_CLASSES 256
#define THI_MAX_DISPATCH 1024
#define THI_MAX_STATE ((size_t)64 << 20)

typedef struct thi_plugin {
    void *handle;               /* dlopen handle */
    const th_plugin_t *desc;    /* validated descriptor, inside the mapping */
    char name[TH_NAME_MAX + 1];
    char path[4096];
} thi_plugin_t;

/* dlopen(path, RTLD_NOW | RTLD_LOCAL), find TH_PLUGIN_SYMBOL and validate
 * it with thi_plugin_check. Returns 0 with *out owned (thi_plugin_close),
 * TH_ENOENT (cannot open / no descriptor), TH_EABI (descriptor refused),
 * TH_ENOMEM. The diag names the file and the reason. Thread-safe. */
int thi_plugin_open(thi_plugin_t **out, const char *path, th_diag_t *d);

/* dlclose and free. NULL-safe. The caller guarantees no code or data of the
 * plugin is still in use. */
void thi_plugin_close(thi_plugin_t *p);

/* Validate a descriptor (borrowed) found in `what` (a path, for the diag):
 * magic, abi_major == TH_ABI_MAJOR, abi_minor <= TH_ABI_MINOR, size, name,
 * classes (size, name, state_size, callbacks, dispatch tables). Reads only
 * the bytes the size fields cover. Returns 0 or TH_EABI. Pure. */
int thi_plugin_check(const th_plugin_t *desc, const char *what, th_diag_t *d);

/* True when s is a valid plugin/class name: 1..TH_NAME_MAX of [A-Za-z0-9_]. */
int thi_plugin_valid_name(const char *s);

/* NULL when `s` is a valid plugin or class name (as above) / message type
 * name (also . : -), else why not ("contains a control character", "is not
 * valid UTF-8", ...), for a diag that shows the name escaped. */
const char *thi_plugin_name_problem(const char *s);
const char *thi_type_name_problem(const char *s);

#endif /* TH_LOADER_PLUGIN_H */

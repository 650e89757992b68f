/*
 * loader/describe.h — learning what a set of plugin files declares (the
 * descriptor's plugin name and classes) without running them in the
 * caller: a descriptor can only be read by mapping the plugin, which runs
 * its constructors, so the mapping happens in a child process that exits
 * afterwards. gensrc calls this before it ever reads the private key.
 */
#ifndef TH_LOADER_DESCRIBE_H
#define TH_LOADER_DESCRIBE_H

#include <jansson.h>
#include <stddef.h>

#include "base/diag.h"
#include "loader/zip_write.h"

/* In a forked child: write the plugin and library files among `files`
 * (bytes borrowed, bundle paths) into a private 0700 directory, map the
 * libraries (in dependency order) and the plugins into one namespace of
 * their own, as a host maps a bundle, and check each plugin's descriptor
 * (thi_plugin_check). `names` (may be NULL: the paths) name the files in
 * messages. Returns 0 with *out = {PATH: {"plugin": P, "classes": [C...]}}
 * for every plugin (owned: json_decref); TH_EABI (a plugin cannot be
 * loaded, has no or a bad descriptor, or crashed the child), TH_EIO,
 * TH_ENOMEM, with a diag naming the file. Blocks until the child exits.
 * The caller must be single-threaded or fork-safe (it forks). */
int thi_plugins_describe(json_t **out, const thi_bundle_input_t *files,
                         const char *const *names, size_t n, th_diag_t *d);

#endif /* TH_LOADER_DESCRIBE_H */

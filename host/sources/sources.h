/*
 * host/sources/sources.h — loaded sources (verified bundles in their own namespaces,
 * versions) and the class registry: what host/core and the API call.
 */
#ifndef TH_HOST_SOURCES_H
#define TH_HOST_SOURCES_H

#include <stdbool.h>

#include "host/core/system.h"
#include "loader/plugin.h"

/* registry.c: classes and plugins. thi_class_resolve finds PLUGIN.CLASS
 * in the named source (hash prefix), else in `own` source first, then among
 * plugins loaded by path, then in the one loaded source that has it; a
 * sourced class comes back with its source's live count taken (release
 * with thi_source_put when the actor ends or its creation fails). */
int thi_class_resolve(struct th_system *sys, const char *qname,
                      const thi_source_t *own, const char *hash_prefix,
                      const thi_class_t **out, th_diag_t *d);
int thi_registry_add_plugin(struct th_system *sys, thi_source_t *src,
                            thi_plugin_t *p, th_diag_t *d);
void thi_registry_remove_source(struct th_system *sys, thi_source_t *src);
void thi_registry_fini(struct th_system *sys);

/* source.c */
int thi_sources_init(struct th_system *sys);
void thi_sources_fini(struct th_system *sys);
void thi_source_put(struct th_system *sys, thi_source_t *src);
void thi_source_hold_locked(thi_source_t *src);   /* classes_lock held */
bool thi_source_usable(const thi_source_t *src);
const char *thi_source_hash(const thi_source_t *src);
int thi_source_find(struct th_system *sys, const char *prefix,
                    thi_source_t **out, th_diag_t *d); /* classes_lock held */
void thi_source_validated(struct th_system *sys, thi_env_t *env);
void thi_source_activated(struct th_system *sys, thi_env_t *env);
void thi_source_unmap(struct th_system *sys, thi_source_t *src);
int thi_source_request(struct th_system *sys, const th_addr_t *requester,
                       const void *bundle, size_t len, bool allow_rollback,
                       char hash_out[65], struct thi_pending_load **out,
                       th_diag_t *d);
int thi_source_unload(struct th_system *sys, const char *prefix,
                      char hash_out[65], th_diag_t *d);
/* Register `a`, an actor of class `cls`, as the Source Authority: only
 * an actor of the system's authority class from a plugin the embedder
 * loaded by path, and only while no other is registered (TH_EPERM). */
int thi_source_register_authority(struct th_system *sys, const th_addr_t *a,
                                  const thi_class_t *cls);
int thi_source_watch(struct th_system *sys, const th_addr_t *a, bool on);

#endif /* TH_HOST_SOURCES_H */

/*
 * host/sources/sources.h — loaded sources (verified, signed bundles mapped
 * into a running system, their version record, their watchers) and the
 * class registry: what the features and the API call. The core calls
 * none of it by name: it reaches the entries it needs through the table
 * thi_class_provider (host/core/provider.h), which sources.c fills from
 * these. The files behind it are listed in host/sources/internal.h.
 * Thread-safe:
 * each function takes the locks it needs, except where it says a lock is
 * held or that it runs on the system actor.
 */
#ifndef TH_HOST_SOURCES_H
#define TH_HOST_SOURCES_H

#include <stdbool.h>

#include "host/core/system.h"
#include "loader/plugin.h"

struct thi_pending_load;

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

/* sources.c: the subsystem's start and end (create, destroy): init makes
 * SRC(sys); fini frees everything, the registry too, and then it. */
int thi_sources_init(struct th_system *sys);
void thi_sources_fini(struct th_system *sys);
/* table.c: sources mapped now (unloading ones whose code is still mapped
 * too). */
size_t thi_sources_count(struct th_system *sys);

/* table.c: the listed sources. A source's classes hold it while an actor
 * of them lives; the last put (unload.c) of an unloading source has it
 * unmapped. */
void thi_source_put(struct th_system *sys, thi_source_t *src);
void thi_source_hold_locked(thi_source_t *src);   /* classes_lock held */
bool thi_source_usable(const thi_source_t *src);
const char *thi_source_hash(const thi_source_t *src);
int thi_source_find(struct th_system *sys, const char *prefix,
                    thi_source_t **out, th_diag_t *d); /* classes_lock held */

/* request.c: a load asked for by an actor (requester) or from outside
 * (NULL): verified against the keyring, then sent to the Source Authority
 * (or the system's own word). Returns 0 (asked; *out the pending load), 1
 * (loaded already) or a TH_E* code with d set. ValidatedSource, the
 * answer, reaches thi_source_validated on the system actor. */
int thi_source_request(struct th_system *sys, const th_addr_t *requester,
                       const void *bundle, size_t len, bool allow_rollback,
                       char hash_out[65], struct thi_pending_load **out,
                       th_diag_t *d);
void thi_source_validated(struct th_system *sys, thi_env_t *env);
/* Register `a`, an actor of class `cls`, as the Source Authority: only
 * an actor of the system's authority class from a plugin the embedder
 * loaded by path, and only while no other is registered (TH_EPERM). */
int thi_source_register_authority(struct th_system *sys, const th_addr_t *a,
                                  const thi_class_t *cls);

/* versions.c: ActivatedSource from the registered Director (the version
 * record may rise). System actor. */
void thi_source_activated(struct th_system *sys, thi_env_t *env);

/* unload.c: no more creations; unmapped (thi_source_unmap, on the system
 * actor) once no actor of it lives. */
int thi_source_unload(struct th_system *sys, const char *prefix,
                      char hash_out[65], th_diag_t *d);
void thi_source_unmap(struct th_system *sys, thi_source_t *src);

/* watchers.c: `a` starts (on: hearing LoadedSource for every source
 * loaded already) or stops hearing of sources; 0 or TH_ENOMEM. */
int thi_source_watch(struct th_system *sys, const th_addr_t *a, bool on);

#endif /* TH_HOST_SOURCES_H */

/*
 * host/sources/load.c — a source admitted: once the keyring (and the
 * authority, if any) said yes, the archive is read against its signed
 * manifest (TLI classes included), the platform and the ELF policy are
 * checked, the version record and the group's other versions are
 * consulted — all before a byte is written — then the code is mapped
 * (map.c), its classes registered and the source listed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/version.h"
#include "host/log.h"
#include "host/sources/internal.h"
#include "loader/elf_policy.h"

static bool
platform_ok(const thi_bundle_t *b, const char *what, th_diag_t *d)
{
    json_t *abi = json_object_get(b->manifest, "abi");
    json_t *pf = json_object_get(b->manifest, "platform");
    json_int_t major = json_integer_value(json_object_get(abi, "major"));
    json_int_t minor = json_integer_value(json_object_get(abi, "minor"));
    if (major != TH_ABI_MAJOR || minor > TH_ABI_MINOR) {
        thi_diag_set(d, TH_EABI, "%s: bundle ABI %lld.%lld, host ABI %u.%u",
                     what, (long long)major, (long long)minor, TH_ABI_MAJOR,
                     TH_ABI_MINOR);
        return false;
    }
#if defined(__x86_64__)
    const char *arch = "x86_64";
#elif defined(__aarch64__)
    const char *arch = "aarch64";
#else
    const char *arch = "unknown";
#endif
    const char *a = json_string_value(json_object_get(pf, "arch"));
    const char *l = json_string_value(json_object_get(pf, "libc"));
    if (strcmp(a, arch) || strcmp(l, "glibc")) {
        thi_diag_set(d, TH_EABI,
                     "%s: bundle is for %s/%s, this host is %s/glibc", what,
                     a, l, arch);
        return false;
    }
    return true;
}

static int
elf_policy(const thi_bundle_t *b, const char *what, th_diag_t *d)
{
    thi_bundle_input_t *in = calloc(b->n_files + 1, sizeof *in);
    if (in == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n_files; i++)
        in[i] = (thi_bundle_input_t){.path = b->files[i].path,
                                     .kind = b->files[i].kind,
                                     .data = b->files[i].data,
                                     .size = b->files[i].size};
    int rc = thi_elf_check_bundle(in, b->n_files, what, d);
    free(in);
    return rc;
}

/* Everything after the keyring (and the authority, if any) said yes. On
 * failure nothing remains: no directory, no mapping, no class, no version
 * record. *record_out: the version record rose, for the caller to save. */
int
thi_source_load(struct th_system *sys, thi_pending_t *p, bool *record_out,
                th_diag_t *d)
{
    const uint8_t *bytes = thi_pending_bundle(p);
    char what[80];
    snprintf(what, sizeof what, "source %.12s", p->hash);
    /* the archive is read only up to where the verified signature ends */
    thi_bundle_t *b = NULL;
    int rc = thi_bundle_read_flags(&b, bytes, p->signed_len,
                                   THI_READ_SKIP_DATA, what, d);
    if (rc)
        return rc;
    thi_source_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        thi_bundle_free(b);
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    }
    memcpy(s->hash, p->hash, 65);
    snprintf(s->key, sizeof s->key, "%s", p->key);
    s->group = strdup(b->group);
    s->version = b->version ? strdup(b->version) : NULL;
    s->info = strdup(b->info ? b->info : "");
    s->tli = b->tli ? json_deep_copy(b->tli) : NULL;
    if (!platform_ok(b, what, d)) {
        rc = d ? d->code : TH_EABI;
        goto out_free;
    }
    /* the ELF policy, on the bytes that will be written and mapped, before
     * any of them is (the TLI's classes were checked against the signed
     * manifest by thi_bundle_read) */
    rc = elf_policy(b, what, d);
    if (rc)
        goto out_free;
    /* rollback protection and one unversioned bundle per group */
    pthread_mutex_lock(&sys->classes_lock);
    const char *best = thi_versions_best_locked(sys, b->group);
    bool bad = SRC(sys)->versions_bad;
    thi_source_t *clash = NULL;
    for (thi_source_t *o = SRC(sys)->sources; o; o = o->next)
        if (!strcmp(o->group, b->group) && !o->unloading &&
            (o->version == NULL || b->version == NULL))
            clash = o;
    pthread_mutex_unlock(&sys->classes_lock);
    if (bad) {
        rc = thi_diag_set(d, TH_EPERM,
                          "%s: the version record in %s is unreadable; "
                          "loads are refused",
                          what, SRC(sys)->state_dir);
        goto out_free;
    }
    if (clash) {
        rc = thi_diag_set(d, TH_EPERM,
                          "%s: group %s: an unversioned bundle cannot run "
                          "beside another version (loaded: %.12s)",
                          what, b->group, clash->hash);
        goto out_free;
    }
    if (best && b->version && thi_version_cmp(b->version, best) < 0) {
        if (!p->allow_rollback) {
            rc = thi_diag_set(d, TH_EPERM,
                              "%s: group %s version %s is older than %s, "
                              "accepted before (rollback refused; override "
                              "to allow)",
                              what, b->group, b->version, best);
            goto out_free;
        }
        thi_log(TH_LOG_WARNING, NULL,
                "%s: rollback of group %s to %s (highest accepted %s) "
                "allowed by the operator",
                what, b->group, b->version, best);
    }
    rc = thi_source_map(s, b, what, d);
    if (rc)
        goto out_free;
    if (s->n_plugins == 0) {
        rc = thi_diag_set(d, TH_EFORMAT, "%s: the bundle has no plugin",
                          what);
        goto out_free;
    }
    for (size_t i = 0; i < s->n_plugins && rc == 0; i++)
        rc = thi_registry_add_plugin(sys, s, s->plugins[i], d);
    if (rc) {
        thi_registry_remove_source(sys, s);
        goto out_free;
    }
    /* the version record moves when a version runs: here, without a
     * Director; with one, when it reports the version active
     * (thi_source_activated), so a failed activation moves nothing */
    pthread_mutex_lock(&sys->classes_lock);
    bool record = th_addr_is_null(&SRC(sys)->director) &&
                  thi_versions_raise_locked(sys, b->group, b->version);
    s->next = SRC(sys)->sources;
    SRC(sys)->sources = s;
    pthread_mutex_unlock(&sys->classes_lock);
    thi_log(TH_LOG_INFO, NULL, "source %.12s loaded: group %s version %s, key %s",
            s->hash, s->group, s->version ? s->version : "(none)", s->key);
    thi_bundle_free(b);
    thi_source_notify_watchers(sys, s, TH_MSG_LOADED_SOURCE);
    /* in force in memory already; written to disk in the background once
     * the caller is answered (waking the writer first made the caller
     * wait for a core on a busy machine) */
    *record_out = record;
    return 0;

out_free:
    thi_bundle_free(b);
    thi_source_free(s);
    return rc;
}

/*
 * host/sources/load.c — a source admitted, in two halves. Prepared once
 * the keyring said yes: the archive is read against its signed manifest
 * (TLI classes included), the platform and the ELF policy are checked and
 * the code is written into sealed memfds, no byte of it run. Committed
 * once the authority (if any) said yes too: the version record and the
 * group's other versions are consulted, then the code is mapped (map.c),
 * its classes registered and the source listed.
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

int
thi_source_prepare(thi_prepared_t *out, const thi_pending_t *p, th_diag_t *d)
{
    memset(out, 0, sizeof *out);
    snprintf(out->what, sizeof out->what, "source %.12s", p->hash);
    const char *what = out->what;
    /* the archive is read only up to where the verified signature ends */
    int rc = thi_bundle_read_flags(&out->b, thi_pending_bundle(p),
                                   p->signed_len, THI_READ_SKIP_DATA, what, d);
    if (rc)
        return rc;
    const thi_bundle_t *b = out->b;
    thi_source_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        thi_prepared_free(out);
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    }
    out->s = s;
    memcpy(s->hash, p->hash, 65);
    snprintf(s->key, sizeof s->key, "%s", p->key);
    s->group = strdup(b->group);
    s->version = b->version ? strdup(b->version) : NULL;
    s->info = strdup(b->info ? b->info : "");
    s->tli = b->tli ? json_deep_copy(b->tli) : NULL;
    if (!platform_ok(b, what, d)) {
        rc = d ? d->code : TH_EABI;
        goto fail;
    }
    /* the ELF policy, on the bytes that will be written and mapped, before
     * any of them is (the TLI's classes were checked against the signed
     * manifest by thi_bundle_read) */
    rc = elf_policy(b, what, d);
    if (rc == 0)
        rc = thi_source_seal(s, b, &out->fds, d);
    if (rc == 0)
        return 0;
fail:
    thi_prepared_free(out);
    return rc;
}

void
thi_prepared_free(thi_prepared_t *prep)
{
    if (prep->b)
        thi_source_fds_close(prep->fds, prep->b->n_files);
    thi_bundle_free(prep->b);
    thi_source_free(prep->s);
    prep->fds = NULL;
    prep->b = NULL;
    prep->s = NULL;
}

/* The checks that need the system's state, then the mapping. Called with
 * load_lock held, so no other load of the group slips in between. */
static int
commit_locked(struct th_system *sys, thi_pending_t *p, thi_prepared_t *prep,
              bool *record_out, th_diag_t *d)
{
    const thi_bundle_t *b = prep->b;
    thi_source_t *s = prep->s;
    const char *what = prep->what;
    int rc;
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
    if (bad)
        return thi_diag_set(d, TH_EPERM,
                            "%s: the version record in %s is unreadable; "
                            "loads are refused",
                            what, SRC(sys)->state_dir);
    if (clash)
        return thi_diag_set(d, TH_EPERM,
                            "%s: group %s: an unversioned bundle cannot run "
                            "beside another version (loaded: %.12s)",
                            what, b->group, clash->hash);
    if (best && b->version && thi_version_cmp(b->version, best) < 0) {
        if (!p->allow_rollback)
            return thi_diag_set(d, TH_EPERM,
                                "%s: group %s version %s is older than %s, "
                                "accepted before (rollback refused; override "
                                "to allow)",
                                what, b->group, b->version, best);
        thi_log(TH_LOG_WARNING, NULL,
                "%s: rollback of group %s to %s (highest accepted %s) "
                "allowed by the operator",
                what, b->group, b->version, best);
    }
    int *fds = prep->fds;
    prep->fds = NULL; /* taken by the mapping, kept or closed */
    rc = thi_source_map(s, b, fds, what, d);
    if (rc)
        return rc;
    if (s->n_plugins == 0)
        return thi_diag_set(d, TH_EFORMAT, "%s: the bundle has no plugin",
                            what);
    for (size_t i = 0; i < s->n_plugins && rc == 0; i++)
        rc = thi_registry_add_plugin(sys, s, s->plugins[i], d);
    if (rc) {
        thi_registry_remove_source(sys, s);
        return rc;
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
    prep->s = NULL; /* listed: the table owns it */
    thi_log(TH_LOG_INFO, NULL, "source %.12s loaded: group %s version %s, key %s",
            s->hash, s->group, s->version ? s->version : "(none)", s->key);
    thi_source_notify_watchers(sys, s, TH_MSG_LOADED_SOURCE);
    /* in force in memory already; written to disk in the background once
     * the caller is answered (waking the writer first made the caller
     * wait for a core on a busy machine) */
    *record_out = record;
    return 0;
}

int
thi_source_commit(struct th_system *sys, thi_pending_t *p,
                  thi_prepared_t *prep, bool *record_out, th_diag_t *d)
{
    pthread_mutex_lock(&SRC(sys)->load_lock);
    int rc = commit_locked(sys, p, prep, record_out, d);
    pthread_mutex_unlock(&SRC(sys)->load_lock);
    thi_prepared_free(prep);
    return rc;
}

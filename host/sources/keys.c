/*
 * host/sources/keys.c — the keys a system trusts: read from the
 * operator's key directory at create and on th_system_reload_keys (never
 * from a message), swapped whole under keys_lock's write side while every
 * verification holds its read side (request.c). Also the authority class,
 * the one class that may register as Source Authority.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/log.h"
#include "host/sources/internal.h"
#include "loader/keyring.h"

static void
log_lines(int level, const char *text)
{
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        int n = nl ? (int)(nl - text) : (int)strlen(text);
        thi_log(level, NULL, "%.*s", n, text);
        text = nl ? nl + 1 : NULL;
    }
}

/* Read the key directory into a new keyring and swap it in. The old ring
 * is freed once no verification uses it (the write lock waits for them). */
static int
keys_read(struct th_system *sys, const char *why, th_diag_t *d)
{
    thi_keyring_t *kr = NULL;
    char *warnings = NULL;
    if (SRC(sys)->key_dir[0]) {
        int rc = thi_keyring_load_dir(&kr, SRC(sys)->key_dir, &warnings, d);
        log_lines(TH_LOG_WARNING, warnings);
        free(warnings);
        if (rc != 0)
            return rc;
    }
    pthread_rwlock_wrlock(&SRC(sys)->keys_lock);
    thi_keyring_t *old = SRC(sys)->keyring;
    SRC(sys)->keyring = kr;
    pthread_rwlock_unlock(&SRC(sys)->keys_lock);
    thi_keyring_destroy(old);
    size_t n = thi_keyring_count(kr);
    if (n == 0) {
        /* an embedder that never loads sources configures no directory:
         * say so quietly; a directory that yields no key is a warning */
        thi_log(SRC(sys)->key_dir[0] ? TH_LOG_WARNING : TH_LOG_INFO, NULL,
                "%s: no trusted key: %s; every load will be refused", why,
                thi_keyring_problem(kr));
        return 0;
    }
    json_t *list = thi_keyring_json(kr);
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(list, "trusted"), i, k)
        thi_log(TH_LOG_INFO, NULL, "%s: trusted key %s sha256:%s", why,
                json_string_value(json_object_get(k, "file")),
                json_string_value(json_object_get(k, "fingerprint")));
    /* what the host trusts changed: worth a line at the default level */
    if (strcmp(why, "keys at start") != 0)
        thi_log(TH_LOG_WARNING, NULL, "%s from %s: %zu trusted, %zu skipped",
                why, SRC(sys)->key_dir, n,
                json_array_size(json_object_get(list, "skipped")));
    json_decref(list);
    return 0;
}

int
thi_keys_init(struct th_system *sys)
{
    pthread_rwlock_init(&SRC(sys)->keys_lock, NULL);
    const char *dir = sys->opts.key_dir;
    if (dir == NULL)
        dir = getenv("THESPIAN_DIRECTOR_DIR");
    if (dir && strlen(dir) >= sizeof SRC(sys)->key_dir)
        return TH_EINVAL;
    snprintf(SRC(sys)->key_dir, sizeof SRC(sys)->key_dir, "%s", dir ? dir : "");
    sys->opts.key_dir = NULL; /* copied */
    const char *ac = sys->opts.authority_class;
    if (ac == NULL)
        ac = "director.SourceAuthority";
    if (strlen(ac) >= sizeof SRC(sys)->authority_class)
        return TH_EINVAL;
    snprintf(SRC(sys)->authority_class, sizeof SRC(sys)->authority_class, "%s", ac);
    sys->opts.authority_class = NULL;
    th_diag_t d = {0};
    return keys_read(sys, "keys at start", &d);
}

int
th_system_reload_keys(th_system_t *sys, char **out, th_diag_t *d)
{
    if (out)
        *out = NULL;
    int rc = keys_read(sys, "keys reloaded", d);
    if (rc == 0 && out)
        rc = th_system_keys_json(sys, out);
    return rc;
}

int
th_system_keys_json(th_system_t *sys, char **out)
{
    pthread_rwlock_rdlock(&SRC(sys)->keys_lock);
    json_t *o = thi_keyring_json(SRC(sys)->keyring);
    pthread_rwlock_unlock(&SRC(sys)->keys_lock);
    if (o && SRC(sys)->key_dir[0] == '\0')
        json_object_set_new(o, "problem",
                            json_string(thi_keyring_problem(NULL)));
    *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *out ? 0 : TH_ENOMEM;
}

const char *
th_system_key_dir(th_system_t *sys)
{
    return SRC(sys)->key_dir; /* set once at create (keys_init) */
}

void
thi_keys_fini(struct th_system *sys)
{
    thi_keyring_destroy(SRC(sys)->keyring);
    SRC(sys)->keyring = NULL;
    pthread_rwlock_destroy(&SRC(sys)->keys_lock);
}

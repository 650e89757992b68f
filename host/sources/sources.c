/*
 * host/sources/sources.c — the subsystem's start and end: the trusted
 * keys, the state directory (the operator's, or a private one made and
 * removed here) and the version record in it; at destroy everything the
 * subsystem still holds; and the table through which the core calls it,
 * thi_class_provider.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/core/provider.h"
#include "host/sources/internal.h"

static void
rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

int
thi_sources_init(struct th_system *sys)
{
    SRC(sys) = calloc(1, sizeof *SRC(sys));
    if (SRC(sys) == NULL)
        return TH_ENOMEM;
    pthread_mutex_init(&SRC(sys)->load_lock, NULL);
    int krc = thi_keys_init(sys);
    if (krc != 0)
        return krc;
    if (sys->opts.state_dir && sys->opts.state_dir[0]) {
        snprintf(SRC(sys)->state_dir, sizeof SRC(sys)->state_dir, "%s",
                 sys->opts.state_dir);
        if (mkdir(SRC(sys)->state_dir, 0700) != 0 && errno != EEXIST)
            return TH_EIO;
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(SRC(sys)->state_dir, sizeof SRC(sys)->state_dir,
                 "%s/thespian-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(SRC(sys)->state_dir) == NULL)
            return TH_EIO;
        SRC(sys)->own_state_dir = true;
    }
    thi_versions_load(sys);
    return 0;
}

void
thi_sources_fini(struct th_system *sys)
{
    if (SRC(sys) == NULL)
        return; /* its init found no memory */
    thi_versions_fini(sys); /* its writer first: it reads the record */
    thi_sources_table_fini(sys);
    thi_pending_fini(sys);
    thi_notify_fini(&SRC(sys)->src_watchers);
    thi_keys_fini(sys);
    if (SRC(sys)->own_state_dir)
        rm_tree(SRC(sys)->state_dir);
    thi_registry_fini(sys);
    pthread_mutex_destroy(&SRC(sys)->load_lock);
    free(SRC(sys));
    SRC(sys) = NULL;
}

/* What the core calls (host/core/provider.h). */
const thi_class_provider_t thi_class_provider = {
    .init = thi_sources_init,
    .fini = thi_sources_fini,
    .resolve = thi_class_resolve,
    .put = thi_source_put,
    .hash = thi_source_hash,
    .count = thi_sources_count,
    .unmap = thi_source_unmap,
    .validated = thi_source_validated,
    .activated = thi_source_activated,
};

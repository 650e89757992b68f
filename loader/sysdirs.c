/* loader/sysdirs.c — the system's trusted library directories (see
 * sysdirs.h). */
#include "loader/sysdirs.h"

#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Absolute, a directory, owned by root, not writable by group or others. */
static bool
root_only(const char *path, bool want_dir)
{
    struct stat st;
    if (path[0] != '/' || stat(path, &st) != 0)
        return false;
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return false;
    return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

static void
dir_add(thi_sysdirs_t *l, const char *path)
{
    if (l->n == sizeof l->v / sizeof l->v[0] || !root_only(path, true))
        return;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], path) == 0)
            return;
    char *p = strdup(path);
    if (p)
        l->v[l->n++] = p;
}

/* ld.so.conf: one directory per line, '#' comments, "include GLOB". */
static void
conf_read(thi_sysdirs_t *l, const char *file, int depth)
{
    if (depth > 4 || !root_only(file, false))
        return;
    FILE *f = fopen(file, "re");
    if (f == NULL)
        return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "#\r\n")] = '\0';
        char *s = line + strspn(line, " \t");
        if (strncmp(s, "include", 7) == 0 && (s[7] == ' ' || s[7] == '\t')) {
            char *pat = s + 7 + strspn(s + 7, " \t");
            pat[strcspn(pat, " \t")] = '\0';
            char full[4200];
            snprintf(full, sizeof full, "%s%s", pat[0] == '/' ? "" : "/etc/",
                     pat);
            glob_t g;
            if (glob(full, 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++)
                    conf_read(l, g.gl_pathv[i], depth + 1);
            globfree(&g);
            continue;
        }
        s[strcspn(s, " \t=")] = '\0'; /* old "DIR=TYPE" lines */
        if (s[0] == '/')
            dir_add(l, s);
    }
    fclose(f);
}

void
thi_sysdirs_gather(thi_sysdirs_t *l)
{
    l->n = 0;
    /* where the dynamic linker found the host's own libc */
    void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    struct link_map *lm = NULL;
    if (h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", lm->l_name);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            dir_add(l, dir);
        }
    }
    if (h)
        dlclose(h);
    static const char *const defaults[] = {"/lib64", "/usr/lib64", "/lib",
                                           "/usr/lib"};
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        dir_add(l, defaults[i]);
    conf_read(l, "/etc/ld.so.conf", 0);
}

void
thi_sysdirs_free(thi_sysdirs_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

/* `recheck`: the list may be old, so each directory must be root-only
 * now too (thi_sysdirs_gather checked a fresh list's). */
static bool
has(const thi_sysdirs_t *l, const char *name, bool recheck)
{
    if (name[0] == '\0' || strchr(name, '/'))
        return false;
    for (size_t i = 0; i < l->n; i++) {
        char p[8300];
        snprintf(p, sizeof p, "%s/%s", l->v[i], name);
        if (root_only(p, false) && (!recheck || root_only(l->v[i], true)))
            return true;
    }
    return false;
}

bool
thi_sysdirs_has(const thi_sysdirs_t *l, const char *name)
{
    return has(l, name, false);
}

/* Gathering the list (the host's libc, ld.so.conf and its includes, a
 * stat of each) was most of the ELF policy's time in a load, so the list
 * is kept for the process. A name found in the kept list is a root-owned
 * file, not group- or world-writable, in a directory that is so now and
 * was listed: nothing but root can have changed that. A name not found
 * has the list gathered afresh and is looked up again, so a refusal never
 * rests on an old list and a library installed since is found. */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static thi_sysdirs_t kept;
static bool kept_valid;

bool
thi_sysdirs_trusted(const char *name)
{
    pthread_mutex_lock(&kept_lock);
    bool ok = kept_valid && has(&kept, name, true);
    if (!ok) {
        thi_sysdirs_free(&kept);
        thi_sysdirs_gather(&kept);
        kept_valid = true;
        ok = has(&kept, name, false);
    }
    pthread_mutex_unlock(&kept_lock);
    return ok;
}


/*
 * loader/privatize.c — unique private sonames (privatize.h): the names are
 * read with libelf (elf_policy.c), the rewriting is patchelf's, which
 * knows how to grow an ELF file's dynamic string table soundly.
 */
#include "loader/privatize.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "loader/crypto.h"
#include "loader/elf_policy.h"
#include "loader/format.h"

extern char **environ;

static int
by_path(const void *a, const void *b)
{
    const thi_bundle_input_t *x = *(const thi_bundle_input_t *const *)a;
    const thi_bundle_input_t *y = *(const thi_bundle_input_t *const *)b;
    return strcmp(x->path, y->path);
}

int
thi_private_tag(char tag[17], const char *group, const char *version,
                const thi_bundle_input_t *files, size_t n, th_diag_t *d)
{
    const thi_bundle_input_t **v = calloc(n + 1, sizeof *v);
    if (v == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        v[i] = &files[i];
    qsort(v, n, sizeof *v, by_path);
    thi_sha256_t s;
    thi_sha256_init(&s);
    static const char dom[] = "thespian-private-1";
    thi_sha256_update(&s, dom, sizeof dom);
    thi_sha256_update(&s, group, strlen(group) + 1);
    const char *ver = version ? version : "";
    thi_sha256_update(&s, ver, strlen(ver) + 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t h[32];
        thi_sha256(h, v[i]->data, v[i]->size);
        thi_sha256_update(&s, v[i]->path, strlen(v[i]->path) + 1);
        thi_sha256_update(&s, v[i]->kind, strlen(v[i]->kind) + 1);
        thi_sha256_update(&s, h, sizeof h);
    }
    uint8_t h[32];
    int rc = thi_sha256_final(h, &s);
    free(v);
    if (rc)
        return thi_diag_set(d, TH_EIO, "hashing failed");
    char hex[65];
    thi_hex(hex, h, 32);
    memcpy(tag, hex, 16);
    tag[16] = '\0';
    return 0;
}

void
thi_privatize_free(uint8_t **owned, size_t n)
{
    if (owned == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
}

static void
names_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* `soname` without a private tag it may already carry, into out. */
static void
base_name(char *out, size_t n, const char *soname)
{
    snprintf(out, n, "%s", soname);
    if (thi_elf_private_tag(out))
        *strstr(out, THI_PRIVATE_SEP) = '\0';
}

typedef struct rename {
    char from[512], base[512], to[600];
} rename_t;

/* Run patchelf with `argv` (argv[0] "patchelf", the file last). */
static int
run_patchelf(char *const *argv, const char *what, th_diag_t *d)
{
    pid_t pid;
    int e = posix_spawnp(&pid, "patchelf", NULL, NULL, argv, environ);
    if (e != 0)
        return thi_diag_set(d, TH_EIO,
                            "%s: cannot run patchelf (%s): private libraries "
                            "are renamed with it (Debian package patchelf)",
                            what, strerror(e));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return thi_diag_set(d, TH_EIO, "%s: waitpid: %s", what,
                                strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return thi_diag_set(d, TH_EIO,
                            "%s: patchelf failed (status %d) renaming its "
                            "private library names",
                            what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

/* Apply the renames to one file: copy, patchelf, read back. */
static int
patch_one(thi_bundle_input_t *f, const rename_t *rn, size_t n_rn,
          char *const *names, size_t n_names, const char *dir,
          uint8_t **out, th_diag_t *d)
{
    char *argv[2 * 128 + 8];
    char *owned[128 + 4];
    size_t ac = 0, no = 0;
    int rc = 0;
    argv[ac++] = "patchelf";
    bool is_lib = !strcmp(f->kind, "library");
    for (size_t k = 0; k < n_rn && is_lib; k++)
        if (!strcmp(rn[k].from, names[0])) {
            argv[ac++] = "--set-soname";
            argv[ac++] = (char *)rn[k].to;
        }
    bool changed = ac > 1;
    for (size_t i = 1; i < n_names && ac < 2 * 128 + 2; i++)
        for (size_t k = 0; k < n_rn; k++)
            if (!strcmp(names[i], rn[k].from) ||
                !strcmp(names[i], rn[k].base)) {
                char *from = strdup(names[i]);
                if (from == NULL)
                    return thi_diag_set(d, TH_ENOMEM, "out of memory");
                owned[no++] = from;
                argv[ac++] = "--replace-needed";
                argv[ac++] = from;
                argv[ac++] = (char *)rn[k].to;
                changed = true;
                break;
            }
    if (!changed)
        return 0;
    argv[ac++] = "--remove-rpath";
    char path[4200];
    snprintf(path, sizeof path, "%s/file", dir);
    argv[ac++] = path;
    argv[ac] = NULL;
    th_diag_t wd = {0};
    if (thi_write_file_atomic(path, f->data, f->size, &wd) != 0)
        rc = thi_diag_set(d, TH_EIO, "%s: %s", f->path, wd.msg);
    if (rc == 0)
        rc = run_patchelf(argv, f->path, d);
    size_t len = 0;
    if (rc == 0 && thi_read_file(out, &len, path, THI_BUNDLE_MAX_FILE, &wd))
        rc = thi_diag_set(d, TH_EIO, "%s: %s", f->path, wd.msg);
    unlink(path);
    for (size_t i = 0; i < no; i++)
        free(owned[i]);
    if (rc == 0) {
        f->data = *out;
        f->size = len;
    }
    return rc;
}

int
thi_privatize(thi_bundle_input_t *files, size_t n, const char *group,
              const char *version, uint8_t ***owned, char *tag_out,
              th_diag_t *d)
{
    *owned = NULL;
    size_t n_lib = 0;
    for (size_t i = 0; i < n; i++)
        n_lib += !strcmp(files[i].kind, "library");
    char tag[17];
    int rc = thi_private_tag(tag, group, version, files, n, d);
    if (rc)
        return rc;
    if (tag_out)
        memcpy(tag_out, tag, 17);
    if (n_lib == 0)
        return 0;
    char ***names = calloc(n, sizeof *names);
    size_t *n_names = calloc(n, sizeof *n_names);
    rename_t *rn = calloc(n_lib, sizeof *rn);
    uint8_t **bufs = calloc(n, sizeof *bufs);
    size_t n_rn = 0;
    char dir[4096] = "";
    if (!names || !n_names || !rn || !bufs) {
        rc = thi_diag_set(d, TH_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!strcmp(files[i].kind, "data"))
            continue;
        rc = thi_elf_needed(files[i].data, files[i].size, &names[i],
                            &n_names[i], files[i].path, d);
        if (rc || strcmp(files[i].kind, "library"))
            continue;
        if (names[i][0][0] == '\0') {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: a private library needs a SONAME (link "
                              "it with -Wl,-soname,NAME)",
                              files[i].path);
            break;
        }
        rename_t *r = &rn[n_rn++];
        snprintf(r->from, sizeof r->from, "%s", names[i][0]);
        base_name(r->base, sizeof r->base, names[i][0]);
        snprintf(r->to, sizeof r->to, "%s" THI_PRIVATE_SEP "%s", r->base,
                 tag);
    }
    if (rc)
        goto out;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/thespian-privatize-XXXXXX",
             t && *t ? t : "/tmp");
    if (mkdtemp(dir) == NULL) {
        rc = thi_diag_set(d, TH_EIO, "%s: %s", dir, strerror(errno));
        dir[0] = '\0';
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (names[i])
            rc = patch_one(&files[i], rn, n_rn, names[i], n_names[i], dir,
                           &bufs[i], d);
out:
    if (dir[0])
        rmdir(dir);
    for (size_t i = 0; names && i < n; i++)
        names_free(names[i], n_names[i]);
    free(names);
    free(n_names);
    free(rn);
    if (rc) {
        thi_privatize_free(bufs, n);
        return rc;
    }
    *owned = bufs;
    return 0;
}

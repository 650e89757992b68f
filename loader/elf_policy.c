/*
 * loader/elf_policy.c — the ELF policy of bundles (elf_policy.h): each
 * plugin and library read and checked alone (elf_file.c), then the rules
 * across the bundle — private, tagged, unique sonames, and every library
 * name found in the bundle or in the system's trusted directories; and
 * the SONAME / NEEDED queries gensrc uses.
 */
#include "loader/elf_policy.h"

#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/elf_file.h"
#include "loader/sysdirs.h"
#include "thespian/error.h"

bool
thi_elf_trusted_lib(const char *name)
{
    return thi_sysdirs_trusted(name);
}

static bool
is_code(const thi_bundle_input_t *f)
{
    return strcmp(f->kind, "plugin") == 0 || strcmp(f->kind, "library") == 0;
}

/* ---- The bundle -------------------------------------------------------- */

int
thi_elf_check_bundle(const thi_bundle_input_t *files, size_t n,
                     const char *what, th_diag_t *d)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return thi_diag_set(d, TH_EIO, "%s: libelf is unusable: %s", what,
                            elf_errmsg(-1));
    thi_elf_info_t *info = calloc(n ? n : 1, sizeof *info);
    if (info == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        info[i].f = &files[i];
        if (is_code(&files[i]))
            rc = thi_elf_read_one(&info[i], &files[i], what, d);
    }
    /* private libraries: unique, tagged sonames (NAME.th-TAG, one TAG per
     * bundle), so that nothing outside the bundle can be bound in their
     * place and they can be bound by nothing outside it */
    const char *tag = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(files[i].kind, "library"))
            continue;
        const char *so = info[i].soname, *fp = files[i].path;
        const char *t = so ? thi_elf_private_tag(so) : NULL;
        if (so == NULL)
            rc = thi_diag_set(d, TH_EPERM,
                              "%s: library %s has no SONAME: its users "
                              "could not find it",
                              what, fp);
        else if (t == NULL)
            rc = thi_diag_set(d, TH_EPERM,
                              "%s: library %s keeps the plain soname "
                              "%.200s: a private library's soname must be "
                              "made unique (NAME" THI_PRIVATE_SEP "TAG, "
                              "as gensrc writes it) so that no other "
                              "source's library can take its place",
                              what, fp, so);
        else if (tag && strcmp(t, tag))
            rc = thi_diag_set(d, TH_EPERM,
                              "%s: library %s: soname %.200s carries another "
                              "tag than the bundle's other private "
                              "libraries (%s)",
                              what, fp, so, tag);
        tag = t;
        for (size_t j = 0; j < i && rc == 0; j++)
            if (!strcmp(files[j].kind, "library") && info[j].soname &&
                !strcmp(info[j].soname, so))
                rc = thi_diag_set(d, TH_EPERM,
                                  "%s: libraries %s and %s have the same "
                                  "soname %.200s",
                                  what, files[j].path, fp, so);
    }
    /* every library name: a bundle library's SONAME (mapped by the host
     * beforehand, so the linker finds it loaded) or a trusted system file
     * (never a number: with $ORIGIN /proc/self/fd it would name one of the
     * host's descriptors) */
    for (size_t i = 0; i < n && rc == 0; i++) {
        for (size_t k = 0; k < info[i].n_needed && rc == 0; k++) {
            const char *want = info[i].needed[k];
            const char *fk = files[i].kind, *fp = files[i].path;
            if (strchr(want, '/')) {
                rc = thi_diag_set(d, TH_EPERM,
                                  "%s: %s %s: NEEDED %.200s is a path (only "
                                  "library names are allowed)",
                                  what, fk, fp, want);
                break;
            }
            bool ok = false;
            for (size_t j = 0; j < n && !ok; j++)
                ok = !strcmp(files[j].kind, "library") && info[j].soname &&
                     !strcmp(info[j].soname, want);
            if (ok)
                continue;
            if (want[strspn(want, "0123456789")] == '\0' ||
                thi_elf_private_tag(want) || !thi_sysdirs_trusted(want))
                rc = thi_diag_set(d, TH_EPERM,
                                  "%s: %s %s: NEEDED %.200s is neither a "
                                  "library of the bundle nor in the system's "
                                  "trusted library directories",
                                  what, fk, fp, want);
        }
    }
    for (size_t i = 0; i < n; i++)
        thi_elf_info_free(&info[i]);
    free(info);
    return rc;
}

const char *
thi_elf_private_tag(const char *soname)
{
    const char *sep = strstr(soname, THI_PRIVATE_SEP);
    if (sep == NULL || sep == soname)
        return NULL;
    const char *t = sep + strlen(THI_PRIVATE_SEP);
    if (strlen(t) != THI_PRIVATE_TAG_LEN ||
        strspn(t, "0123456789abcdef") != THI_PRIVATE_TAG_LEN ||
        strstr(t, THI_PRIVATE_SEP))
        return NULL;
    return t;
}

int
thi_elf_soname(const uint8_t *data, size_t size, char *out, size_t n,
               const char *what, th_diag_t *d)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return thi_diag_set(d, TH_EIO, "%s: libelf is unusable: %s", what,
                            elf_errmsg(-1));
    thi_bundle_input_t f = {.path = "library", .kind = "library",
                            .data = data, .size = size};
    thi_elf_info_t info = {0};
    int rc = thi_elf_read_one(&info, &f, what, d);
    if (rc == 0 && (info.soname == NULL || strlen(info.soname) >= n))
        rc = thi_diag_set(d, TH_EFORMAT, "%s: library has no usable SONAME",
                          what);
    if (rc == 0)
        snprintf(out, n, "%s", info.soname);
    thi_elf_info_free(&info);
    return rc;
}

int
thi_elf_needed(const uint8_t *data, size_t size, char ***out, size_t *n_out,
               const char *what, th_diag_t *d)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return thi_diag_set(d, TH_EIO, "%s: libelf is unusable: %s", what,
                            elf_errmsg(-1));
    thi_bundle_input_t f = {.path = "file", .kind = "code", .data = data,
                            .size = size};
    thi_elf_info_t info = {0};
    int rc = thi_elf_read_one(&info, &f, what, d);
    *out = NULL;
    *n_out = 0;
    if (rc == 0) {
        /* the soname first, then every NEEDED; the caller frees each */
        char **v = calloc(info.n_needed + 1, sizeof *v);
        if (v == NULL) {
            rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
        } else {
            v[0] = info.soname ? info.soname : strdup("");
            info.soname = NULL;
            for (size_t i = 0; i < info.n_needed; i++) {
                v[i + 1] = info.needed[i];
                info.needed[i] = NULL;
            }
            *out = v;
            *n_out = info.n_needed + 1;
        }
    }
    thi_elf_info_free(&info);
    return rc;
}

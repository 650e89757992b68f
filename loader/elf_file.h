/*
 * loader/elf_file.h — one ELF file of a bundle, read as the dynamic linker
 * will read it (elf_file.c): inside the loader only, for elf_policy.c,
 * which applies the bundle-wide rules (elf_policy.h).
 */
#ifndef TH_LOADER_ELF_FILE_H
#define TH_LOADER_ELF_FILE_H

#include <stddef.h>

#include "base/diag.h"
#include "loader/zip_write.h"

#define THI_ELF_MAX_NAMES 128 /* library names or search directories per file */

/* What one file names: its SONAME, the libraries it asks for, and its
 * RPATH/RUNPATH as bundle directories. Every string is malloc'd; release
 * with thi_elf_info_free (safe on a zeroed struct). */
typedef struct thi_elf_info {
    const thi_bundle_input_t *f;
    char *soname;
    char *needed[THI_ELF_MAX_NAMES];  /* DT_NEEDED, DT_FILTER, DT_AUXILIARY */
    size_t n_needed;
    char *dirs[THI_ELF_MAX_NAMES];    /* RPATH/RUNPATH, as bundle directories */
    size_t n_dirs;
} thi_elf_info_t;

void thi_elf_info_free(thi_elf_info_t *in);

/* Read `f` (borrowed; f->kind and f->path name it in the diag) into
 * `info` (zeroed by the caller; filled even on failure, so free it) and
 * check the rules of one file: a shared object of the host's machine,
 * class and byte order; one dynamic segment; one dynamic string table;
 * no DF_1_NODELETE; no STB_GNU_UNIQUE symbol; RPATH/RUNPATH at most
 * "$ORIGIN". Returns 0, TH_EFORMAT, TH_EABI, TH_EPERM, TH_ETOOBIG,
 * TH_ENOMEM with the diag set. libelf must be initialized
 * (elf_version). Thread-safe. */
int thi_elf_read_one(thi_elf_info_t *info, const thi_bundle_input_t *f,
                     const char *what, th_diag_t *d);

#endif /* TH_LOADER_ELF_FILE_H */

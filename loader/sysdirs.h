/*
 * loader/sysdirs.h — the system's trusted library directories: where the
 * dynamic linker found the host's own libc, the ld.so.conf directories
 * and the default ones, each kept only when it is owned by root and not
 * writable by group or others. A bundle may need a library by name only
 * when it is found there (or inside the bundle); see elf_policy.h.
 */
#ifndef TH_LOADER_SYSDIRS_H
#define TH_LOADER_SYSDIRS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct thi_sysdirs {
    char *v[64]; /* owned; at most 64 directories are kept */
    size_t n;
} thi_sysdirs_t;

/* Gather the directories into *l (reads /etc/ld.so.conf and what it
 * includes). Never fails: what cannot be read is left out. Release with
 * thi_sysdirs_free. Reentrant; reads the file system. */
void thi_sysdirs_gather(thi_sysdirs_t *l);
void thi_sysdirs_free(thi_sysdirs_t *l);

/* `name` (a plain file name, no '/') is a root-owned, not group- or
 * other-writable regular file in one of the directories. */
bool thi_sysdirs_has(const thi_sysdirs_t *l, const char *name);

/* thi_sysdirs_has against a list kept for the process, gathered afresh
 * when `name` is not found in it (so a refusal never rests on an old
 * list). Thread-safe (one lock). */
bool thi_sysdirs_trusted(const char *name);

#endif /* TH_LOADER_SYSDIRS_H */

/*
 * loader/privatize.h — making a bundle's private libraries unique before
 * it is signed. The host maps every source into its main link-map
 * namespace (docs/loading.md), where the dynamic linker binds a NEEDED
 * name to any loaded object with that soname: two versions shipping
 * libfoo.so.1 would share the first one's copy. So each private library's
 * soname becomes NAME.th-TAG (loader/elf_policy.h), and every NEEDED of
 * the bundle's plugins and libraries that named it is renamed with it, as
 * wheel repair tools do, with patchelf (Debian package patchelf). The
 * result is what gets signed: what the host maps is what was signed.
 */
#ifndef TH_LOADER_PRIVATIZE_H
#define TH_LOADER_PRIVATIZE_H

#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "loader/zip_write.h"

/* The bundle's tag: the first 16 hex digits of SHA-256 over the group,
 * the version ("" when unversioned) and every file's path, kind and
 * SHA-256 in path order; two versions, or two contents, get two tags.
 * Writes 17 bytes to tag. Pure. */
int thi_private_tag(char tag[17], const char *group, const char *version,
                    const thi_bundle_input_t *files, size_t n, th_diag_t *d);

/* Rename the private libraries among `files` (those of kind "library")
 * and every reference to them: a library's soname NAME (or an earlier
 * NAME.th-OLD) becomes NAME.th-TAG, each plugin's and library's NEEDED
 * entries follow, and the RPATH/RUNPATH of every file so changed is
 * removed (the host finds private libraries by soname). Files needing no
 * change keep their bytes. On success files[i].data/size point into
 * buffers listed in *owned (n entries, NULL where unchanged; free with
 * thi_privatize_free) and `tag` (17 bytes, may be NULL) holds the tag.
 * A bundle without libraries is left as it is (*owned NULL). Runs
 * patchelf in child processes on copies in a private temporary directory
 * ($TMPDIR or /tmp). Returns 0, TH_EIO (patchelf missing or failed: the
 * diag says which file and why), TH_EFORMAT (not ELF), TH_ENOMEM.
 * Blocks; thread-safe. */
int thi_privatize(thi_bundle_input_t *files, size_t n, const char *group,
                  const char *version, uint8_t ***owned, char *tag,
                  th_diag_t *d);

void thi_privatize_free(uint8_t **owned, size_t n);

#endif /* TH_LOADER_PRIVATIZE_H */

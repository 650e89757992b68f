/*
 * loader/elf_policy.h — the ELF policy a bundle's code must meet before
 * anything of it is written or mapped: every plugin and library is a
 * shared object of the host's machine, class and byte order; its
 * RPATH/RUNPATH entries are $ORIGIN-relative and stay inside the bundle;
 * every library it names (DT_NEEDED, DT_FILTER, DT_AUXILIARY) is a library
 * of the bundle or a library of the system's trusted directories. Read
 * with elfutils' libelf from the exact bytes that will be mapped; nothing
 * is ever run.
 */
#ifndef TH_LOADER_ELF_POLICY_H
#define TH_LOADER_ELF_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "loader/zip_write.h"

/* Check every file of kind "plugin" or "library" among `files` (borrowed;
 * paths are bundle paths, already checked by the bundle reader) against
 * the policy above, the private soname rule below, no DF_1_NODELETE
 * and no STB_GNU_UNIQUE symbol (glibc would keep such an object mapped
 * for good: it could never be unloaded; the diag names the symbol and
 * -fno-gnu-unique), and RPATH/RUNPATH at most
 * "$ORIGIN" itself: code is mapped from sealed memfds, where $ORIGIN is
 * /proc/self/fd, and every NEEDED must be a bundle library's soname
 * (mapped by the host beforehand) or a trusted system library. Data files are not checked, but a library name that
 * resolves to one (through an RPATH directory) is refused. `what` names
 * the bundle in the diag, which also names the file, the field and what
 * was found, e.g. "plugin x.so: ELF machine AArch64, host x86-64".
 * Returns 0, TH_EFORMAT (not ELF / malformed), TH_EABI (machine, class,
 * byte order, type, NODELETE, GNU-unique), TH_EPERM (RPATH/RUNPATH or a library outside the
 * bundle and the trusted directories), TH_ENOMEM. Reads the system's
 * library configuration (/etc/ld.so.conf); thread-safe; does not block
 * beyond file reads. */
int thi_elf_check_bundle(const thi_bundle_input_t *files, size_t n,
                         const char *what, th_diag_t *d);

/* Private libraries: the soname of every file of kind "library" is
 * NAME.th-TAG, TAG 16 lowercase hex digits, the same for every library
 * of a bundle (gensrc derives it from the bundle's group, version and
 * contents: loader/privatize.h). The dynamic linker binds a NEEDED name
 * to any loaded object of that soname, so a plain soname could bind one
 * source's code to another's library; thi_elf_check_bundle refuses it,
 * and the host also refuses a tagged soname already loaded. */
#define THI_PRIVATE_SEP ".th-"
#define THI_PRIVATE_TAG_LEN 16

/* The TAG of a private soname (a pointer into `soname`), or NULL when
 * `soname` is not of the form above. Pure. */
const char *thi_elf_private_tag(const char *soname);

/* The SONAME of the shared object `data` (borrowed) into out[n].
 * Returns 0, TH_EFORMAT (not a shared object of this host, or no
 * SONAME), TH_ENOMEM. Thread-safe. */
int thi_elf_soname(const uint8_t *data, size_t size, char *out, size_t n,
                   const char *what, th_diag_t *d);

/* The SONAME ("" when none) followed by every NEEDED/FILTER/AUXILIARY
 * name of `data`: *out (malloc'd, each string malloc'd, caller frees
 * all), *n_out entries. Returns 0 or as thi_elf_soname. Thread-safe. */
int thi_elf_needed(const uint8_t *data, size_t size, char ***out,
                   size_t *n_out, const char *what, th_diag_t *d);

/* True when `name` (a DT_NEEDED value) is a file of one of the system's
 * trusted library directories: the dynamic linker's defaults (/lib,
 * /usr/lib, /lib64, /usr/lib64, the directory the host's libc came from)
 * and those of /etc/ld.so.conf (what ld.so.cache is built from). A
 * directory or file counts only when it is absolute, owned by root and
 * not writable by group or others; a name with a '/' never does.
 * Thread-safe. */
bool thi_elf_trusted_lib(const char *name);

/* The display name of an ELF machine number ("x86-64", "AArch64", ...,
 * else "machine N" in buf). Pure. */
const char *thi_elf_machine_name(unsigned machine, char *buf, size_t n);

#endif /* TH_LOADER_ELF_POLICY_H */

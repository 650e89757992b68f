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

#include "loader/bundle.h"
#include "loader/diag.h"

/* Check every file of kind "plugin" or "library" among `files` (borrowed;
 * paths are bundle paths, already checked by the bundle reader) against
 * the policy above. Data files are not checked, but a library name that
 * resolves to one (through an RPATH directory) is refused. `what` names
 * the bundle in the diag, which also names the file, the field and what
 * was found, e.g. "plugin x.so: ELF machine AArch64, host x86-64".
 * Returns 0, TH_EFORMAT (not ELF / malformed), TH_EABI (machine, class,
 * byte order, type), TH_EPERM (RPATH/RUNPATH or a library outside the
 * bundle and the trusted directories), TH_ENOMEM. Reads the system's
 * library configuration (/etc/ld.so.conf); thread-safe; does not block
 * beyond file reads. */
int thi_elf_check_bundle(const thi_bundle_input_t *files, size_t n,
                         const char *what, th_diag_t *d);

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

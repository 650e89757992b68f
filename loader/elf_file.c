/*
 * loader/elf_file.c — one ELF file of a bundle, read with libelf as the
 * dynamic linker will read it, and held to the rules that concern it
 * alone (elf_file.h). What the linker uses is what is checked: program
 * headers (PT_DYNAMIC, PT_LOAD) rather than section headers, which a
 * crafted file can make disagree with them, and the dynamic string table
 * found through DT_STRTAB as the linker finds it.
 */
#include "loader/elf_file.h"

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/elf_policy.h"
#include "thespian/error.h"

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__arm__)
#define HOST_MACHINE EM_ARM
#elif defined(__riscv)
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__powerpc__)
#define HOST_MACHINE EM_PPC
#elif defined(__s390__)
#define HOST_MACHINE EM_S390
#else
#error "loader/elf_file.c: add this machine's EM_ number"
#endif
#define HOST_CLASS (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

const char *
thi_elf_machine_name(unsigned machine, char *buf, size_t n)
{
    switch (machine) {
    case EM_X86_64: return "x86-64";
    case EM_386: return "i386";
    case EM_AARCH64: return "AArch64";
    case EM_ARM: return "ARM";
    case EM_RISCV: return "RISC-V";
    case EM_PPC64: return "PowerPC64";
    case EM_PPC: return "PowerPC";
    case EM_S390: return "S/390";
    case EM_MIPS: return "MIPS";
    case EM_SPARCV9: return "SPARC V9";
    case EM_LOONGARCH: return "LoongArch";
    default:
        snprintf(buf, n, "machine %u", machine);
        return buf;
    }
}

static const char *
class_name(int c)
{
    return c == ELFCLASS64 ? "64-bit" : c == ELFCLASS32 ? "32-bit" : "invalid";
}

void
thi_elf_info_free(thi_elf_info_t *in)
{
    free(in->soname);
    for (size_t i = 0; i < in->n_needed; i++)
        free(in->needed[i]);
    for (size_t i = 0; i < in->n_dirs; i++)
        free(in->dirs[i]);
}

/* The bundle directory an RPATH/RUNPATH element names, for a file at
 * bundle path `path`: 0 and the directory ("" is the bundle's top) in out;
 * -1 not $ORIGIN-relative (or another $ token); -2 leaves the bundle. */
static int
origin_dir(char *out, size_t n, const char *elem, const char *path)
{
    const char *rest;
    if (strncmp(elem, "$ORIGIN", 7) == 0)
        rest = elem + 7;
    else if (strncmp(elem, "${ORIGIN}", 9) == 0)
        rest = elem + 9;
    else
        return -1;
    if (*rest != '\0' && *rest != '/')
        return -1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    else
        buf[0] = '\0';
    size_t len = strlen(buf);
    while (*rest) {
        rest += strspn(rest, "/");
        size_t cl = strcspn(rest, "/");
        if (cl == 0 || (cl == 1 && rest[0] == '.')) {
            rest += cl;
            continue;
        }
        if (cl == 2 && rest[0] == '.' && rest[1] == '.') {
            if (len == 0)
                return -2;
            char *cut = memrchr(buf, '/', len);
            len = cut ? (size_t)(cut - buf) : 0;
            buf[len] = '\0';
        } else {
            if (memchr(rest, '$', cl) || len + cl + 2 > sizeof buf)
                return -1;
            if (len)
                buf[len++] = '/';
            memcpy(buf + len, rest, cl);
            len += cl;
            buf[len] = '\0';
        }
        rest += cl;
    }
    snprintf(out, n, "%s", buf);
    return 0;
}

/* A dynamic string: in bounds, NUL-terminated, printable. */
static const char *
dyn_str(const Elf_Data *st, GElf_Xword off)
{
    if (st == NULL || off >= st->d_size)
        return NULL;
    const char *s = (const char *)st->d_buf + off;
    const char *end = memchr(s, '\0', st->d_size - off);
    if (end == NULL)
        return NULL;
    for (const char *c = s; c < end; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            return NULL;
    return s;
}

#define FAIL(code, ...)                              \
    do {                                             \
        rc = thi_diag_set(d, code, __VA_ARGS__);     \
        goto out;                                    \
    } while (0)

/* `size` bytes of the file that a PT_LOAD maps at `addr` (as the
 * dynamic linker reads them), of ELF type `type`; NULL when no segment
 * holds them all. */
static Elf_Data *
at_vaddr(Elf *e, size_t nph, GElf_Addr addr, size_t size, Elf_Type type)
{
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(e, (int)i, &ph) == NULL || ph.p_type != PT_LOAD)
            continue;
        if (addr >= ph.p_vaddr && addr - ph.p_vaddr <= ph.p_filesz &&
            size <= ph.p_filesz - (addr - ph.p_vaddr))
            return elf_getdata_rawchunk(
                e, (int64_t)(ph.p_offset + (addr - ph.p_vaddr)), size, type);
    }
    return NULL;
}

/* How many entries the dynamic symbol table has, as the dynamic linker's
 * hash tables bound it (DT_HASH's nchain, else the highest DT_GNU_HASH
 * chain's end); 0 with *ok false when the tables are out of bounds. */
static size_t
dynsym_count(Elf *e, size_t nph, GElf_Addr hash, GElf_Addr gnu_hash, bool *ok)
{
    *ok = true;
    if (hash) {
        Elf_Data *h = at_vaddr(e, nph, hash, 8, ELF_T_WORD);
        if (h == NULL) {
            *ok = false;
            return 0;
        }
        return ((const uint32_t *)h->d_buf)[1];
    }
    if (gnu_hash == 0)
        return 0;
    Elf_Data *hd = at_vaddr(e, nph, gnu_hash, 16, ELF_T_WORD);
    if (hd == NULL) {
        *ok = false;
        return 0;
    }
    const uint32_t *w = hd->d_buf;
    uint32_t nbuckets = w[0], symoffset = w[1], bloom = w[2];
    size_t word = gelf_getclass(e) == ELFCLASS64 ? 8 : 4;
    GElf_Addr buckets = gnu_hash + 16 + (GElf_Addr)bloom * word;
    if (nbuckets == 0 || nbuckets > (1u << 24) || bloom > (1u << 24)) {
        *ok = false;
        return 0;
    }
    Elf_Data *bd = at_vaddr(e, nph, buckets, (size_t)nbuckets * 4, ELF_T_WORD);
    if (bd == NULL) {
        *ok = false;
        return 0;
    }
    uint32_t last = 0;
    for (uint32_t i = 0; i < nbuckets; i++)
        if (((const uint32_t *)bd->d_buf)[i] > last)
            last = ((const uint32_t *)bd->d_buf)[i];
    if (last < symoffset)
        return symoffset;
    /* walk the last chain to its end bit, read at once: from its start
     * to the end of the segment holding it */
    GElf_Addr from = buckets + (GElf_Addr)nbuckets * 4 +
                     (GElf_Addr)(last - symoffset) * 4;
    size_t room = 0;
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(e, (int)i, &ph) != NULL && ph.p_type == PT_LOAD &&
            from >= ph.p_vaddr && from - ph.p_vaddr < ph.p_filesz)
            room = (size_t)(ph.p_filesz - (from - ph.p_vaddr)) / 4;
    }
    Elf_Data *cd = room ? at_vaddr(e, nph, from, room * 4, ELF_T_WORD) : NULL;
    for (size_t i = 0; cd && i < room; i++)
        if (((const uint32_t *)cd->d_buf)[i] & 1)
            return (size_t)last + i + 1;
    *ok = false;
    return 0;
}

int
thi_elf_read_one(thi_elf_info_t *info, const thi_bundle_input_t *f,
                 const char *what, th_diag_t *d)
{
    const char *kind = f->kind, *p = f->path;
    int rc = 0;
    /* libelf may write to its image: give it a copy of the bytes */
    char *img = malloc(f->size ? f->size : 1);
    if (img == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
    memcpy(img, f->data, f->size);
    Elf *e = elf_memory(img, f->size);
    GElf_Xword off_needed[THI_ELF_MAX_NAMES], off_path[THI_ELF_MAX_NAMES], off_soname = 0;
    size_t n_needed = 0, n_path = 0;
    bool has_soname = false;
    if (e == NULL || elf_kind(e) != ELF_K_ELF)
        FAIL(TH_EFORMAT, "%s: %s %s: not an ELF file", what, kind, p);
    int cls = gelf_getclass(e);
    if (cls != (int)HOST_CLASS)
        FAIL(TH_EABI, "%s: %s %s: ELF class %s, host %s", what, kind, p,
             class_name(cls), class_name(HOST_CLASS));
    size_t idn = 0;
    const char *id = elf_getident(e, &idn);
    if (id == NULL || idn <= EI_DATA || id[EI_DATA] != HOST_DATA)
        FAIL(TH_EABI, "%s: %s %s: ELF byte order %s, host %s", what, kind, p,
             id && idn > EI_DATA && id[EI_DATA] == ELFDATA2MSB
                 ? "big-endian"
                 : id && idn > EI_DATA && id[EI_DATA] == ELFDATA2LSB
                       ? "little-endian"
                       : "invalid",
             HOST_DATA == ELFDATA2LSB ? "little-endian" : "big-endian");
    GElf_Ehdr eh;
    if (gelf_getehdr(e, &eh) == NULL)
        FAIL(TH_EFORMAT, "%s: %s %s: unreadable ELF header: %s", what, kind,
             p, elf_errmsg(-1));
    if (eh.e_machine != HOST_MACHINE) {
        char b1[32], b2[32];
        FAIL(TH_EABI, "%s: %s %s: ELF machine %s, host %s", what, kind, p,
             thi_elf_machine_name(eh.e_machine, b1, sizeof b1),
             thi_elf_machine_name(HOST_MACHINE, b2, sizeof b2));
    }
    if (eh.e_type != ET_DYN)
        FAIL(TH_EABI, "%s: %s %s: ELF type %u is not a shared object", what,
             kind, p, (unsigned)eh.e_type);
    size_t nph = 0;
    if (elf_getphdrnum(e, &nph) != 0)
        FAIL(TH_EFORMAT, "%s: %s %s: unreadable program headers: %s", what,
             kind, p, elf_errmsg(-1));
    GElf_Phdr dyn_ph = {0};
    int n_dyn = 0;
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(e, (int)i, &ph) == NULL)
            FAIL(TH_EFORMAT, "%s: %s %s: program header %zu unreadable", what,
                 kind, p, i);
        if (ph.p_type == PT_DYNAMIC) {
            dyn_ph = ph;
            n_dyn++;
        }
    }
    if (n_dyn != 1)
        FAIL(TH_EFORMAT, "%s: %s %s: %d dynamic segments (need one)", what,
             kind, p, n_dyn);
    Elf_Data *dyn = elf_getdata_rawchunk(e, (int64_t)dyn_ph.p_offset,
                                         dyn_ph.p_filesz, ELF_T_DYN);
    size_t dsz = gelf_fsize(e, ELF_T_DYN, 1, EV_CURRENT);
    if (dyn == NULL || dsz == 0)
        FAIL(TH_EFORMAT, "%s: %s %s: dynamic segment out of bounds: %s", what,
             kind, p, elf_errmsg(-1));
    GElf_Addr strtab = 0, symtab = 0, hash = 0, gnu_hash = 0;
    GElf_Xword strsz = 0;
    int n_strtab = 0;
    for (size_t i = 0; i < dyn_ph.p_filesz / dsz; i++) {
        GElf_Dyn de;
        if (gelf_getdyn(dyn, (int)i, &de) == NULL || de.d_tag == DT_NULL)
            break;
        switch (de.d_tag) {
        case DT_STRTAB:
            strtab = de.d_un.d_ptr;
            n_strtab++;
            break;
        case DT_STRSZ:
            strsz = de.d_un.d_val;
            break;
        case DT_SYMTAB:
            symtab = de.d_un.d_ptr;
            break;
        case DT_HASH:
            hash = de.d_un.d_ptr;
            break;
        case DT_GNU_HASH:
            gnu_hash = de.d_un.d_ptr;
            break;
        case DT_SONAME:
            off_soname = de.d_un.d_val;
            has_soname = true;
            break;
        case DT_NEEDED:
        case DT_FILTER:
        case DT_AUXILIARY:
            if (n_needed == THI_ELF_MAX_NAMES)
                FAIL(TH_ETOOBIG, "%s: %s %s: over %d library names", what,
                     kind, p, THI_ELF_MAX_NAMES);
            off_needed[n_needed++] = de.d_un.d_val;
            break;
        case DT_FLAGS_1:
            if (de.d_un.d_val & DF_1_NODELETE)
                FAIL(TH_EABI,
                     "%s: %s %s: marked NODELETE (DF_1_NODELETE, -z "
                     "nodelete): it could never be unmapped",
                     what, kind, p);
            break;
        case DT_RPATH:
        case DT_RUNPATH:
            if (n_path == THI_ELF_MAX_NAMES)
                FAIL(TH_ETOOBIG, "%s: %s %s: over %d RPATH/RUNPATH entries",
                     what, kind, p, THI_ELF_MAX_NAMES);
            off_path[n_path++] = de.d_un.d_val;
            break;
        default:
            break;
        }
    }
    Elf_Data *st = NULL;
    if (n_needed || n_path || has_soname || symtab) {
        /* DT_STRTAB is an address: find the file bytes a PT_LOAD maps there */
        if (n_strtab != 1 || strsz == 0)
            FAIL(TH_EFORMAT, "%s: %s %s: no single dynamic string table",
                 what, kind, p);
        for (size_t i = 0; st == NULL && i < nph; i++) {
            GElf_Phdr ph;
            gelf_getphdr(e, (int)i, &ph);
            if (ph.p_type == PT_LOAD && strtab >= ph.p_vaddr &&
                strtab - ph.p_vaddr <= ph.p_filesz &&
                strsz <= ph.p_filesz - (strtab - ph.p_vaddr))
                st = elf_getdata_rawchunk(
                    e, (int64_t)(ph.p_offset + (strtab - ph.p_vaddr)), strsz,
                    ELF_T_BYTE);
        }
        if (st == NULL)
            FAIL(TH_EFORMAT,
                 "%s: %s %s: dynamic string table outside the file", what,
                 kind, p);
    }
    /* STB_GNU_UNIQUE: once the dynamic linker binds to such a symbol it
     * makes the object NODELETE for good (glibc), so its code could never
     * be unmapped; the dynamic symbol table is read as ld.so reads it */
    if (symtab) {
        bool ok;
        size_t nsym = dynsym_count(e, nph, hash, gnu_hash, &ok);
        size_t ssz = gelf_fsize(e, ELF_T_SYM, 1, EV_CURRENT);
        if (!ok || nsym > (1u << 24))
            FAIL(TH_EFORMAT, "%s: %s %s: malformed symbol hash table", what,
                 kind, p);
        Elf_Data *syms = nsym ? at_vaddr(e, nph, symtab, nsym * ssz,
                                         ELF_T_SYM)
                              : NULL;
        if (nsym && syms == NULL)
            FAIL(TH_EFORMAT,
                 "%s: %s %s: dynamic symbol table outside the file", what,
                 kind, p);
        for (size_t i = 0; i < nsym; i++) {
            GElf_Sym sym;
            if (gelf_getsym(syms, (int)i, &sym) == NULL)
                FAIL(TH_EFORMAT, "%s: %s %s: unreadable symbol %zu", what,
                     kind, p, i);
            if (GELF_ST_BIND(sym.st_info) != STB_GNU_UNIQUE)
                continue;
            const char *name = dyn_str(st, sym.st_name);
            FAIL(TH_EABI,
                 "%s: %s %s: defines the STB_GNU_UNIQUE symbol %s: the "
                 "dynamic linker would keep it mapped for good (it could "
                 "never be unloaded); build it with -fno-gnu-unique (GCC) "
                 "or without unique objects",
                 what, kind, p, name ? name : "(unnamed)");
        }
    }
    if (has_soname) {
        const char *s = dyn_str(st, off_soname);
        if (s == NULL || (info->soname = strdup(s)) == NULL)
            FAIL(TH_EFORMAT, "%s: %s %s: malformed SONAME", what, kind, p);
    }
    for (size_t i = 0; i < n_needed; i++) {
        const char *s = dyn_str(st, off_needed[i]);
        if (s == NULL || s[0] == '\0')
            FAIL(TH_EFORMAT, "%s: %s %s: malformed NEEDED entry", what, kind,
                 p);
        if ((info->needed[info->n_needed] = strdup(s)) == NULL)
            FAIL(TH_ENOMEM, "%s: out of memory", what);
        info->n_needed++;
    }
    for (size_t i = 0; i < n_path; i++) {
        const char *s = dyn_str(st, off_path[i]);
        if (s == NULL)
            FAIL(TH_EFORMAT, "%s: %s %s: malformed RPATH/RUNPATH", what, kind,
                 p);
        /* each ':'-separated element; an empty one means the current
         * directory to the linker */
        const char *el = s;
        for (;;) {
            size_t l = strcspn(el, ":");
            char elem[1024], dir[1024];
            snprintf(elem, sizeof elem, "%.*s", (int)(l < 1000 ? l : 1000),
                     el);
            int r = l >= 1000 ? -1 : origin_dir(dir, sizeof dir, elem, p);
            /* code is mapped from sealed memory: $ORIGIN is /proc/self/fd,
             * where any other directory would be one of the host's open
             * descriptors; private libraries are found by soname */
            if (r == 0 && strcmp(elem, "$ORIGIN") && strcmp(elem, "$ORIGIN/") &&
                strcmp(elem, "${ORIGIN}") && strcmp(elem, "${ORIGIN}/"))
                FAIL(TH_EPERM,
                     "%s: %s %s: RPATH/RUNPATH entry \"%.200s\" names a "
                     "directory other than $ORIGIN (only \"$ORIGIN\" itself is "
                     "allowed: private libraries are found by their soname)",
                     what, kind, p, elem);
            if (r != 0)
                FAIL(TH_EPERM,
                     "%s: %s %s: RPATH/RUNPATH entry \"%.200s\" %s", what,
                     kind, p, elem,
                     r == -2 ? "leaves the bundle"
                             : "is not $ORIGIN-relative (only $ORIGIN inside "
                               "the bundle is allowed)");
            if (info->n_dirs == THI_ELF_MAX_NAMES)
                FAIL(TH_ETOOBIG, "%s: %s %s: over %d RPATH/RUNPATH entries",
                     what, kind, p, THI_ELF_MAX_NAMES);
            if ((info->dirs[info->n_dirs] = strdup(dir)) == NULL)
                FAIL(TH_ENOMEM, "%s: out of memory", what);
            info->n_dirs++;
            if (el[l] == '\0')
                break;
            el += l + 1;
        }
    }
out:
    if (e)
        elf_end(e);
    free(img);
    return rc;
}

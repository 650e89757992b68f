/*
 * loader/zip_read.c — reading a verified bundle (see zip_read.h): the zip
 * structure first, then every entry against the signed manifest, so
 * parser quirks cannot smuggle a file in.
 */
#include "loader/zip_read.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "loader/crypto.h"
#include "loader/format.h"
#include "loader/manifest.h"
#include "thespian/error.h"

/* The zip structure.
 * libarchive passes some structural tricks silently (a name cut at NUL, a
 * local header naming another file than the central directory). The signed
 * bytes are walked here first: every central record in bounds, stored or
 * deflate only, not encrypted, its local header at its offset naming the
 * same bytes, names unique. */

typedef struct zip_name {
    char name[256];
} zip_name_t;

static int
zip_walk(zip_name_t **names_out, size_t *n_out, const uint8_t *buf,
         size_t zlen, const char *what, th_diag_t *d)
{
    const uint8_t *eocd = buf + zlen - THI_EOCD_LEN;
    uint16_t disk = thi_le16(eocd + 4), cd_disk = thi_le16(eocd + 6);
    uint16_t n_here = thi_le16(eocd + 8), n_total = thi_le16(eocd + 10);
    uint32_t cd_size = thi_le32(eocd + 12), cd_off = thi_le32(eocd + 16);
    if (disk != 0 || cd_disk != 0 || n_here != n_total ||
        n_total > THI_BUNDLE_MAX_FILES + 1 || n_total == 0xffff ||
        cd_off == 0xffffffffu)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: archive end record is malformed or "
                            "multi-volume (%u entries)",
                            what, n_total);
    if ((uint64_t)cd_off + cd_size != zlen - THI_EOCD_LEN)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: central directory does not end at the end "
                            "record (hidden data)",
                            what);
    zip_name_t *names = calloc(n_total ? n_total : 1, sizeof *names);
    if (names == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
    size_t p = cd_off;
    int rc = 0;
    for (uint16_t i = 0; i < n_total; i++) {
        if (p + 46 > zlen - THI_EOCD_LEN || thi_le32(buf + p) != 0x02014b50u) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: central directory entry %u is truncated "
                              "or corrupt",
                              what, i);
            goto out_free;
        }
        uint16_t flags = thi_le16(buf + p + 8), method = thi_le16(buf + p + 10);
        uint16_t nl = thi_le16(buf + p + 28), xl = thi_le16(buf + p + 30),
                 cl = thi_le16(buf + p + 32);
        uint32_t loff = thi_le32(buf + p + 42);
        if (p + 46 + nl + xl + cl > zlen - THI_EOCD_LEN || nl == 0 || nl > 255) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: central directory entry %u has a bad "
                              "name or extra length",
                              what, i);
            goto out_free;
        }
        const uint8_t *name = buf + p + 46;
        memcpy(names[i].name, name, nl);
        names[i].name[nl] = '\0';
        if (memchr(name, 0, nl) != NULL) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: entry %u has a NUL byte in its name", what,
                              i);
            goto out_free;
        }
        /* before any message shows the name: a name that would reach a
         * terminal or a log as control bytes is refused here, escaped */
        const char *nwhy = thi_text_name_problem(names[i].name, 255);
        if (nwhy) {
            char esc[THI_ESC_NAME];
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: entry %u name \"%s\" %s", what, i,
                              thi_text_esc(esc, sizeof esc, names[i].name),
                              nwhy);
            goto out_free;
        }
        if (flags & 0x0041) { /* traditional or strong encryption */
            rc = thi_diag_set(d, TH_EFORMAT, "%s: entry %s is encrypted",
                              what, names[i].name);
            goto out_free;
        }
        if (method != 0 && method != 8) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: entry %s uses compression method %u (only "
                              "stored and deflate are allowed)",
                              what, names[i].name, method);
            goto out_free;
        }
        if ((uint64_t)loff + 30 > cd_off || thi_le32(buf + loff) != 0x04034b50u ||
            (uint64_t)loff + 30 + thi_le16(buf + loff + 26) > cd_off ||
            thi_le16(buf + loff + 26) != nl ||
            memcmp(buf + loff + 30, name, nl) != 0 ||
            thi_le16(buf + loff + 8) != method) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: local header of entry %s does not match "
                              "the central directory",
                              what, names[i].name);
            goto out_free;
        }
        for (uint16_t j = 0; j < i; j++)
            if (strcmp(names[j].name, names[i].name) == 0) {
                rc = thi_diag_set(d, TH_EFORMAT,
                                  "%s: entry name %s appears twice", what,
                                  names[i].name);
                goto out_free;
            }
        p += 46u + nl + xl + cl;
    }
    *names_out = names;
    *n_out = n_total;
    return 0;
out_free:
    free(names);
    return rc;
}

/* ---- Reading ----------------------------------------------------------------------------- */

void
thi_bundle_free(thi_bundle_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n_files; i++) {
        free(b->files[i].path);
        free(b->files[i].kind);
        free(b->files[i].data);
    }
    free(b->files);
    json_decref(b->manifest);
    free(b->manifest_text);
    free(b);
}

/* An entry's bytes, read straight into one buffer of `expect` bytes (the
 * signed manifest's size, 0 if not known yet) that grows only if the entry
 * turns out longer: no bounce buffer, no copy. The bytes are counted here,
 * never taken from a header, and more than `cap` is refused. */
static int
read_entry(struct archive *a, uint8_t **out, size_t *len, size_t cap,
           size_t expect, const char *name, const char *what, th_diag_t *d)
{
    size_t n = 0, alloc = expect < cap ? expect : cap;
    if (alloc == 0)
        alloc = cap < 4096 ? cap : 4096;
    uint8_t *buf = malloc(alloc ? alloc : 1);
    if (buf == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
    for (;;) {
        la_ssize_t r;
        if (n == alloc) {
            /* full: one probe byte tells the end from more to come */
            uint8_t more;
            r = archive_read_data(a, &more, 1);
            if (r > 0 && n == cap) {
                free(buf);
                return thi_diag_set(d, TH_ETOOBIG,
                                    "%s: entry %s is larger than the "
                                    "manifest says (%zu bytes)",
                                    what, name, cap);
            }
            if (r > 0) {
                alloc = alloc > cap / 2 ? cap : alloc * 2;
                uint8_t *nb = realloc(buf, alloc);
                if (nb == NULL) {
                    free(buf);
                    return thi_diag_set(d, TH_ENOMEM, "%s: out of memory",
                                        what);
                }
                buf = nb;
                buf[n++] = more;
                continue;
            }
        } else {
            r = archive_read_data(a, buf + n, alloc - n);
        }
        if (r == 0)
            break;
        if (r < 0) {
            free(buf);
            return thi_diag_set(d, TH_EFORMAT, "%s: entry %s: %s", what, name,
                                archive_error_string(a)
                                    ? archive_error_string(a)
                                    : "read error");
        }
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int
by_path(const void *a, const void *b)
{
    return strcmp(((const thi_bundle_file_t *)a)->path,
                  ((const thi_bundle_file_t *)b)->path);
}

/* The manifest text, parsed and checked into b->manifest. */
static int
parse_manifest(thi_bundle_t *b, const uint8_t *mtext, size_t mlen,
               const char *what, th_diag_t *d)
{
    json_error_t je;
    b->manifest = json_loadb((const char *)mtext, mlen,
                             JSON_REJECT_DUPLICATES, &je);
    if (b->manifest == NULL)
        return thi_diag_set(d, TH_EFORMAT, "%s: %s is not valid JSON: %s "
                            "(line %d)", what, THI_MANIFEST_NAME, je.text,
                            je.line);
    return thi_manifest_check(b->manifest, what, d);
}

/* The manifest's entry for `path`, or NULL. */
static json_t *
manifest_entry(const json_t *m, const char *path)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(m, "files"), i, f)
        if (!strcmp(json_string_value(json_object_get(f, "path")), path))
            return f;
    return NULL;
}

int
thi_bundle_read(thi_bundle_t **out, const uint8_t *buf, size_t signed_len,
                const char *what, th_diag_t *d)
{
    return thi_bundle_read_flags(out, buf, signed_len, 0, what, d);
}

int
thi_bundle_read_flags(thi_bundle_t **out, const uint8_t *buf,
                      size_t signed_len, unsigned flags, const char *what,
                      th_diag_t *d)
{
    zip_name_t *names = NULL;
    size_t n_names = 0;
    int rc = zip_walk(&names, &n_names, buf, signed_len, what, d);
    if (rc != 0)
        return rc;
    thi_bundle_t *b = calloc(1, sizeof *b);
    struct archive *a = archive_read_new();
    uint8_t *mtext = NULL;
    size_t mlen = 0;
    if (b == NULL || a == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    b->files = calloc(n_names ? n_names : 1, sizeof *b->files);
    if (b->files == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    archive_read_support_format_zip_seekable(a);
    if (archive_read_open_memory(a, buf, signed_len) != ARCHIVE_OK) {
        rc = thi_diag_set(d, TH_EFORMAT, "%s: not a zip archive: %s", what,
                          archive_error_string(a));
        goto out;
    }
    size_t total = 0, seen = 0;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) { /* ARCHIVE_WARN is fatal too */
            rc = thi_diag_set(d, TH_EFORMAT, "%s: archive entry %zu: %s",
                              what, seen,
                              archive_error_string(a) ? archive_error_string(a)
                                                      : "unreadable header");
            goto out;
        }
        const char *name = archive_entry_pathname(e);
        if (name == NULL || seen >= n_names ||
            strcmp(name, names[seen].name) != 0) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: archive entry %zu (%s) disagrees with the "
                              "central directory",
                              what, seen, name ? name : "(no name)");
            goto out;
        }
        seen++;
        if (archive_entry_filetype(e) != AE_IFREG ||
            archive_entry_hardlink(e) != NULL ||
            archive_entry_symlink(e) != NULL) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: entry %s is not a regular file", what,
                              name);
            goto out;
        }
        if (archive_entry_mode(e) & (S_ISUID | S_ISGID | S_IWOTH)) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: entry %s has setuid, setgid or "
                              "world-writable mode",
                              what, name);
            goto out;
        }
        if (archive_entry_is_encrypted(e)) {
            rc = thi_diag_set(d, TH_EFORMAT, "%s: entry %s is encrypted",
                              what, name);
            goto out;
        }
        if (strcmp(name, THI_MANIFEST_NAME) == 0) {
            if (mtext != NULL) {
                rc = thi_diag_set(d, TH_EFORMAT, "%s: two manifests", what);
                goto out;
            }
            rc = read_entry(a, &mtext, &mlen, THI_MANIFEST_MAX,
                            (size_t)archive_entry_size(e) < THI_MANIFEST_MAX
                                ? (size_t)archive_entry_size(e)
                                : 0,
                            name, what, d);
            if (rc == 0)
                rc = parse_manifest(b, mtext, mlen, what, d);
            if (rc)
                goto out;
            continue;
        }
        const char *pwhy = thi_bundle_path_problem(name);
        if (pwhy) {
            char esc[THI_ESC_NAME];
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: entry \"%s\" %s: an unsafe path", what,
                              thi_text_esc(esc, sizeof esc, name), pwhy);
            goto out;
        }
        thi_bundle_file_t *f = &b->files[b->n_files];
        f->path = strdup(name);
        if (f->path == NULL) {
            rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
            goto out;
        }
        b->n_files++;
        json_t *me = b->manifest ? manifest_entry(b->manifest, name) : NULL;
        if ((flags & THI_READ_SKIP_DATA) && me &&
            !strcmp(json_string_value(json_object_get(me, "kind")), "data")) {
            /* covered by the signature and never used by the reader's
             * caller: not inflated, not hashed */
            f->skipped = true;
            if (archive_read_data_skip(a) != ARCHIVE_OK) {
                rc = thi_diag_set(d, TH_EFORMAT, "%s: entry %s: %s", what,
                                  name, archive_error_string(a));
                goto out;
            }
            continue;
        }
        /* the signed size as the first allocation, within the total and
         * ratio limits (a wrong one costs a realloc or a refusal, never an
         * overrun) */
        json_int_t want = json_integer_value(json_object_get(me, "size"));
        bool fits = want > 0 &&
                    (size_t)want <= THI_BUNDLE_MAX_TOTAL - total &&
                    (size_t)want / THI_BUNDLE_MAX_RATIO <= signed_len;
        rc = read_entry(a, &f->data, &f->size, THI_BUNDLE_MAX_FILE,
                        fits ? (size_t)want : 0, name, what, d);
        if (rc)
            goto out;
        total += f->size;
        if (total > THI_BUNDLE_MAX_TOTAL ||
            total / THI_BUNDLE_MAX_RATIO > signed_len) {
            rc = thi_diag_set(d, TH_ETOOBIG,
                              "%s: entries expand to over %zu bytes (size or "
                              "ratio limit)",
                              what, total);
            goto out;
        }
        if (thi_sha256(f->sha256, f->data, f->size) != 0) {
            rc = thi_diag_set(d, TH_EIO, "%s: hashing failed", what);
            goto out;
        }
    }
    if (mtext == NULL) {
        rc = thi_diag_set(d, TH_EFORMAT, "%s: no %s", what, THI_MANIFEST_NAME);
        goto out;
    }
    /* the entries and the manifest must be the same set, exactly */
    json_t *files = json_object_get(b->manifest, "files");
    if (json_array_size(files) != b->n_files) {
        rc = thi_diag_set(d, TH_EFORMAT,
                          "%s: the archive has %zu files, the manifest lists "
                          "%zu",
                          what, b->n_files, json_array_size(files));
        goto out;
    }
    qsort(b->files, b->n_files, sizeof *b->files, by_path);
    size_t i;
    json_t *mf;
    json_array_foreach(files, i, mf)
    {
        const char *p = json_string_value(json_object_get(mf, "path"));
        thi_bundle_file_t key = {.path = (char *)p};
        thi_bundle_file_t *f =
            bsearch(&key, b->files, b->n_files, sizeof *b->files, by_path);
        if (f == NULL) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: manifest lists %s but the archive lacks "
                              "it",
                              what, p);
            goto out;
        }
        if (f->skipped)
            f->size = (size_t)json_integer_value(json_object_get(mf, "size"));
        else if ((json_int_t)f->size !=
                 json_integer_value(json_object_get(mf, "size"))) {
            rc = thi_diag_set(d, TH_EHASH,
                              "%s: %s has %zu bytes, the manifest says %lld",
                              what, p, f->size,
                              (long long)json_integer_value(
                                  json_object_get(mf, "size")));
            goto out;
        }
        char hex[65];
        thi_hex(hex, f->sha256, 32);
        if (!f->skipped &&
            strcmp(hex, json_string_value(json_object_get(mf, "sha256")))) {
            rc = thi_diag_set(d, TH_EHASH,
                              "%s: %s does not match its manifest SHA-256",
                              what, p);
            goto out;
        }
        f->plugin = json_string_value(json_object_get(mf, "plugin"));
        f->classes = json_object_get(mf, "classes");
        f->kind = strdup(json_string_value(json_object_get(mf, "kind")));
        if (f->kind == NULL) {
            rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
            goto out;
        }
    }
    b->group = json_string_value(json_object_get(b->manifest, "group"));
    b->version = json_string_value(json_object_get(b->manifest, "version"));
    b->info = json_string_value(json_object_get(b->manifest, "info"));
    b->tli = json_object_get(b->manifest, "tli");
    if (json_is_null(b->tli))
        b->tli = NULL;
    b->manifest_text = mtext; /* the member's bytes, for tlsinfo */
    b->manifest_len = mlen;
    mtext = NULL;
    *out = b;
    b = NULL;
    rc = 0;
out:
    if (a)
        archive_read_free(a);
    free(mtext);
    free(names);
    thi_bundle_free(b);
    return rc;
}

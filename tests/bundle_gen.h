/*
 * tests/bundle_gen.h — a generator of hostile bundles for tests: writes zip
 * archives with any entries (names, types, modes, duplicates) and any
 * manifest text, lets a test patch bytes, then signs the result with a key
 * the verifier trusts — the only way to reach the checks that come after
 * the signature.
 */
#ifndef TH_TESTS_BUNDLE_GEN_H
#define TH_TESTS_BUNDLE_GEN_H

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "loader/bundle.h"
#include "thespian/error.h"
#include "th_test.h"

typedef struct gen_entry {
    const char *name;
    const void *data;
    size_t len;
    int type;          /* 0 regular, 1 symlink, 2 directory, 3 hardlink */
    int mode;          /* 0: 0644 */
} gen_entry_t;

typedef struct gen_buf {
    uint8_t *p;
    size_t n, cap;
} gen_buf_t;

static la_ssize_t
gen_write_cb(struct archive *a, void *arg, const void *data, size_t len)
{
    (void)a;
    gen_buf_t *m = arg;
    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->p = realloc(m->p, m->cap);
        if (m->p == NULL)
            abort();
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
    return (la_ssize_t)len;
}

/* A zip of the entries, in the order given. Returned malloc'd. */
static inline uint8_t *
gen_zip(const gen_entry_t *e, size_t n, size_t *len)
{
    gen_buf_t m = {0};
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_set_format_option(a, "zip", "compression", "deflate");
    CHECK(archive_write_open(a, &m, NULL, gen_write_cb, NULL) == ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_mtime(ae, 315532800, 0);
        int mode = e[i].mode ? e[i].mode : 0644;
        if (e[i].type == 1) {
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_symlink(ae, (const char *)e[i].data);
            archive_entry_set_perm(ae, 0777);
        } else if (e[i].type == 2) {
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, 0755);
        } else if (e[i].type == 3) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, (const char *)e[i].data);
            archive_entry_set_perm(ae, 0644);
        } else {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, (mode_t)mode);
            archive_entry_set_size(ae, (la_int64_t)e[i].len);
        }
        CHECK(archive_write_header(a, ae) == ARCHIVE_OK);
        if (e[i].type == 0 && e[i].len)
            CHECK(archive_write_data(a, e[i].data, e[i].len) ==
                  (la_ssize_t)e[i].len);
        archive_entry_free(ae);
    }
    CHECK(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
    *len = m.n;
    return m.p;
}

/* A manifest object listing `files` (regular entries) with true hashes,
 * every one of kind "data"; a test turns an entry into a plugin by setting
 * its "kind", "plugin" and "classes". Returned owned (json_decref). */
static inline json_t *
gen_manifest_obj(const gen_entry_t *files, size_t n, const char *group,
                 const char *version)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        uint8_t h[32];
        char hex[65];
        thi_sha256(h, files[i].data, files[i].len);
        thi_hex(hex, h, 32);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:s}", "path",
                                             files[i].name, "size",
                                             (json_int_t)files[i].len,
                                             "sha256", hex, "kind", "data"));
    }
    return json_pack("{s:i, s:s, s:s?, s:s, s:{s:i, s:i}, s:{s:s, s:s}, "
                     "s:n, s:o}",
                     "format", 1, "group", group, "version", version, "info",
                     "generated", "abi", "major", 1, "minor", 0, "platform",
                     "arch", "x86_64", "libc", "glibc", "tli", "files", arr);
}

/* The same, as text. Returned malloc'd. */
static inline char *
gen_manifest(const gen_entry_t *files, size_t n, const char *group,
             const char *version)
{
    json_t *m = gen_manifest_obj(files, n, group, version);
    char *t = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return t;
}

/* Sign a crafted zip with `key`. Returned malloc'd. */
static inline uint8_t *
gen_seal(const uint8_t *zip, size_t zlen, const thi_key_t *key, size_t *len)
{
    uint8_t *out = NULL;
    th_diag_t d = {0};
    if (thi_bundle_seal(&out, len, zip, zlen, key, &d) != 0)
        TH_FAIL_AT_("seal: %s", d.msg);
    return out;
}

/* Find `needle` in buf (first occurrence at or after `from`), or -1. */
static inline long
gen_find(const uint8_t *buf, size_t len, const void *needle, size_t nlen,
         size_t from)
{
    for (size_t i = from; i + nlen <= len; i++)
        if (memcmp(buf + i, needle, nlen) == 0)
            return (long)i;
    return -1;
}

#endif /* TH_TESTS_BUNDLE_GEN_H */

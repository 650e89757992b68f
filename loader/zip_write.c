/*
 * loader/zip_write.c — building signed bundles (see zip_write.h): the same
 * inputs give the same bytes.
 */
#include "loader/zip_write.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/text.h"
#include "base/version.h"
#include "loader/format.h"
#include "loader/manifest.h"
#include "thespian/error.h"

typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
} membuf_t;

static la_ssize_t
mem_write(struct archive *a, void *arg, const void *data, size_t len)
{
    membuf_t *m = arg;
    if (m->n + len < m->n || THI_RESERVE(m->p, m->cap, m->n + len, 4096)) {
        archive_set_error(a, ENOMEM, "out of memory");
        return -1;
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
    return (la_ssize_t)len;
}

static int
add_entry(struct archive *a, const char *path, const uint8_t *data,
          size_t size, int mode)
{
    struct archive_entry *e = archive_entry_new();
    if (e == NULL)
        return TH_ENOMEM;
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, (mode_t)mode);
    archive_entry_set_size(e, (la_int64_t)size);
    /* fixed metadata: the same inputs must give the same bytes */
    archive_entry_set_mtime(e, 315532800, 0); /* 1980-01-01, zip's epoch */
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int rc = archive_write_header(a, e) == ARCHIVE_OK &&
                     (size == 0 ||
                      archive_write_data(a, data, size) == (la_ssize_t)size)
                 ? 0
                 : TH_EIO;
    archive_entry_free(e);
    return rc;
}

int
thi_bundle_seal(uint8_t **out, size_t *out_len, const uint8_t *zip,
                size_t zlen, const thi_key_t *key, th_diag_t *d)
{
    if (zlen < THI_EOCD_LEN || thi_le32(zip + zlen - THI_EOCD_LEN) != 0x06054b50u ||
        thi_le16(zip + zlen - 2) != 0)
        return thi_diag_set(d, TH_EINVAL,
                            "archive does not end with a comment-less end "
                            "record");
    /* the trailer becomes the zip comment: set its length, then sign every
     * byte up to it */
    size_t slen = thi_key_sig_len(key);
    uint32_t tlen = (uint32_t)(THI_TRAILER_FIXED + slen);
    uint8_t *res = malloc(zlen + tlen);
    if (res == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    memcpy(res, zip, zlen);
    thi_put16(res + zlen - 2, (uint16_t)tlen);
    uint8_t *t = res + zlen;
    memcpy(t, THI_BUNDLE_MAGIC, 8);
    thi_put16(t + 8, THI_BUNDLE_FORMAT);
    thi_put16(t + 10, 0);
    thi_key_fingerprint(t + 12, key);
    thi_put32(t + 44, (uint32_t)slen);
    uint8_t digest[32];
    size_t got = 0;
    int rc = thi_sha256(digest, res, zlen);
    if (rc == 0)
        rc = thi_sign(t + 48, slen, &got, key, digest, d);
    if (rc != 0 || got != slen) {
        free(res);
        return rc ? rc : thi_diag_set(d, TH_EIO, "signature has wrong length");
    }
    thi_put32(t + 48 + slen, tlen);
    *out = res;
    *out_len = zlen + tlen;
    return 0;
}

static int
by_input_path(const void *a, const void *b)
{
    return strcmp(((const thi_bundle_input_t *)a)->path,
                  ((const thi_bundle_input_t *)b)->path);
}

int
thi_bundle_build(uint8_t **out, size_t *out_len, const char *group,
                 const char *version, const char *info, const json_t *tli,
                 const thi_bundle_input_t *files, size_t n_files,
                 const thi_key_t *key, th_diag_t *d)
{
    char esc[THI_ESC_NAME];
    const char *gwhy = thi_group_name_problem(group);
    if (gwhy)
        return thi_diag_set(d, TH_EINVAL,
                            "group name \"%s\" %s (1-64 of A-Z a-z 0-9 _ -)",
                            thi_text_esc(esc, sizeof esc, group), gwhy);
    if (version && !thi_version_ok(version))
        return thi_diag_set(d, TH_EINVAL, "version \"%s\" is not valid",
                            thi_text_esc(esc, sizeof esc, version));
    if (n_files > THI_BUNDLE_MAX_FILES)
        return thi_diag_set(d, TH_ETOOBIG, "%zu files is over the limit of %d",
                            n_files, THI_BUNDLE_MAX_FILES);
    /* JSON cannot carry invalid UTF-8: say which input, before packing */
    if (info && !thi_text_utf8_valid(info, strlen(info)))
        return thi_diag_set(d, TH_EINVAL, "info \"%s\" is not valid UTF-8",
                            thi_text_esc(esc, sizeof esc, info));
    for (size_t i = 0; i < n_files; i++) {
        const char *pwhy = thi_bundle_path_problem(files[i].path);
        if (pwhy)
            return thi_diag_set(d, TH_EINVAL,
                                "file path \"%s\" %s: not a safe relative "
                                "path for a bundle entry",
                                thi_text_esc(esc, sizeof esc, files[i].path),
                                pwhy);
    }
    thi_bundle_input_t *sorted = malloc((n_files ? n_files : 1) * sizeof *sorted);
    if (sorted == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    if (n_files)
        memcpy(sorted, files, n_files * sizeof *sorted);
    qsort(sorted, n_files, sizeof *sorted, by_input_path);

    int rc = 0;
    membuf_t m = {0};
    struct archive *a = NULL;
    char *mtext = NULL;
    json_t *man = json_pack("{s:i, s:s, s:o, s:s, s:{s:i, s:i}, s:{s:s, s:s}, "
                            "s:O, s:[]}",
                            "format", 1, "group", group, "version",
                            version ? json_string(version) : json_null(),
                            "info", info ? info : "", "abi", "major", 1,
                            "minor", 0, "platform", "arch",
#if defined(__x86_64__)
                            "x86_64",
#elif defined(__aarch64__)
                            "aarch64",
#else
                            "unknown",
#endif
                            "libc", "glibc", "tli",
                            tli ? (json_t *)tli : json_null(), "files");
    if (man == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "cannot build the manifest");
        goto out;
    }
    json_t *jf = json_object_get(man, "files");
    for (size_t i = 0; i < n_files; i++) {
        if (i > 0 && strcmp(sorted[i - 1].path, sorted[i].path) == 0) {
            rc = thi_diag_set(d, TH_EINVAL, "%s is given twice",
                              thi_text_esc(esc, sizeof esc, sorted[i].path));
            goto out;
        }
        uint8_t h[32];
        char hex[65];
        thi_sha256(h, sorted[i].data, sorted[i].size);
        thi_hex(hex, h, 32);
        json_t *e = json_pack("{s:s, s:I, s:s, s:s}", "path", sorted[i].path,
                              "size", (json_int_t)sorted[i].size, "sha256",
                              hex, "kind", sorted[i].kind);
        if (e && sorted[i].plugin)
            json_object_set_new(e, "plugin", json_string(sorted[i].plugin));
        if (e && sorted[i].classes) {
            json_t *cl = json_array();
            for (size_t k = 0; sorted[i].classes[k]; k++)
                json_array_append_new(cl, json_string(sorted[i].classes[k]));
            json_object_set_new(e, "classes", cl);
        }
        if (e == NULL || json_array_append_new(jf, e) != 0) {
            rc = thi_diag_set(d, TH_ENOMEM, "cannot build the manifest");
            goto out;
        }
    }
    rc = thi_manifest_check(man, group, d);
    if (rc)
        goto out;
    mtext = json_dumps(man, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (mtext == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "cannot serialise the manifest");
        goto out;
    }
    a = archive_write_new();
    /* no block padding: the end record must be the last bytes */
    if (a == NULL || archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_set_format_option(a, "zip", "compression", "deflate") !=
            ARCHIVE_OK ||
        archive_write_open(a, &m, NULL, mem_write, NULL) != ARCHIVE_OK) {
        rc = thi_diag_set(d, TH_EIO, "cannot start the archive: %s",
                          a ? archive_error_string(a) : "out of memory");
        goto out;
    }
    /* the manifest and code are stored: a host reads them at each load,
     * hashing the larger stored entry costs less than inflating it, and a
     * load with nothing to inflate sets up no inflater (bench/RESULTS.md);
     * data, which a host never reads, stays deflated. Each call sets the
     * method of the entries after it. */
    rc = archive_write_zip_set_compression_store(a) == ARCHIVE_OK
             ? add_entry(a, THI_MANIFEST_NAME, (const uint8_t *)mtext,
                         strlen(mtext), 0644)
             : TH_EIO;
    for (size_t i = 0; rc == 0 && i < n_files; i++) {
        bool code = strcmp(sorted[i].kind, "data") != 0;
        if ((code ? archive_write_zip_set_compression_store(a)
                  : archive_write_zip_set_compression_deflate(a)) !=
            ARCHIVE_OK) {
            rc = TH_EIO;
            break;
        }
        rc = add_entry(a, sorted[i].path, sorted[i].data, sorted[i].size,
                       code ? 0755 : 0644);
    }
    if (rc != 0 || archive_write_close(a) != ARCHIVE_OK) {
        rc = thi_diag_set(d, TH_EIO, "cannot write the archive: %s",
                          archive_error_string(a));
        goto out;
    }
    rc = thi_bundle_seal(out, out_len, m.p, m.n, key, d);
out:
    if (a)
        archive_write_free(a);
    free(m.p);
    free(mtext);
    json_decref(man);
    free(sorted);
    return rc;
}

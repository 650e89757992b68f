/*
 * loader/bundle.c — .tls bundles (format in bundle.h). The order of checks
 * is the point: the trailer and signature are checked on the raw bytes
 * before libarchive sees any of them (a parser bug cannot be reached by an
 * unsigned file); then the zip structure, then every entry against the
 * signed manifest, so parser quirks cannot smuggle a file in.
 */
#include "loader/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader/plugin.h"
#include "sdk/src/text.h"
#include "thespian/error.h"

/* ---- little-endian helpers ----------------------------------------------- */

static uint16_t
le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#define TRAILER_FIXED 52u /* everything but the signature */
#define EOCD_LEN 22u

/* ---- Files ---------------------------------------------------------------- */

int
thi_read_file(uint8_t **out, size_t *len, const char *path, size_t max,
              th_diag_t *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return thi_diag_set(d, errno == ENOENT ? TH_ENOENT : TH_EIO,
                            "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) != 0) {
        rc = thi_diag_set(d, TH_EIO, "%s: %s", path, strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = thi_diag_set(d, TH_EINVAL, "%s: not a regular file", path);
        goto out_close;
    }
    if ((uint64_t)st.st_size > max) {
        rc = thi_diag_set(d, TH_ETOOBIG,
                          "%s: %lld bytes is over the limit of %zu", path,
                          (long long)st.st_size, max);
        goto out_close;
    }
    size_t n = (size_t)st.st_size, got = 0;
    buf = malloc(n ? n : 1);
    if (buf == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", path);
        goto out_close;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = thi_diag_set(d, TH_EIO, "%s: short read", path);
            free(buf);
            goto out_close;
        }
        got += (size_t)r;
    }
    *out = buf;
    *len = n;
out_close:
    close(fd);
    return rc;
}

int
thi_write_file_atomic(const char *path, const uint8_t *data, size_t len,
                      th_diag_t *d)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof tmp)
        return thi_diag_set(d, TH_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return thi_diag_set(d, TH_EIO, "%s: cannot create: %s", tmp,
                            strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return thi_diag_set(d, TH_EIO, "%s: write failed: %s", tmp,
                                strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return thi_diag_set(d, TH_EIO, "%s: cannot write: %s", path,
                            strerror(e));
    }
    return 0;
}

/* ---- Verification ------------------------------------------------------------------ */

int
thi_bundle_verify(thi_verified_t *out, const uint8_t *buf, size_t len,
                  const thi_keyring_t *kr, const char *what, th_diag_t *d)
{
    memset(out, 0, sizeof *out);
    /* secure by default: with no key there is nothing to verify against,
     * and the reason is the operator's to fix, not the bundle's */
    if (thi_keyring_count(kr) == 0)
        return thi_diag_set(d, TH_EPERM, "%s: no trusted key: %s", what,
                            thi_keyring_problem(kr));
    if (len > THI_BUNDLE_MAX_BYTES)
        return thi_diag_set(d, TH_ETOOBIG,
                            "%s: %zu bytes is over the bundle limit of %zu",
                            what, len, THI_BUNDLE_MAX_BYTES);
    if (len < EOCD_LEN + TRAILER_FIXED + 256)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: unsigned or truncated: too short for a "
                            "signature trailer",
                            what);
    uint32_t tlen = le32(buf + len - 4);
    if (tlen < TRAILER_FIXED + 256 || tlen > TRAILER_FIXED + 1024 ||
        tlen > len - EOCD_LEN)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: unsigned or malformed: trailer length %u is "
                            "out of bounds",
                            what, tlen);
    size_t start = len - tlen;
    const uint8_t *t = buf + start;
    if (memcmp(t, THI_BUNDLE_MAGIC, 8) != 0)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: unsigned: no signature trailer magic", what);
    if (le16(t + 8) != THI_BUNDLE_FORMAT || le16(t + 10) != 0)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: trailer format %u is not supported", what,
                            le16(t + 8));
    uint32_t slen = le32(t + 44);
    if (slen + TRAILER_FIXED != tlen)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: signature length %u does not match the "
                            "trailer length %u",
                            what, slen, tlen);
    /* the zip's end record must end exactly where the trailer begins and
     * claim it as its comment: nothing can hide between the two */
    const uint8_t *eocd = buf + start - EOCD_LEN;
    if (le32(eocd) != 0x06054b50u || le16(eocd + 20) != tlen)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: the archive's end record does not enclose "
                            "the signature trailer",
                            what);
    const char *key_name = NULL;
    const thi_key_t *key = thi_keyring_find(kr, t + 12, &key_name);
    if (key == NULL) {
        char hex[65];
        thi_hex(hex, t + 12, 32);
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: signed by an unknown key sha256:%.16s (%zu "
                            "trusted keys)",
                            what, hex, thi_keyring_count(kr));
    }
    /* one pass over the signed part gives both digests' common prefix */
    uint8_t digest[32];
    thi_sha256_t s;
    thi_sha256_init(&s);
    thi_sha256_update(&s, buf, start);
    thi_sha256_t whole = s;
    int rc = thi_sha256_final(digest, &s);
    thi_sha256_update(&whole, buf + start, tlen);
    if (rc == 0)
        rc = thi_sha256_final(out->source_hash, &whole);
    else
        thi_sha256_fini(&whole);
    if (rc != 0)
        return thi_diag_set(d, TH_EIO, "%s: hashing failed", what);
    th_diag_t vd = {0};
    if (thi_verify(key, digest, t + 48, slen, &vd) != 0)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: signature does not verify with key %s: %s",
                            what, key_name, vd.msg);
    out->signed_len = start;
    memcpy(out->fingerprint, t + 12, 32);
    snprintf(out->key_name, sizeof out->key_name, "%s", key_name);
    thi_hex(out->source_hex, out->source_hash, 32);
    return 0;
}

/* ---- Names, versions, manifest ----------------------------------------------------- */

const char *
thi_group_name_problem(const char *s)
{
    const char *why = thi_text_name_problem(s, 64);
    if (why)
        return why;
    return thi_group_name_ok(s) ? NULL
                                : "has a character outside A-Z a-z 0-9 _ -";
}

bool
thi_group_name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

bool
thi_version_ok(const char *s)
{
    size_t n = 0;
    bool field = false;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 64)
            return false;
        if (c == '.') {
            if (!field)
                return false;
            field = false;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '_' || c == '-') {
            field = true;
        } else {
            return false;
        }
    }
    return field;
}

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

int
thi_version_cmp(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    for (;;) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        bool na = all_digits(a, la), nb = all_digits(b, lb);
        int c;
        if (na && nb) {
            while (la > 1 && *a == '0') { /* leading zeros do not count */
                a++;
                la--;
            }
            while (lb > 1 && *b == '0') {
                b++;
                lb--;
            }
            c = la != lb ? (la < lb ? -1 : 1) : memcmp(a, b, la);
        } else if (na != nb) {
            c = na ? -1 : 1;
        } else {
            size_t m = la < lb ? la : lb;
            c = memcmp(a, b, m);
            if (c == 0)
                c = (la > lb) - (la < lb);
        }
        if (c != 0)
            return c < 0 ? -1 : 1;
        a += la;
        b += lb;
        if (*a == '\0' || *b == '\0')
            return (*a != '\0') - (*b != '\0');
        a++;
        b++;
    }
}

/* A path inside a bundle: relative, '/'-separated, no empty, "." or ".."
 * component, no backslash or drive letter, printable ASCII. Returns NULL
 * when it is one, else why not (for a diag that shows the path escaped). */
static const char *
path_problem(const char *p)
{
    const char *why = thi_text_name_problem(p, 255);
    if (why)
        return why; /* control characters, invalid UTF-8, empty, long */
    size_t n = strlen(p);
    if (p[0] == '/' || p[n - 1] == '/' || (n >= 2 && p[1] == ':'))
        return "is absolute, a directory or a drive path";
    const char *c = p;
    while (*c) {
        size_t l = strcspn(c, "/");
        if (l == 0 || (l == 1 && c[0] == '.') ||
            (l == 2 && c[0] == '.' && c[1] == '.'))
            return "has an empty, '.' or '..' component";
        for (size_t i = 0; i < l; i++)
            if ((unsigned char)c[i] <= 0x20 || (unsigned char)c[i] >= 0x7f ||
                c[i] == '\\')
                return "has a space, backslash or non-ASCII byte";
        c += l;
        if (*c == '/')
            c++;
    }
    if (strcmp(p, THI_MANIFEST_NAME) == 0)
        return "is the manifest's own name";
    return NULL;
}

/* Room for a name escaped for a diag: 255 bytes, each up to \xHH. */
#define ESC_NAME (4 * 255 + 1)

static bool
hex64_ok(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static int
unknown_fields(const json_t *o, const char *const *known, const char *where,
               const char *what, th_diag_t *d)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (const char *const *kk = known; *kk; kk++)
            ok = ok || strcmp(k, *kk) == 0;
        if (!ok)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s has unknown field \"%.64s\"",
                                what, where, k);
    }
    return 0;
}

/* A plugin entry names its descriptor's plugin and classes (valid names,
 * unique classes, plugin names unique in the bundle); other kinds do not. */
static int
plugin_entry_check(const json_t *f, const json_t *files, size_t i,
                   const char *kind, const char *where, const char *p,
                   const char *what, th_diag_t *d)
{
    json_t *pl = json_object_get(f, "plugin");
    json_t *cl = json_object_get(f, "classes");
    if (strcmp(kind, "plugin") != 0) {
        if (pl || cl)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s (%s): \"plugin\" and "
                                "\"classes\" belong to plugin entries only",
                                what, where, p);
        return 0;
    }
    const char *name = json_string_value(pl);
    if (name == NULL || !thi_plugin_valid_name(name))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest %s.plugin (%s) is missing or not a "
                            "valid plugin name",
                            what, where, p);
    for (size_t j = 0; j < i; j++) {
        const char *o = json_string_value(
            json_object_get(json_array_get(files, j), "plugin"));
        if (o && strcmp(o, name) == 0)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest declares plugin %s twice", what,
                                name);
    }
    if (!json_is_array(cl) || json_array_size(cl) == 0 ||
        json_array_size(cl) > THI_MAX_CLASSES)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest %s.classes (%s) must be an array of "
                            "1 to %d class names",
                            what, where, p, THI_MAX_CLASSES);
    size_t k;
    json_t *c;
    json_array_foreach(cl, k, c)
    {
        const char *cn = json_string_value(c);
        if (cn == NULL || !thi_plugin_valid_name(cn))
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.classes[%zu] (%s) is not a "
                                "valid class name",
                                what, where, k, p);
        for (size_t j = 0; j < k; j++)
            if (strcmp(json_string_value(json_array_get(cl, j)), cn) == 0)
                return thi_diag_set(d, TH_EFORMAT,
                                    "%s: manifest %s.classes (%s) lists %s "
                                    "twice",
                                    what, where, p, cn);
    }
    return 0;
}

/* The TLI may name only classes the plugin entries declare. */
static int
tli_classes_check(const json_t *m, const json_t *files, const char *what,
                  th_diag_t *d)
{
    json_t *actors = json_object_get(json_object_get(m, "tli"), "Actors");
    const char *q;
    json_t *ignored;
    json_object_foreach(actors, q, ignored)
    {
        const char *dot = strchr(q, '.');
        bool found = false;
        size_t i, k;
        json_t *f, *c;
        json_array_foreach(files, i, f)
        {
            const char *pl = json_string_value(json_object_get(f, "plugin"));
            if (found || dot == NULL || pl == NULL ||
                strlen(pl) != (size_t)(dot - q) ||
                strncmp(pl, q, (size_t)(dot - q)) != 0)
                continue;
            json_array_foreach(json_object_get(f, "classes"), k, c)
                found = found || strcmp(json_string_value(c), dot + 1) == 0;
        }
        if (!found)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: the TLI names class %.130s, which no "
                                "plugin of the bundle declares",
                                what, q);
    }
    return 0;
}

int
thi_manifest_check(const json_t *m, const char *what, th_diag_t *d)
{
    static const char *const top[] = {"format", "group", "version", "info",
                                      "abi", "platform", "tli", "files",
                                      NULL};
    static const char *const fkeys[] = {"path", "size", "sha256", "kind",
                                        "plugin", "classes", NULL};
    if (!json_is_object(m))
        return thi_diag_set(d, TH_EFORMAT, "%s: manifest is not an object",
                            what);
    int rc = unknown_fields(m, top, "top level", what, d);
    if (rc)
        return rc;
    json_t *v = json_object_get(m, "format");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"format\" must be 1", what);
    v = json_object_get(m, "group");
    if (!json_is_string(v))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"group\" is missing or not "
                            "a string",
                            what);
    const char *gwhy = thi_group_name_problem(json_string_value(v));
    if (gwhy) {
        char esc[ESC_NAME];
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"group\" (\"%s\") %s (a "
                            "group name is 1-64 of A-Z a-z 0-9 _ -)",
                            what, thi_text_esc(esc, sizeof esc,
                                               json_string_value(v)),
                            gwhy);
    }
    v = json_object_get(m, "version");
    if (v && !json_is_null(v) &&
        (!json_is_string(v) || !thi_version_ok(json_string_value(v))))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"version\" is not a valid "
                            "version (fields of A-Z a-z 0-9 _ - joined by .)",
                            what);
    v = json_object_get(m, "info");
    if (!json_is_string(v) || strlen(json_string_value(v)) > 4096)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"info\" must be a string of "
                            "at most 4096 bytes",
                            what);
    v = json_object_get(m, "abi");
    if (!json_is_object(v) ||
        !json_is_integer(json_object_get(v, "major")) ||
        !json_is_integer(json_object_get(v, "minor")) || json_object_size(v) != 2)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"abi\" must be "
                            "{\"major\": N, \"minor\": N}",
                            what);
    v = json_object_get(m, "platform");
    if (!json_is_object(v) || !json_is_string(json_object_get(v, "arch")) ||
        !json_is_string(json_object_get(v, "libc")) || json_object_size(v) != 2)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"platform\" must be "
                            "{\"arch\": S, \"libc\": S}",
                            what);
    v = json_object_get(m, "tli");
    if (v && !json_is_null(v) && !json_is_object(v))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"tli\" must be an object",
                            what);
    json_t *files = json_object_get(m, "files");
    if (!json_is_array(files) || json_array_size(files) > THI_BUNDLE_MAX_FILES)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: manifest field \"files\" must be an array of "
                            "at most %d entries",
                            what, THI_BUNDLE_MAX_FILES);
    size_t i;
    json_t *f;
    size_t total = 0;
    json_array_foreach(files, i, f)
    {
        char where[32];
        snprintf(where, sizeof where, "files[%zu]", i);
        if (!json_is_object(f))
            return thi_diag_set(d, TH_EFORMAT, "%s: manifest %s is not an "
                                "object", what, where);
        rc = unknown_fields(f, fkeys, where, what, d);
        if (rc)
            return rc;
        const char *p = json_string_value(json_object_get(f, "path"));
        if (p == NULL)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.path is missing or not a "
                                "string",
                                what, where);
        const char *pwhy = path_problem(p);
        if (pwhy) {
            char esc[ESC_NAME];
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.path (\"%s\") %s: not a "
                                "safe relative path",
                                what, where, thi_text_esc(esc, sizeof esc, p),
                                pwhy);
        }
        json_t *sz = json_object_get(f, "size");
        if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
            (uint64_t)json_integer_value(sz) > THI_BUNDLE_MAX_FILE)
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.size (%s) is not a size up "
                                "to %zu",
                                what, where, p, THI_BUNDLE_MAX_FILE);
        total += (size_t)json_integer_value(sz);
        const char *h = json_string_value(json_object_get(f, "sha256"));
        if (h == NULL || !hex64_ok(h))
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.sha256 (%s) is not 64 "
                                "lowercase hex digits",
                                what, where, p);
        const char *k = json_string_value(json_object_get(f, "kind"));
        if (k == NULL || (strcmp(k, "plugin") && strcmp(k, "library") &&
                          strcmp(k, "data")))
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: manifest %s.kind (%s) must be plugin, "
                                "library or data",
                                what, where, p);
        rc = plugin_entry_check(f, files, i, k, where, p, what, d);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_object_get(
                           json_array_get(files, j), "path")),
                       p) == 0)
                return thi_diag_set(d, TH_EFORMAT,
                                    "%s: manifest lists %s twice", what, p);
    }
    if (total > THI_BUNDLE_MAX_TOTAL)
        return thi_diag_set(d, TH_ETOOBIG,
                            "%s: manifest files total %zu bytes, over the "
                            "limit of %zu",
                            what, total, THI_BUNDLE_MAX_TOTAL);
    return tli_classes_check(m, files, what, d);
}

/* ---- Zip structure --------------------------------------------------------------------
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
    const uint8_t *eocd = buf + zlen - EOCD_LEN;
    uint16_t disk = le16(eocd + 4), cd_disk = le16(eocd + 6);
    uint16_t n_here = le16(eocd + 8), n_total = le16(eocd + 10);
    uint32_t cd_size = le32(eocd + 12), cd_off = le32(eocd + 16);
    if (disk != 0 || cd_disk != 0 || n_here != n_total ||
        n_total > THI_BUNDLE_MAX_FILES + 1 || n_total == 0xffff ||
        cd_off == 0xffffffffu)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: archive end record is malformed or "
                            "multi-volume (%u entries)",
                            what, n_total);
    if ((uint64_t)cd_off + cd_size != zlen - EOCD_LEN)
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
        if (p + 46 > zlen - EOCD_LEN || le32(buf + p) != 0x02014b50u) {
            rc = thi_diag_set(d, TH_EFORMAT,
                              "%s: central directory entry %u is truncated "
                              "or corrupt",
                              what, i);
            goto out_free;
        }
        uint16_t flags = le16(buf + p + 8), method = le16(buf + p + 10);
        uint16_t nl = le16(buf + p + 28), xl = le16(buf + p + 30),
                 cl = le16(buf + p + 32);
        uint32_t loff = le32(buf + p + 42);
        if (p + 46 + nl + xl + cl > zlen - EOCD_LEN || nl == 0 || nl > 255) {
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
            char esc[ESC_NAME];
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
        if ((uint64_t)loff + 30 > cd_off || le32(buf + loff) != 0x04034b50u ||
            (uint64_t)loff + 30 + le16(buf + loff + 26) > cd_off ||
            le16(buf + loff + 26) != nl ||
            memcmp(buf + loff + 30, name, nl) != 0 ||
            le16(buf + loff + 8) != method) {
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

static int
read_entry(struct archive *a, uint8_t **out, size_t *len, size_t cap,
           const char *name, const char *what, th_diag_t *d)
{
    size_t n = 0, alloc = 0;
    uint8_t *buf = NULL;
    for (;;) {
        uint8_t chunk[65536];
        la_ssize_t r = archive_read_data(a, chunk, sizeof chunk);
        if (r == 0)
            break;
        if (r < 0) {
            free(buf);
            return thi_diag_set(d, TH_EFORMAT, "%s: entry %s: %s", what, name,
                                archive_error_string(a)
                                    ? archive_error_string(a)
                                    : "read error");
        }
        /* count the bytes ourselves: header sizes are not trusted */
        if (n + (size_t)r > cap) {
            free(buf);
            return thi_diag_set(d, TH_ETOOBIG,
                                "%s: entry %s is larger than the manifest "
                                "says (%zu bytes)",
                                what, name, cap);
        }
        if (n + (size_t)r > alloc) {
            alloc = (n + (size_t)r) * 2;
            if (alloc > cap)
                alloc = cap;
            uint8_t *nb = realloc(buf, alloc ? alloc : 1);
            if (nb == NULL) {
                free(buf);
                return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
            }
            buf = nb;
        }
        memcpy(buf + n, chunk, (size_t)r);
        n += (size_t)r;
    }
    if (buf == NULL)
        buf = malloc(1);
    *out = buf;
    *len = n;
    return buf ? 0 : TH_ENOMEM;
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

/* The manifest's entry for `path` says it is a data file. */
static bool
manifest_data(const json_t *m, const char *path)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(m, "files"), i, f)
        if (!strcmp(json_string_value(json_object_get(f, "path")), path))
            return !strcmp(json_string_value(json_object_get(f, "kind")),
                           "data");
    return false;
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
            rc = read_entry(a, &mtext, &mlen, THI_MANIFEST_MAX, name, what, d);
            if (rc == 0)
                rc = parse_manifest(b, mtext, mlen, what, d);
            if (rc)
                goto out;
            continue;
        }
        const char *pwhy = path_problem(name);
        if (pwhy) {
            char esc[ESC_NAME];
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
        if ((flags & THI_READ_SKIP_DATA) && b->manifest &&
            manifest_data(b->manifest, name)) {
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
        rc = read_entry(a, &f->data, &f->size, THI_BUNDLE_MAX_FILE, name,
                        what, d);
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

/* ---- Building ------------------------------------------------------------------------------ */

typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
} membuf_t;

static la_ssize_t
mem_write(struct archive *a, void *arg, const void *data, size_t len)
{
    membuf_t *m = arg;
    if (m->n + len > m->cap) {
        size_t cap = (m->n + len) * 2;
        uint8_t *p = realloc(m->p, cap);
        if (p == NULL) {
            archive_set_error(a, ENOMEM, "out of memory");
            return -1;
        }
        m->p = p;
        m->cap = cap;
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
    if (zlen < EOCD_LEN || le32(zip + zlen - EOCD_LEN) != 0x06054b50u ||
        le16(zip + zlen - 2) != 0)
        return thi_diag_set(d, TH_EINVAL,
                            "archive does not end with a comment-less end "
                            "record");
    /* the trailer becomes the zip comment: set its length, then sign every
     * byte up to it */
    size_t slen = thi_key_sig_len(key);
    uint32_t tlen = (uint32_t)(TRAILER_FIXED + slen);
    uint8_t *res = malloc(zlen + tlen);
    if (res == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    memcpy(res, zip, zlen);
    put16(res + zlen - 2, (uint16_t)tlen);
    uint8_t *t = res + zlen;
    memcpy(t, THI_BUNDLE_MAGIC, 8);
    put16(t + 8, THI_BUNDLE_FORMAT);
    put16(t + 10, 0);
    thi_key_fingerprint(t + 12, key);
    put32(t + 44, (uint32_t)slen);
    uint8_t digest[32];
    size_t got = 0;
    int rc = thi_sha256(digest, res, zlen);
    if (rc == 0)
        rc = thi_sign(t + 48, slen, &got, key, digest, d);
    if (rc != 0 || got != slen) {
        free(res);
        return rc ? rc : thi_diag_set(d, TH_EIO, "signature has wrong length");
    }
    put32(t + 48 + slen, tlen);
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
    char esc[ESC_NAME];
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
        const char *pwhy = path_problem(files[i].path);
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
    rc = add_entry(a, THI_MANIFEST_NAME, (const uint8_t *)mtext,
                   strlen(mtext), 0644);
    for (size_t i = 0; rc == 0 && i < n_files; i++)
        rc = add_entry(a, sorted[i].path, sorted[i].data, sorted[i].size,
                       strcmp(sorted[i].kind, "data") ? 0755 : 0644);
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

/*
 * tests/hostile/bundle_hostile_test.c — HOSTILE.md "Bundles and archives",
 * "Signatures and keys" and "Manifest" at the loader layer: every bad bundle
 * is refused with the exact code and a diag naming the bundle and the
 * entry or field. Archives past the signature check are crafted by
 * tests/bundle_gen.h and signed with a trusted key.
 */
#include "bundle_gen.h"

static thi_key_t *trusted, *stranger;
static thi_keyring_t *ring;

static void
setup(void)
{
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(&trusted, 2048, &d), 0);
    CHECK_RC(thi_key_generate(&stranger, 2048, &d), 0);
    char *pem = NULL;
    CHECK_RC(thi_key_write_public_pem(trusted, &pem, &d), 0);
    thi_key_t *pub = NULL;
    CHECK_RC(thi_key_load_public(&pub, pem, strlen(pem), "t", &d), 0);
    free(pem);
    CHECK_RC(thi_keyring_create(&ring), 0);
    CHECK_RC(thi_keyring_add(ring, &pub, "trusted_tls.key"), 0);
}

/* Verify and read; return the code, with the diag in *d. */
static int
load(const uint8_t *b, size_t len, th_diag_t *d)
{
    thi_verified_t v;
    int rc = thi_bundle_verify(&v, b, len, ring, "evil.tls", d);
    if (rc != 0)
        return rc;
    thi_bundle_t *bd = NULL;
    rc = thi_bundle_read(&bd, b, v.signed_len, "evil.tls", d);
    thi_bundle_free(bd);
    return rc;
}

static void
expect(const uint8_t *b, size_t len, int code, const char *text)
{
    th_diag_t d = {0};
    int rc = load(b, len, &d);
    if (rc != code)
        TH_FAIL_AT_("expected %s, got %s: %s", th_errname(code),
                    th_errname(rc), d.msg);
    CHECK_CONTAINS(d.msg, "evil.tls");
    CHECK_CONTAINS(d.msg, text);
}

static const char payload[] = "payload bytes";

static uint8_t *
good(size_t *len, const thi_key_t *k)
{
    gen_entry_t f[] = {{"a.txt", payload, sizeof payload - 1, 0, 0}};
    char *m = gen_manifest(f, 1, "grp", "1.0");
    gen_entry_t e[] = {{THI_MANIFEST_NAME, m, strlen(m), 0, 0}, f[0]};
    size_t zl;
    uint8_t *z = gen_zip(e, 2, &zl);
    uint8_t *b = gen_seal(z, zl, k, len);
    free(z);
    free(m);
    return b;
}

/* The archive with a manifest built for `mf` files but holding `ef`. */
static void
expect_entries(const gen_entry_t *mf, size_t nm, const gen_entry_t *ef,
               size_t ne, int code, const char *text)
{
    char *m = gen_manifest(mf, nm, "grp", "1.0");
    gen_entry_t e[16] = {{THI_MANIFEST_NAME, m, strlen(m), 0, 0}};
    for (size_t i = 0; i < ne; i++)
        e[i + 1] = ef[i];
    size_t zl, bl;
    uint8_t *z = gen_zip(e, ne + 1, &zl);
    uint8_t *b = gen_seal(z, zl, trusted, &bl);
    expect(b, bl, code, text);
    free(b);
    free(z);
    free(m);
}

TH_TEST(sanity_good_bundle_loads)
{
    setup();
    size_t len;
    uint8_t *b = good(&len, trusted);
    th_diag_t d = {0};
    CHECK_RC(load(b, len, &d), 0);
    free(b);
}

TH_TEST(unsigned_and_malformed_trailers)
{
    setup();
    gen_entry_t e[] = {{"a.txt", payload, sizeof payload - 1, 0, 0}};
    size_t zl;
    uint8_t *z = gen_zip(e, 1, &zl);
    expect(z, zl, TH_EBADSIG, "unsigned"); /* a plain zip */
    free(z);
    expect((const uint8_t *)"", 0, TH_EBADSIG, "too short");
    size_t len;
    uint8_t *b = good(&len, trusted);
    uint8_t *c = malloc(len + 600);
    /* trailer length field pointing out of bounds */
    memcpy(c, b, len);
    c[len - 1] = 0x7f;
    expect(c, len, TH_EBADSIG, "trailer length");
    /* signature length lying (short and long) */
    memcpy(c, b, len);
    c[len - 256 - 8] ^= 0x01; /* low byte of S in the trailer */
    expect(c, len, TH_EBADSIG, "signature length");
    /* extra bytes after the trailer */
    memcpy(c, b, len);
    memset(c + len, 0, 600);
    expect(c, len + 600, TH_EBADSIG, "");
    /* bad magic */
    memcpy(c, b, len);
    c[len - 256 - 52] = 'X';
    expect(c, len, TH_EBADSIG, "magic");
    free(c);
    free(b);
}

TH_TEST(unknown_key_and_transplanted_signature)
{
    setup();
    size_t la, lb;
    uint8_t *a = good(&la, stranger);
    expect(a, la, TH_EBADSIG, "unknown key");
    free(a);
    /* a valid signature of bundle A attached to bundle B */
    a = good(&la, trusted);
    gen_entry_t f[] = {{"b.txt", "other", 5, 0, 0}};
    char *m = gen_manifest(f, 1, "grp", "1.0");
    gen_entry_t e[] = {{THI_MANIFEST_NAME, m, strlen(m), 0, 0}, f[0]};
    size_t zl;
    uint8_t *z = gen_zip(e, 2, &zl);
    size_t tl = 52 + 256;
    uint8_t *b = malloc(zl + tl);
    memcpy(b, z, zl);
    b[zl - 2] = (uint8_t)tl;
    b[zl - 1] = (uint8_t)(tl >> 8);
    memcpy(b + zl, a + la - tl, tl);
    lb = zl + tl;
    expect(b, lb, TH_EBADSIG, "does not verify");
    free(a);
    free(b);
    free(z);
    free(m);
}

/* One flipped byte anywhere (manifest, payload, directory, trailer) and
 * the bundle is refused before anything parses it. */
TH_TEST(any_flipped_byte_is_refused)
{
    setup();
    size_t len;
    uint8_t *b = good(&len, trusted);
    for (size_t off = 0; off < len; off += 7) {
        b[off] ^= 0x20;
        th_diag_t d = {0};
        thi_verified_t v;
        int rc = thi_bundle_verify(&v, b, len, ring, "evil.tls", &d);
        if (rc != TH_EBADSIG)
            TH_FAIL_AT_("flip at %zu of %zu: %s", off, len, th_errname(rc));
        b[off] ^= 0x20;
    }
    free(b);
}

TH_TEST(truncated_at_any_offset)
{
    setup();
    size_t len;
    uint8_t *b = good(&len, trusted);
    for (size_t cut = 0; cut < len; cut += 5) {
        th_diag_t d = {0};
        thi_verified_t v;
        if (thi_bundle_verify(&v, b, cut, ring, "evil.tls", &d) != TH_EBADSIG)
            TH_FAIL_AT_("cut at %zu accepted", cut);
    }
    free(b);
}

TH_TEST(entries_and_manifest_must_match)
{
    setup();
    gen_entry_t a = {"a.txt", payload, sizeof payload - 1, 0, 0};
    gen_entry_t extra = {"extra.txt", "x", 1, 0, 0};
    gen_entry_t both[] = {a, extra};
    /* a file in the zip but not in the manifest */
    expect_entries(&a, 1, both, 2, TH_EFORMAT, "has 2 files");
    /* the manifest lists a file the zip lacks */
    gen_entry_t other = {"other.txt", "x", 1, 0, 0};
    gen_entry_t mf2[] = {a, other};
    expect_entries(mf2, 2, &a, 1, TH_EFORMAT, "has 1 files");
    gen_entry_t swapped[] = {a, extra};
    expect_entries(mf2, 2, swapped, 2, TH_EFORMAT, "lacks it");
    /* hash and size that do not match the bytes */
    gen_entry_t liar = {"a.txt", "different data", 14, 0, 0};
    gen_entry_t same_len = {"a.txt", "PAYLOAD BYTES", 13, 0, 0};
    expect_entries(&a, 1, &liar, 1, TH_EHASH, "has 14 bytes");
    expect_entries(&a, 1, &same_len, 1, TH_EHASH, "SHA-256");
    gen_entry_t shorter = {"a.txt", "pay", 3, 0, 0};
    expect_entries(&a, 1, &shorter, 1, TH_EHASH, "3 bytes");
}

TH_TEST(unsafe_paths_refused)
{
    setup();
    const char *names[] = {"../x", "a/../../x", "/abs", "a\\b", "C:x",
                           "./a", "a//b", "dir/", "a b"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        gen_entry_t f = {names[i], "x", 1, 0, 0};
        /* the manifest cannot even name it: list a safe name there */
        gen_entry_t m = {"safe.txt", "x", 1, 0, 0};
        char *mt = gen_manifest(&m, 1, "grp", "1.0");
        gen_entry_t e[] = {{THI_MANIFEST_NAME, mt, strlen(mt), 0, 0}, f};
        size_t zl, bl;
        uint8_t *z = gen_zip(e, 2, &zl);
        uint8_t *b = gen_seal(z, zl, trusted, &bl);
        th_diag_t d = {0};
        int rc = load(b, bl, &d);
        if (rc != TH_EFORMAT)
            TH_FAIL_AT_("name %s: %s (%s)", names[i], th_errname(rc), d.msg);
        free(b);
        free(z);
        free(mt);
    }
}

TH_TEST(links_dirs_and_modes_refused)
{
    setup();
    gen_entry_t a = {"a.txt", payload, sizeof payload - 1, 0, 0};
    gen_entry_t link = {"l", "/etc/passwd", 0, 1, 0};
    gen_entry_t ents[] = {a, link};
    expect_entries(&a, 1, ents, 2, TH_EFORMAT, "not a regular file");
    gen_entry_t dir = {"d/", NULL, 0, 2, 0};
    gen_entry_t ents2[] = {a, dir};
    expect_entries(&a, 1, ents2, 2, TH_EFORMAT, "not a regular file");
    gen_entry_t suid = {"a.txt", payload, sizeof payload - 1, 0, 04755};
    expect_entries(&a, 1, &suid, 1, TH_EFORMAT, "setuid");
    gen_entry_t ww = {"a.txt", payload, sizeof payload - 1, 0, 0666};
    expect_entries(&a, 1, &ww, 1, TH_EFORMAT, "world-writable");
}

TH_TEST(duplicate_entries_refused)
{
    setup();
    gen_entry_t a = {"a.txt", payload, sizeof payload - 1, 0, 0};
    gen_entry_t a2 = {"a.txt", "other data!!!", 13, 0, 0};
    gen_entry_t ents[] = {a, a2};
    expect_entries(&a, 1, ents, 2, TH_EFORMAT, "appears twice");
}

/* Patch the central and local headers of the entry named `name`. */
static uint8_t *
patched(size_t *len, const char *name, size_t field, uint16_t value,
        bool local_too)
{
    gen_entry_t f = {name, payload, sizeof payload - 1, 0, 0};
    char *m = gen_manifest(&f, 1, "grp", "1.0");
    gen_entry_t e[] = {{THI_MANIFEST_NAME, m, strlen(m), 0, 0}, f};
    size_t zl;
    uint8_t *z = gen_zip(e, 2, &zl);
    long c = gen_find(z, zl, "PK\x01\x02", 4, 0);
    while (c >= 0 && memcmp(z + c + 46, name, strlen(name)) != 0)
        c = gen_find(z, zl, "PK\x01\x02", 4, (size_t)c + 4);
    CHECK(c >= 0);
    z[c + field] = (uint8_t)value;
    z[c + field + 1] = (uint8_t)(value >> 8);
    if (local_too) {
        uint32_t loff = (uint32_t)z[c + 42] | (uint32_t)z[c + 43] << 8 |
                        (uint32_t)z[c + 44] << 16 | (uint32_t)z[c + 45] << 24;
        z[loff + field - 2] = (uint8_t)value; /* local field is 2 earlier */
        z[loff + field - 1] = (uint8_t)(value >> 8);
    }
    uint8_t *b = gen_seal(z, zl, trusted, len);
    free(z);
    free(m);
    return b;
}

TH_TEST(compression_methods_and_encryption_refused)
{
    setup();
    size_t len;
    uint8_t *b = patched(&len, "a.txt", 10, 12, true); /* bzip2 */
    expect(b, len, TH_EFORMAT, "compression method 12");
    free(b);
    b = patched(&len, "a.txt", 10, 14, true); /* lzma */
    expect(b, len, TH_EFORMAT, "compression method 14");
    free(b);
    b = patched(&len, "a.txt", 8, 0x0009, true); /* encrypted flag */
    expect(b, len, TH_EFORMAT, "encrypted");
    free(b);
}

TH_TEST(structural_tricks_refused)
{
    setup();
    /* a NUL inside a central directory name (libarchive would cut it) */
    gen_entry_t f = {"evil.txtX", payload, sizeof payload - 1, 0, 0};
    char *m = gen_manifest(&f, 1, "grp", "1.0");
    gen_entry_t e[] = {{THI_MANIFEST_NAME, m, strlen(m), 0, 0}, f};
    size_t zl, bl;
    uint8_t *z = gen_zip(e, 2, &zl);
    long c = gen_find(z, zl, "PK\x01\x02", 4, 0);
    c = gen_find(z, zl, "evil.txtX", 9, (size_t)c);
    CHECK(c >= 0);
    z[c + 8] = 0;
    uint8_t *b = gen_seal(z, zl, trusted, &bl);
    expect(b, bl, TH_EFORMAT, "NUL");
    free(b);
    /* the local header names another file than the central directory */
    z[c + 8] = 'X';
    long l = gen_find(z, zl, "evil.txtX", 9, 0);
    CHECK(l >= 0 && l < c);
    z[l] = 'E';
    b = gen_seal(z, zl, trusted, &bl);
    expect(b, bl, TH_EFORMAT, "local header");
    free(b);
    free(z);
    /* a corrupted central directory */
    z = gen_zip(e, 2, &zl);
    c = gen_find(z, zl, "PK\x01\x02", 4, 0);
    z[c + 28] = 0xff; /* name length runs past the directory */
    z[c + 29] = 0x7f;
    b = gen_seal(z, zl, trusted, &bl);
    expect(b, bl, TH_EFORMAT, "central directory entry");
    free(b);
    free(z);
    free(m);
}

TH_TEST(zip_bomb_by_ratio_refused)
{
    setup();
    size_t n = (size_t)40 << 20;
    char *zeros = calloc(1, n);
    gen_entry_t f = {"bomb.bin", zeros, n, 0, 0};
    expect_entries(&f, 1, &f, 1, TH_ETOOBIG, "ratio");
    free(zeros);
}

TH_TEST(too_many_entries_refused)
{
    setup();
    size_t n = 1100;
    gen_entry_t *e = calloc(n + 1, sizeof *e);
    char (*names)[16] = calloc(n, 16);
    e[0] = (gen_entry_t){THI_MANIFEST_NAME, "{}", 2, 0, 0};
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], 16, "f%zu", i);
        e[i + 1] = (gen_entry_t){names[i], "x", 1, 0, 0};
    }
    size_t zl, bl;
    uint8_t *z = gen_zip(e, n + 1, &zl);
    uint8_t *b = gen_seal(z, zl, trusted, &bl);
    expect(b, bl, TH_EFORMAT, "entries");
    free(b);
    free(z);
    free(e);
    free(names);
}

static void
expect_manifest(const char *mtext, const char *text)
{
    gen_entry_t f = {"a.txt", payload, sizeof payload - 1, 0, 0};
    gen_entry_t e[] = {{THI_MANIFEST_NAME, mtext, strlen(mtext), 0, 0}, f};
    size_t zl, bl;
    uint8_t *z = gen_zip(e, 2, &zl);
    uint8_t *b = gen_seal(z, zl, trusted, &bl);
    expect(b, bl, TH_EFORMAT, text);
    free(b);
    free(z);
}

TH_TEST(malformed_manifests_refused)
{
    setup();
    gen_entry_t f = {"a.txt", payload, sizeof payload - 1, 0, 0};
    char *m = gen_manifest(&f, 1, "grp", "1.0");
    json_t *base = json_loads(m, 0, NULL);
    free(m);
    expect_manifest("{not json", "not valid JSON");
    expect_manifest("[1,2]", "not an object");
    /* duplicate keys */
    expect_manifest("{\"format\":1,\"format\":1}", "not valid JSON");
    /* deep nesting */
    char deep[5000];
    size_t k = 0;
    for (int i = 0; i < 2000; i++)
        deep[k++] = '[';
    deep[k] = 0;
    expect_manifest(deep, "not valid JSON");
    struct { const char *field; json_t *value; const char *text; } cases[] = {
        {"format", json_integer(2), "\"format\""},
        {"group", json_string("../etc"), "\"group\""},
        {"group", json_integer(5), "\"group\""},
        {"version", json_string("1..2"), "\"version\""},
        {"info", json_integer(1), "\"info\""},
        {"abi", json_string("1.0"), "\"abi\""},
        {"platform", json_null(), "\"platform\""},
        {"tli", json_string("x"), "\"tli\""},
        {"files", json_object(), "\"files\""},
        {"surprise", json_true(), "unknown field \"surprise\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *mm = json_deep_copy(base);
        json_object_set_new(mm, cases[i].field, cases[i].value);
        char *t = json_dumps(mm, 0);
        expect_manifest(t, cases[i].text);
        free(t);
        json_decref(mm);
    }
    /* a huge info string */
    json_t *mm = json_deep_copy(base);
    char *big = malloc(10000);
    memset(big, 'i', 9999);
    big[9999] = 0;
    json_object_set_new(mm, "info", json_string(big));
    char *t = json_dumps(mm, 0);
    expect_manifest(t, "\"info\"");
    free(t);
    free(big);
    json_decref(mm);
    /* missing fields */
    const char *fields[] = {"format", "group", "info", "abi", "platform",
                            "files"};
    for (size_t i = 0; i < 6; i++) {
        mm = json_deep_copy(base);
        json_object_del(mm, fields[i]);
        t = json_dumps(mm, 0);
        expect_manifest(t, fields[i]);
        free(t);
        json_decref(mm);
    }
    /* a file record with a wrong type or an unknown field */
    mm = json_deep_copy(base);
    json_object_set_new(json_array_get(json_object_get(mm, "files"), 0),
                        "size", json_string("13"));
    t = json_dumps(mm, 0);
    expect_manifest(t, "files[0].size");
    free(t);
    json_decref(mm);
    mm = json_deep_copy(base);
    json_object_set_new(json_array_get(json_object_get(mm, "files"), 0),
                        "mode", json_integer(4755));
    t = json_dumps(mm, 0);
    expect_manifest(t, "unknown field \"mode\"");
    free(t);
    json_decref(mm);
    json_decref(base);
}

TH_TEST_MAIN(TH_CASE(sanity_good_bundle_loads),
             TH_CASE(unsigned_and_malformed_trailers),
             TH_CASE(unknown_key_and_transplanted_signature),
             TH_CASE(any_flipped_byte_is_refused),
             TH_CASE(truncated_at_any_offset),
             TH_CASE(entries_and_manifest_must_match),
             TH_CASE(unsafe_paths_refused),
             TH_CASE(links_dirs_and_modes_refused),
             TH_CASE(duplicate_entries_refused),
             TH_CASE(compression_methods_and_encryption_refused),
             TH_CASE(structural_tricks_refused),
             TH_CASE(zip_bomb_by_ratio_refused),
             TH_CASE(too_many_entries_refused),
             TH_CASE(malformed_manifests_refused))

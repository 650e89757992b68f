/*
 * tests/unit/loader/crypto_test.c — unit tests for loader/crypto.c: SHA-256
 * vectors, base64, RSA key generation / PEM round trips, PKCS#1 v1.5
 * signing and verification, interop with the openssl CLI, and hostile key
 * inputs (wrong kind, weak, malformed, non-regular files).
 */
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "loader/crypto.h"
#include "base/base64.h"
#include "th_test.h"
#include "thespian/error.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

/* A scratch directory for files the openssl CLI writes. Left behind only
 * when a case fails, so its files can be inspected. */
static char *
scratch_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/th-crypto-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    char *copy = strdup(dir);
    CHECK(copy != NULL);
    return copy;
}

static void
scratch_remove(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ(system(cmd), 0);
    free(dir);
}

static char *
path_in(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    CHECK(p != NULL);
    snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* Runs a shell command (stdout/stderr discarded); returns its exit status,
 * or -1 if it did not exit normally. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    CHECK(n > 0 && (size_t)n < sizeof cmd - 32);
    strcat(cmd, " >/dev/null 2>&1");
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void
need_openssl(void)
{
    if (sh("command -v openssl") != 0)
        TH_FAIL_AT_("the openssl CLI is not on PATH (the test script "
                    "installs it)");
}

/* A file the openssl CLI wrote, which must be there. */
static char *
th_slurp_checked(const char *path, size_t *len)
{
    char *s = th_slurp(path, len);
    CHECK(s != NULL);
    return s;
}

static void
spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(data, 1, len, f), len);
    CHECK_EQ(fclose(f), 0);
}

static thi_key_t *
gen_key(unsigned bits)
{
    th_diag_t d;
    thi_diag_clear(&d);
    thi_key_t *key = NULL;
    int rc = thi_key_generate(&key, bits, &d);
    if (rc != 0)
        TH_FAIL_AT_("thi_key_generate(%u): %d %s", bits, rc, d.msg);
    CHECK(key != NULL);
    return key;
}

static void
digest_of(uint8_t out[THI_SHA256_LEN], const char *s)
{
    CHECK_RC(thi_sha256(out, s, strlen(s)), 0);
}

/* ------------------------------------------------------------------------ */
/* SHA-256, hex, base64                                                      */

TH_TEST(sha256_fips_vectors)
{
    /* FIPS 180-2 appendix B.1 and B.2, and the empty message. */
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"abc",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t md[THI_SHA256_LEN];
        char hex[2 * THI_SHA256_LEN + 1];
        CHECK_RC(thi_sha256(md, v[i].msg, strlen(v[i].msg)), 0);
        thi_hex(hex, md, sizeof md);
        CHECK_STREQ(hex, v[i].hex);
    }
    /* NULL data with length 0 is the empty message. */
    uint8_t md[THI_SHA256_LEN];
    char hex[2 * THI_SHA256_LEN + 1];
    CHECK_RC(thi_sha256(md, NULL, 0), 0);
    thi_hex(hex, md, sizeof md);
    CHECK_STREQ(hex, v[1].hex);

    /* FIPS 180-2 B.3: one million 'a', fed in 1000-byte chunks. */
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    thi_sha256_t s;
    thi_sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        thi_sha256_update(&s, chunk, sizeof chunk);
    CHECK_RC(thi_sha256_final(md, &s), 0);
    thi_hex(hex, md, sizeof md);
    CHECK_STREQ(
        hex,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TH_TEST(sha256_streaming_matches_oneshot)
{
    uint8_t data[1537];
    uint32_t x = 0x12345678u;
    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    uint8_t want[THI_SHA256_LEN], got[THI_SHA256_LEN];
    CHECK_RC(thi_sha256(want, data, sizeof data), 0);

    /* Chunk sizes around the 64-byte block boundary, odd and prime. */
    static const size_t steps[] = {1,  3,   7,   55,  63,  64,
                                   65, 127, 129, 333, 1000};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        thi_sha256_t s;
        thi_sha256_init(&s);
        thi_sha256_update(&s, NULL, 0);
        for (size_t off = 0; off < sizeof data; off += steps[k]) {
            size_t n =
                sizeof data - off < steps[k] ? sizeof data - off : steps[k];
            thi_sha256_update(&s, data + off, n);
            thi_sha256_update(&s, data + off, 0);
        }
        CHECK_RC(thi_sha256_final(got, &s), 0);
        CHECK(memcmp(got, want, sizeof want) == 0);
    }

    /* Two split points, every pair over a short prefix. */
    for (size_t a = 0; a <= 130; a += 13)
        for (size_t b = a; b <= 200; b += 17) {
            thi_sha256_t s;
            thi_sha256_init(&s);
            thi_sha256_update(&s, data, a);
            thi_sha256_update(&s, data + a, b - a);
            thi_sha256_update(&s, data + b, sizeof data - b);
            CHECK_RC(thi_sha256_final(got, &s), 0);
            CHECK(memcmp(got, want, sizeof want) == 0);
        }

    /* Abandoning a stream, and fini after final, are both harmless. */
    thi_sha256_t s;
    thi_sha256_init(&s);
    thi_sha256_update(&s, data, 10);
    thi_sha256_fini(&s);
    thi_sha256_fini(&s);
    thi_sha256_fini(NULL);
}

TH_TEST(hex_encoding)
{
    static const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof b + 1];
    thi_hex(out, b, sizeof b);
    CHECK_STREQ(out, "00017f80abff");
    char empty[1] = {'x'};
    thi_hex(empty, NULL, 0);
    CHECK_STREQ(empty, "");
}

TH_TEST(base64_round_trip)
{
    /* RFC 4648 §10 vectors. */
    static const char *const plain[] = {"",     "f",     "fo",    "foo",
                                        "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char *e = NULL;
        CHECK_RC(thi_base64_encode(&e, plain[i], strlen(plain[i])), 0);
        CHECK_STREQ(e, enc[i]);
        uint8_t *dec = NULL;
        size_t n = 99;
        CHECK_RC(thi_base64_decode(&dec, &n, e, strlen(e)), 0);
        CHECK(dec != NULL);
        CHECK_EQ(n, strlen(plain[i]));
        CHECK(memcmp(dec, plain[i], n) == 0);
        free(dec);
        free(e);
    }
    /* All byte values survive. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char *e = NULL;
    CHECK_RC(thi_base64_encode(&e, all, sizeof all), 0);
    uint8_t *dec = NULL;
    size_t n = 0;
    CHECK_RC(thi_base64_decode(&dec, &n, e, strlen(e)), 0);
    CHECK_EQ(n, sizeof all);
    CHECK(memcmp(dec, all, n) == 0);
    free(dec);
    free(e);

    /* Line breaks between groups are tolerated. */
    CHECK_RC(thi_base64_decode(&dec, &n, "Zm9v\r\nYmFy\n", 11), 0);
    CHECK_EQ(n, 6);
    CHECK(memcmp(dec, "foobar", 6) == 0);
    free(dec);

    /* Invalid text: bad characters, misplaced or excess padding, a NUL, and
     * truncated groups (which mbedTLS alone would decode short). */
    static const struct {
        const char *text;
        size_t len;
    } bad[] = {
        {"Zm9v!", 5}, {"Zm9v YmFy", 9},  {"Zg=a", 4},
        {"Z===", 4},  {"Zm9vYmFy\0", 9}, {"Zm9", 3},
        {"Zg", 2},    {"Zm9vY", 5},      {"Zm9vYmF", 7},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dec = (uint8_t *)1;
        n = 99;
        if (thi_base64_decode(&dec, &n, bad[i].text, bad[i].len) != TH_EFORMAT)
            TH_FAIL_AT_("base64 \"%s\" was not refused", bad[i].text);
        CHECK(dec == NULL);
        CHECK_EQ(n, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* Keys and signatures                                                       */

TH_TEST(keygen_sign_verify)
{
    th_diag_t d;
    thi_diag_clear(&d);
    thi_key_t *key = gen_key(2048);
    CHECK_EQ(thi_key_bits(key), 2048);
    CHECK_EQ(thi_key_sig_len(key), 256);
    CHECK(thi_key_has_private(key));

    uint8_t hash[THI_SHA256_LEN], sig[THI_SIG_MAX_LEN], sig2[THI_SIG_MAX_LEN];
    size_t sig_len = 0, sig2_len = 0;
    digest_of(hash, "bundle bytes");
    CHECK_RC(thi_sign(sig, sizeof sig, &sig_len, key, hash, &d), 0);
    CHECK_EQ(sig_len, 256);
    CHECK_RC(thi_verify(key, hash, sig, sig_len, &d), 0);
    CHECK_EQ(d.code, 0);

    /* Deterministic: PKCS#1 v1.5 has no randomness in the output. */
    CHECK_RC(thi_sign(sig2, sizeof sig2, &sig2_len, key, hash, &d), 0);
    CHECK_EQ(sig2_len, sig_len);
    CHECK(memcmp(sig, sig2, sig_len) == 0);

    /* A flipped bit in the hash. */
    uint8_t other[THI_SHA256_LEN];
    memcpy(other, hash, sizeof other);
    other[17] ^= 0x01;
    CHECK_RC(thi_verify(key, other, sig, sig_len, &d), TH_EBADSIG);
    CHECK_EQ(d.code, TH_EBADSIG);
    CHECK_CONTAINS(d.msg, "signature does not verify with key sha256:");

    /* A flipped byte anywhere in the signature: first, middle, last. */
    static const size_t at[] = {0, 128, 255};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        memcpy(sig2, sig, sig_len);
        sig2[at[i]] ^= 0x40;
        thi_diag_clear(&d);
        CHECK_RC(thi_verify(key, hash, sig2, sig_len, &d), TH_EBADSIG);
        CHECK_CONTAINS(d.msg, "does not verify");
    }

    /* A signature numerically >= N is refused, not reduced. */
    memset(sig2, 0xff, sig_len);
    thi_diag_clear(&d);
    CHECK_RC(thi_verify(key, hash, sig2, sig_len, &d), TH_EBADSIG);

    /* A different hash gives a different signature. */
    CHECK_RC(thi_sign(sig2, sizeof sig2, &sig2_len, key, other, &d), 0);
    CHECK(memcmp(sig, sig2, sig_len) != 0);

    /* Buffer too small for the signature. */
    thi_diag_clear(&d);
    CHECK_RC(thi_sign(sig2, 255, &sig2_len, key, hash, &d), TH_EINVAL);
    CHECK_EQ(sig2_len, 0);
    CHECK_CONTAINS(d.msg, "too small (need 256)");

    thi_key_destroy(key);
    thi_key_destroy(NULL);
}

TH_TEST(verify_rejects_wrong_length)
{
    th_diag_t d;
    thi_key_t *key = gen_key(2048);
    uint8_t hash[THI_SHA256_LEN], sig[THI_SIG_MAX_LEN + 1];
    size_t sig_len = 0;
    digest_of(hash, "payload");
    thi_diag_clear(&d);
    CHECK_RC(thi_sign(sig, sizeof sig, &sig_len, key, hash, &d), 0);
    CHECK_RC(thi_verify(key, hash, sig, sig_len, &d), 0);

    /* Short, long, empty and NULL: each names both lengths. */
    thi_diag_clear(&d);
    CHECK_RC(thi_verify(key, hash, sig, sig_len - 1, &d), TH_EBADSIG);
    CHECK_CONTAINS(d.msg, "signature of 255 bytes");
    CHECK_CONTAINS(d.msg, "expected 256 bytes");

    sig[sig_len] = 0;
    thi_diag_clear(&d);
    CHECK_RC(thi_verify(key, hash, sig, sig_len + 1, &d), TH_EBADSIG);
    CHECK_CONTAINS(d.msg, "signature of 257 bytes");

    /* A valid signature with a leading zero byte prepended is still too
     * long: no normalisation of lengths. */
    uint8_t padded[THI_SIG_MAX_LEN + 1];
    padded[0] = 0;
    memcpy(padded + 1, sig, sig_len);
    thi_diag_clear(&d);
    CHECK_RC(thi_verify(key, hash, padded, sig_len + 1, &d), TH_EBADSIG);

    thi_diag_clear(&d);
    CHECK_RC(thi_verify(key, hash, sig, 0, &d), TH_EBADSIG);
    CHECK_CONTAINS(d.msg, "signature of 0 bytes");
    thi_diag_clear(&d);
    CHECK_RC(thi_verify(key, hash, NULL, 0, &d), TH_EBADSIG);
    CHECK_CONTAINS(d.msg, "2048-bit RSA");

    /* A NULL diag is allowed: the code still comes back. */
    CHECK_RC(thi_verify(key, hash, sig, 3, NULL), TH_EBADSIG);
    thi_key_destroy(key);
}

TH_TEST(keygen_rejects_bad_sizes)
{
    th_diag_t d;
    thi_key_t *key = (thi_key_t *)&d; /* must be reset to NULL */

    thi_diag_clear(&d);
    CHECK_RC(thi_key_generate(&key, 1024, &d), TH_EINVAL);
    CHECK(key == NULL);
    CHECK_CONTAINS(d.msg, "RSA key of 1024 bits is too weak (minimum 2048)");

    thi_diag_clear(&d);
    CHECK_RC(thi_key_generate(&key, 0, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "too weak");
    thi_diag_clear(&d);
    CHECK_RC(thi_key_generate(&key, 2047, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "too weak");
    thi_diag_clear(&d);
    CHECK_RC(thi_key_generate(&key, 2049, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "odd");
    thi_diag_clear(&d);
    CHECK_RC(thi_key_generate(&key, 16384, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "too large (maximum 8192)");
}

TH_TEST(public_pem_round_trip)
{
    th_diag_t d;
    thi_diag_clear(&d);
    thi_key_t *priv = gen_key(2048);
    char *pem = NULL;
    CHECK_RC(thi_key_write_public_pem(priv, &pem, &d), 0);
    CHECK(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
    CHECK_CONTAINS(pem, "-----END PUBLIC KEY-----");

    thi_key_t *pub = NULL;
    CHECK_RC(thi_key_load_public(&pub, pem, strlen(pem), "round.pub", &d), 0);
    CHECK(!thi_key_has_private(pub));
    CHECK_EQ(thi_key_bits(pub), 2048);

    uint8_t fa[THI_SHA256_LEN], fb[THI_SHA256_LEN];
    thi_key_fingerprint(fa, priv);
    thi_key_fingerprint(fb, pub);
    CHECK(memcmp(fa, fb, sizeof fa) == 0);

    /* Writing the loaded public key gives the same text back. */
    char *pem2 = NULL;
    CHECK_RC(thi_key_write_public_pem(pub, &pem2, &d), 0);
    CHECK_STREQ(pem2, pem);

    /* A length that counts the terminating NUL is accepted too. */
    thi_key_t *pub2 = NULL;
    CHECK_RC(thi_key_load_public(&pub2, pem, strlen(pem) + 1, NULL, &d), 0);
    thi_key_fingerprint(fb, pub2);
    CHECK(memcmp(fa, fb, sizeof fa) == 0);

    /* The public key verifies what the private key signed, and cannot
     * sign or be written as a private key. */
    uint8_t hash[THI_SHA256_LEN], sig[THI_SIG_MAX_LEN];
    size_t sig_len = 0;
    digest_of(hash, "x");
    CHECK_RC(thi_sign(sig, sizeof sig, &sig_len, priv, hash, &d), 0);
    CHECK_RC(thi_verify(pub, hash, sig, sig_len, &d), 0);
    CHECK_RC(thi_sign(sig, sizeof sig, &sig_len, pub, hash, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "is a public key, cannot sign");
    char *ppem = (char *)1;
    thi_diag_clear(&d);
    CHECK_RC(thi_key_write_private_pem(pub, &ppem, &d), TH_EINVAL);
    CHECK(ppem == NULL);
    CHECK_CONTAINS(d.msg, "has no private part");

    free(pem);
    free(pem2);
    thi_key_destroy(pub2);
    thi_key_destroy(pub);
    thi_key_destroy(priv);
}

TH_TEST(private_pem_round_trip)
{
    th_diag_t d;
    thi_diag_clear(&d);
    thi_key_t *priv = gen_key(2048);
    char *pem = NULL;
    CHECK_RC(thi_key_write_private_pem(priv, &pem, &d), 0);
    CHECK_CONTAINS(pem, "PRIVATE KEY-----");

    thi_key_t *again = NULL;
    CHECK_RC(thi_key_load_private(&again, pem, strlen(pem), "round.key", &d),
             0);
    CHECK(thi_key_has_private(again));
    CHECK_EQ(thi_key_bits(again), 2048);
    uint8_t fa[THI_SHA256_LEN], fb[THI_SHA256_LEN];
    thi_key_fingerprint(fa, priv);
    thi_key_fingerprint(fb, again);
    CHECK(memcmp(fa, fb, sizeof fa) == 0);

    /* The reloaded key signs byte-identically (reproducible bundles). */
    uint8_t hash[THI_SHA256_LEN], s1[THI_SIG_MAX_LEN], s2[THI_SIG_MAX_LEN];
    size_t l1 = 0, l2 = 0;
    digest_of(hash, "reproducible");
    CHECK_RC(thi_sign(s1, sizeof s1, &l1, priv, hash, &d), 0);
    CHECK_RC(thi_sign(s2, sizeof s2, &l2, again, hash, &d), 0);
    CHECK_EQ(l1, l2);
    CHECK(memcmp(s1, s2, l1) == 0);

    /* Same PEM text out again. */
    char *pem2 = NULL;
    CHECK_RC(thi_key_write_private_pem(again, &pem2, &d), 0);
    CHECK_STREQ(pem2, pem);

    free(pem);
    free(pem2);
    thi_key_destroy(again);
    thi_key_destroy(priv);
}

TH_TEST(openssl_interop)
{
    need_openssl();
    th_diag_t d;
    thi_diag_clear(&d);
    char *dir = scratch_dir();
    char *x = path_in(dir, "x.pem"), *y = path_in(dir, "y.pem");
    char *trad = path_in(dir, "trad.pem"), *data = path_in(dir, "data.bin");
    char *sigf = path_in(dir, "ours.sig"), *osig = path_in(dir, "theirs.sig");
    char *der = path_in(dir, "y.der"), *ourpub = path_in(dir, "ours.pub");

    CHECK_EQ(sh("openssl genrsa -out '%s' 2048", x), 0);
    CHECK_EQ(sh("openssl rsa -in '%s' -pubout -out '%s'", x, y), 0);

    thi_key_t *priv = NULL, *pub = NULL;
    if (thi_key_load_private_file(&priv, x, &d) != 0)
        TH_FAIL_AT_("load_private_file: %s", d.msg);
    if (thi_key_load_public_file(&pub, y, &d) != 0)
        TH_FAIL_AT_("load_public_file: %s", d.msg);
    CHECK_EQ(thi_key_bits(priv), 2048);

    /* Our fingerprint is the SHA-256 of openssl's DER SubjectPublicKeyInfo. */
    uint8_t fpriv[THI_SHA256_LEN], fpub[THI_SHA256_LEN], fder[THI_SHA256_LEN];
    thi_key_fingerprint(fpriv, priv);
    thi_key_fingerprint(fpub, pub);
    CHECK(memcmp(fpriv, fpub, sizeof fpub) == 0);
    CHECK_EQ(sh("openssl pkey -pubin -in '%s' -outform DER -out '%s'", y, der),
             0);
    size_t der_len = 0;
    char *der_bytes = th_slurp_checked(der, &der_len);
    CHECK_RC(thi_sha256(fder, der_bytes, der_len), 0);
    CHECK(memcmp(fder, fpub, sizeof fpub) == 0);

    /* Sign a file's hash with ours; openssl must accept the signature. */
    char msg[3000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)(i * 7 + 3);
    spit(data, msg, sizeof msg);
    uint8_t hash[THI_SHA256_LEN], sig[THI_SIG_MAX_LEN];
    size_t sig_len = 0;
    CHECK_RC(thi_sha256(hash, msg, sizeof msg), 0);
    CHECK_RC(thi_sign(sig, sizeof sig, &sig_len, priv, hash, &d), 0);
    CHECK_RC(thi_verify(pub, hash, sig, sig_len, &d), 0);
    spit(sigf, sig, sig_len);
    CHECK_EQ(sh("openssl dgst -sha256 -verify '%s' -signature '%s' '%s'", y,
                sigf, data),
             0);

    /* openssl's own signature is byte-identical (v1.5 is deterministic)
     * and verifies with ours. */
    CHECK_EQ(
        sh("openssl dgst -sha256 -sign '%s' -out '%s' '%s'", x, osig, data), 0);
    size_t olen = 0;
    char *theirs = th_slurp_checked(osig, &olen);
    CHECK_EQ(olen, sig_len);
    CHECK(memcmp(theirs, sig, sig_len) == 0);
    CHECK_RC(thi_verify(pub, hash, (const uint8_t *)theirs, olen, &d), 0);

    /* A tampered file fails openssl's check of our signature too. */
    msg[100] ^= 1;
    spit(data, msg, sizeof msg);
    CHECK(sh("openssl dgst -sha256 -verify '%s' -signature '%s' '%s'", y, sigf,
             data) != 0);

    /* openssl reads the public PEM we write. */
    char *pem = NULL;
    CHECK_RC(thi_key_write_public_pem(priv, &pem, &d), 0);
    spit(ourpub, pem, strlen(pem));
    CHECK_EQ(sh("openssl pkey -pubin -in '%s' -noout", ourpub), 0);

    /* The traditional PKCS#1 private format loads too, same key. */
    CHECK_EQ(sh("openssl rsa -in '%s' -traditional -out '%s'", x, trad), 0);
    size_t tlen = 0;
    char *ttext = th_slurp_checked(trad, &tlen);
    CHECK_CONTAINS(ttext, "-----BEGIN RSA PRIVATE KEY-----");
    thi_key_t *tkey = NULL;
    if (thi_key_load_private(&tkey, ttext, tlen, trad, &d) != 0)
        TH_FAIL_AT_("load_private(PKCS#1): %s", d.msg);
    uint8_t ft[THI_SHA256_LEN];
    thi_key_fingerprint(ft, tkey);
    CHECK(memcmp(ft, fpub, sizeof ft) == 0);

    free(pem);
    free(ttext);
    free(theirs);
    free(der_bytes);
    thi_key_destroy(tkey);
    thi_key_destroy(pub);
    thi_key_destroy(priv);
    char *paths[] = {x, y, trad, data, sigf, osig, der, ourpub};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        free(paths[i]);
    scratch_remove(dir);
}

/* Threads sharing one private key and its loaded public key: verifies and
 * signs interleave, and every result must match the single-threaded one. */
struct shared_use {
    const thi_key_t *priv, *pub;
    uint8_t hash[THI_SHA256_LEN], sig[THI_SIG_MAX_LEN];
    size_t sig_len;
    int failures;
};

static void *
verify_loop(void *arg)
{
    struct shared_use *u = arg;
    for (int i = 0; i < 200; i++)
        if (thi_verify(u->pub, u->hash, u->sig, u->sig_len, NULL) != 0 ||
            thi_verify(u->priv, u->hash, u->sig, u->sig_len, NULL) != 0)
            __atomic_add_fetch(&u->failures, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *
sign_loop(void *arg)
{
    struct shared_use *u = arg;
    for (int i = 0; i < 10; i++) {
        uint8_t sig[THI_SIG_MAX_LEN];
        size_t len = 0;
        if (thi_sign(sig, sizeof sig, &len, u->priv, u->hash, NULL) != 0 ||
            len != u->sig_len || memcmp(sig, u->sig, len) != 0)
            __atomic_add_fetch(&u->failures, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

TH_TEST(shared_key_concurrent_use)
{
    th_diag_t d;
    thi_diag_clear(&d);
    thi_key_t *priv = gen_key(2048), *pub = NULL;
    char *pem = NULL;
    CHECK_RC(thi_key_write_public_pem(priv, &pem, &d), 0);
    CHECK_RC(thi_key_load_public(&pub, pem, strlen(pem), "shared.pub", &d), 0);

    struct shared_use u = {.priv = priv, .pub = pub};
    digest_of(u.hash, "shared");
    CHECK_RC(thi_sign(u.sig, sizeof u.sig, &u.sig_len, priv, u.hash, &d), 0);

    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        CHECK_EQ(
            pthread_create(&t[i], NULL, i < 4 ? verify_loop : sign_loop, &u),
            0);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(u.failures, 0);

    free(pem);
    thi_key_destroy(pub);
    thi_key_destroy(priv);
}

/* ------------------------------------------------------------------------ */
/* Hostile key inputs                                                        */

static void
expect_public_fail(const char *text, size_t len, int code, const char *why)
{
    th_diag_t d;
    thi_diag_clear(&d);
    thi_key_t *key = (thi_key_t *)&d;
    int rc = thi_key_load_public(&key, text, len, "k.pub", &d);
    if (rc != code)
        TH_FAIL_AT_("load_public: rc %d (%s), want %d; diag: %s", rc,
                    th_errname(rc), code, d.msg);
    CHECK(key == NULL);
    CHECK_EQ(d.code, code);
    CHECK_CONTAINS(d.msg, "k.pub: ");
    CHECK_CONTAINS(d.msg, why);
}

static void
expect_private_fail(const char *text, size_t len, int code, const char *why)
{
    th_diag_t d;
    thi_diag_clear(&d);
    thi_key_t *key = (thi_key_t *)&d;
    int rc = thi_key_load_private(&key, text, len, "k.key", &d);
    if (rc != code)
        TH_FAIL_AT_("load_private: rc %d (%s), want %d; diag: %s", rc,
                    th_errname(rc), code, d.msg);
    CHECK(key == NULL);
    CHECK_EQ(d.code, code);
    CHECK_CONTAINS(d.msg, "k.key: ");
    CHECK_CONTAINS(d.msg, why);
}

/* Loads a file the openssl CLI made into memory. */
static char *
openssl_make(const char *dir, const char *file, const char *cmd_fmt,
             size_t *len)
{
    char *p = path_in(dir, file);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, cmd_fmt, p);
    if (sh("%s", cmd) != 0)
        TH_FAIL_AT_("command failed: %s", cmd);
    char *text = th_slurp_checked(p, len);
    free(p);
    return text;
}

TH_TEST(hostile_key_text)
{
    need_openssl();
    char *dir = scratch_dir();
    size_t n_rsa, n_rsapub, n_ec, n_ecpub, n_weak, n_weakpub, n_enc;
    char *rsa =
        openssl_make(dir, "rsa.pem", "openssl genrsa -out '%s' 2048", &n_rsa);
    char *rsa_path = path_in(dir, "rsa.pem");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "openssl rsa -in '%s' -pubout -out '%%s'",
             rsa_path);
    char *rsapub = openssl_make(dir, "rsa.pub", cmd, &n_rsapub);
    char *ec = openssl_make(
        dir, "ec.pem", "openssl ecparam -name prime256v1 -genkey -out '%s'",
        &n_ec);
    char *ec_path = path_in(dir, "ec.pem");
    snprintf(cmd, sizeof cmd, "openssl ec -in '%s' -pubout -out '%%s'",
             ec_path);
    char *ecpub = openssl_make(dir, "ec.pub", cmd, &n_ecpub);
    char *weak =
        openssl_make(dir, "weak.pem", "openssl genrsa -out '%s' 1024", &n_weak);
    char *weak_path = path_in(dir, "weak.pem");
    snprintf(cmd, sizeof cmd, "openssl rsa -in '%s' -pubout -out '%%s'",
             weak_path);
    char *weakpub = openssl_make(dir, "weak.pub", cmd, &n_weakpub);
    snprintf(cmd, sizeof cmd,
             "openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pw -in '%s' "
             "-out '%%s'",
             rsa_path);
    char *enc = openssl_make(dir, "enc.pem", cmd, &n_enc);

    static const char garbage[] = "\x01\x02hello, this is not a key\xff";
    /* A public PEM cut in the middle of its base64 (END line lost), and one
     * with its END line intact but the body truncated. */
    size_t half = n_rsapub / 2;
    char body_cut[4096];
    const char *end_line = strstr(rsapub, "-----END");
    CHECK(end_line != NULL);
    size_t head = 27 + 40; /* BEGIN line + part of the first body line */
    memcpy(body_cut, rsapub, head);
    body_cut[head] = '\n';
    strcpy(body_cut + head + 1, end_line);

    /* load_public */
    expect_public_fail("", 0, TH_EFORMAT, "empty, expected a PEM public key");
    expect_public_fail("\0", 1, TH_EFORMAT, "empty");
    expect_public_fail(garbage, sizeof garbage - 1, TH_EFORMAT,
                       "not a valid PEM public key");
    expect_public_fail(rsapub, half, TH_EFORMAT,
                       "not a valid PEM public key (");
    expect_public_fail(body_cut, strlen(body_cut), TH_EFORMAT,
                       "not a valid PEM public key (");
    expect_public_fail(rsapub, 30, TH_EFORMAT, "not a valid PEM public key");
    {
        /* A NUL inside the text must not let a prefix parse. */
        char *nul = malloc(n_rsapub + 8);
        CHECK(nul != NULL);
        memcpy(nul, rsapub, n_rsapub);
        memcpy(nul + n_rsapub, "\0trail", 7);
        expect_public_fail(nul, n_rsapub + 7, TH_EFORMAT, "NUL byte");
        free(nul);
    }
    expect_public_fail(rsa, n_rsa, TH_EINVAL,
                       "contains a private key, expected a public key");
    expect_public_fail(ec, n_ec, TH_EINVAL,
                       "contains a private key, expected a public key");
    expect_public_fail(ecpub, n_ecpub, TH_EINVAL, "not an RSA key");
    expect_public_fail(weakpub, n_weakpub, TH_EINVAL,
                       "RSA key of 1024 bits is too weak (minimum 2048)");
    expect_public_fail(enc, n_enc, TH_EINVAL, "contains a private key");

    /* load_private */
    expect_private_fail("", 0, TH_EFORMAT, "empty, expected a PEM private key");
    expect_private_fail(garbage, sizeof garbage - 1, TH_EFORMAT,
                        "not a valid PEM private key");
    expect_private_fail(rsa, n_rsa / 2, TH_EFORMAT,
                        "not a valid PEM private key (");
    expect_private_fail(rsapub, n_rsapub, TH_EINVAL,
                        "contains a public key, expected a private key");
    expect_private_fail(ec, n_ec, TH_EINVAL, "not an RSA key");
    expect_private_fail(weak, n_weak, TH_EINVAL,
                        "RSA key of 1024 bits is too weak (minimum 2048)");
    expect_private_fail(enc, n_enc, TH_EINVAL, "encrypted");

    /* And the good inputs do load, so the failures above are specific. */
    th_diag_t d;
    thi_diag_clear(&d);
    thi_key_t *k = NULL;
    CHECK_RC(thi_key_load_public(&k, rsapub, n_rsapub, "k.pub", &d), 0);
    thi_key_destroy(k);
    CHECK_RC(thi_key_load_private(&k, rsa, n_rsa, "k.key", &d), 0);
    thi_key_destroy(k);

    char *bufs[] = {rsa,     rsapub, ec,       ecpub,   weak,
                    weakpub, enc,    rsa_path, ec_path, weak_path};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    scratch_remove(dir);
}

TH_TEST(hostile_key_files)
{
    th_diag_t d;
    thi_key_t *k = NULL;
    char *dir = scratch_dir();

    /* A directory. */
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_public_file(&k, dir, &d), TH_EINVAL);
    CHECK(k == NULL);
    CHECK_CONTAINS(d.msg, dir);
    CHECK_CONTAINS(d.msg, "is a directory");
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_private_file(&k, dir, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "is a directory");

    /* A FIFO with no writer: must not block. */
    char *fifo = path_in(dir, "fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_public_file(&k, fifo, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, fifo);
    CHECK_CONTAINS(d.msg, "is a FIFO");
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_private_file(&k, fifo, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "is a FIFO");

    /* A character device. */
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_public_file(&k, "/dev/null", &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "/dev/null: is a character device");

    /* Missing. */
    char *missing = path_in(dir, "missing.pem");
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_public_file(&k, missing, &d), TH_ENOENT);
    CHECK_CONTAINS(d.msg, missing);
    CHECK_CONTAINS(d.msg, "No such file");

    /* Over the size limit, and exactly at it (then refused as content). */
    char *big = path_in(dir, "big.pem");
    char *blob = malloc(THI_KEY_FILE_MAX + 1);
    CHECK(blob != NULL);
    memset(blob, 'A', THI_KEY_FILE_MAX + 1);
    spit(big, blob, THI_KEY_FILE_MAX + 1);
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_private_file(&k, big, &d), TH_ETOOBIG);
    CHECK_CONTAINS(d.msg, big);
    CHECK_CONTAINS(d.msg, "too large");
    spit(big, blob, THI_KEY_FILE_MAX);
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_private_file(&k, big, &d), TH_EFORMAT);
    CHECK_CONTAINS(d.msg, "no -----BEGIN line");

    /* An empty regular file names the path. */
    char *empty = path_in(dir, "empty.pem");
    spit(empty, "", 0);
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_public_file(&k, empty, &d), TH_EFORMAT);
    CHECK_CONTAINS(d.msg, empty);
    CHECK_CONTAINS(d.msg, "empty, expected a PEM public key");

    /* A good key through the file API, via a PEM we wrote ourselves. */
    thi_key_t *gen = gen_key(2048);
    char *pem = NULL;
    char *good = path_in(dir, "good.pem");
    thi_diag_clear(&d);
    CHECK_RC(thi_key_write_private_pem(gen, &pem, &d), 0);
    spit(good, pem, strlen(pem));
    CHECK_RC(thi_key_load_private_file(&k, good, &d), 0);
    uint8_t fa[THI_SHA256_LEN], fb[THI_SHA256_LEN];
    thi_key_fingerprint(fa, gen);
    thi_key_fingerprint(fb, k);
    CHECK(memcmp(fa, fb, sizeof fa) == 0);
    thi_key_destroy(k);
    k = NULL;
    /* ... and the private file given to the public loader. */
    thi_diag_clear(&d);
    CHECK_RC(thi_key_load_public_file(&k, good, &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, good);
    CHECK_CONTAINS(d.msg, "contains a private key, expected a public key");

    free(pem);
    thi_key_destroy(gen);
    char *bufs[] = {blob, big, empty, good, missing, fifo};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    scratch_remove(dir);
}

TH_TEST_MAIN(TH_CASE(sha256_fips_vectors),
             TH_CASE(sha256_streaming_matches_oneshot), TH_CASE(hex_encoding),
             TH_CASE(base64_round_trip), TH_CASE(keygen_sign_verify),
             TH_CASE(verify_rejects_wrong_length),
             TH_CASE(keygen_rejects_bad_sizes), TH_CASE(public_pem_round_trip),
             TH_CASE(private_pem_round_trip),
             TH_CASE(shared_key_concurrent_use), TH_CASE(openssl_interop),
             TH_CASE(hostile_key_text), TH_CASE(hostile_key_files))

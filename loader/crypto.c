/*
 * loader/crypto.c — SHA-256, RSA keys and PKCS#1 v1.5 signatures on top of
 * mbedTLS (see crypto.h). This is the only file that knows mbedTLS's key
 * and signature API and its 2.28 / 3.x differences (base/base64.c uses only
 * its base64 codec); every mbedTLS error is turned into a TH_E* code and a
 * diag that names the input here. Over 600 lines for that reason: the
 * version checks, the error mapping, the RNG and the key layout are shared
 * by key loading, generation, writing and signing, and splitting them
 * would spread mbedTLS's API over several files.
 */
#include "loader/crypto.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/version.h> /* pulls in the build configuration, 2.x and 3.x */

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>

#include "thespian/error.h"

#if !defined(MBEDTLS_VERSION_MAJOR) || MBEDTLS_VERSION_MAJOR < 2 ||            \
    MBEDTLS_VERSION_MAJOR > 3 ||                                               \
    (MBEDTLS_VERSION_MAJOR == 2 && MBEDTLS_VERSION_NUMBER < 0x021C0000)
#error "loader/crypto.c supports mbedTLS 2.28 and 3.x only"
#endif

#if !defined(MBEDTLS_RSA_C) || !defined(MBEDTLS_PKCS1_V15) ||                  \
    !defined(MBEDTLS_PK_PARSE_C) || !defined(MBEDTLS_PK_WRITE_C) ||            \
    !defined(MBEDTLS_PEM_PARSE_C) || !defined(MBEDTLS_PEM_WRITE_C) ||          \
    !defined(MBEDTLS_GENPRIME) || !defined(MBEDTLS_CTR_DRBG_C) ||              \
    !defined(MBEDTLS_ENTROPY_C)
#error "mbedTLS is built without a module loader/crypto.c needs"
#endif


/* With MBEDTLS_USE_PSA_CRYPTO, 3.x's PK layer routes through PSA and needs
 * psa_crypto_init() first (it is idempotent and thread-safe in 3.6). */
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_USE_PSA_CRYPTO)
#include <psa/crypto.h>
#define NEED_PSA_INIT 1
#endif

struct thi_key {
    mbedtls_pk_context pk;
    /* mbedTLS caches blinding values in the RSA context during a private
     * operation and only locks them when built with MBEDTLS_THREADING_C;
     * this lock makes concurrent thi_sign on one key safe either way. */
    pthread_mutex_t sign_lock;
    bool has_private;
    uint8_t fp[THI_SHA256_LEN];
    char fp_hex[2 * THI_SHA256_LEN + 1];
};

/* Personalisation for the DRBG: separates our streams from any other user
 * of the same entropy source (NIST SP 800-90A §8.7.1). */
static const char drbg_pers[] = "thespian-c loader/crypto";

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

/* mbedTLS error codes are "high-level module | low-level module"; a caller
 * that cares about one condition must look at the right half. */
static int
err_high(int ret)
{
    return -((-ret) & 0xFF80);
}

static int
err_low(int ret)
{
    return -((-ret) & 0x007F);
}

static bool
is_alloc_failure(int ret)
{
    int hi = err_high(ret), lo = err_low(ret);
    return hi == MBEDTLS_ERR_PK_ALLOC_FAILED ||
           hi == MBEDTLS_ERR_PEM_ALLOC_FAILED ||
           lo == MBEDTLS_ERR_MPI_ALLOC_FAILED ||
           lo == MBEDTLS_ERR_ASN1_ALLOC_FAILED;
}

/* Fills `buf` with mbedTLS's text for `ret`; returns `buf` for printf. */
static const char *
mbed_text(char *buf, size_t cap, int ret)
{
    mbedtls_strerror(ret, buf, cap);
    if (buf[0] == '\0')
        snprintf(buf, cap, "mbedTLS error -0x%04X", (unsigned)-ret);
    return buf;
}

static int
psa_ready(th_diag_t *d)
{
#ifdef NEED_PSA_INIT
    psa_status_t st = psa_crypto_init();
    if (st != PSA_SUCCESS)
        return thi_diag_set(d, TH_EIO, "cannot initialise PSA crypto (%d)",
                            (int)st);
#else
    (void)d;
#endif
    return 0;
}

/* A fresh DRBG per operation: cheap next to any RSA work, and it leaves no
 * shared RNG state to lock or to reseed after fork(). */
typedef struct rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
} rng_t;

static int
rng_open(rng_t *r, th_diag_t *d)
{
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    int ret = mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                                    (const unsigned char *)drbg_pers,
                                    sizeof drbg_pers - 1);
    if (ret != 0) {
        char t[128];
        mbedtls_ctr_drbg_free(&r->drbg);
        mbedtls_entropy_free(&r->entropy);
        return thi_diag_set(d, TH_EIO, "cannot seed the random generator (%s)",
                            mbed_text(t, sizeof t, ret));
    }
    return 0;
}

static void
rng_close(rng_t *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

static mbedtls_rsa_context *
key_rsa(const thi_key_t *key)
{
    return mbedtls_pk_rsa(key->pk);
}

/* 2.28's writers take a non-const context although they only read it; the
 * key was malloc'd non-const, so dropping const here is well defined. */
static mbedtls_pk_context *
key_pk(const thi_key_t *key)
{
    return (mbedtls_pk_context *)&key->pk;
}

/* ------------------------------------------------------------------------ */
/* SHA-256                                                                   */

int
thi_sha256(uint8_t out[THI_SHA256_LEN], const void *data, size_t len)
{
    assert(out != NULL && (data != NULL || len == 0));
    struct sha256_ctx c;
    sha256_init(&c);
    if (len)
        sha256_update(&c, len, data);
    sha256_digest(&c, THI_SHA256_LEN, out);
    return 0;
}

void
thi_sha256_init(thi_sha256_t *s)
{
    assert(s != NULL);
    sha256_init(&s->ctx_);
    s->err_ = 0;
}

void
thi_sha256_update(thi_sha256_t *s, const void *data, size_t len)
{
    assert(s != NULL && (data != NULL || len == 0));
    if (len)
        sha256_update(&s->ctx_, len, data);
}

int
thi_sha256_final(uint8_t out[THI_SHA256_LEN], thi_sha256_t *s)
{
    assert(out != NULL && s != NULL);
    sha256_digest(&s->ctx_, THI_SHA256_LEN, out);
    thi_sha256_fini(s);
    return 0;
}

void
thi_sha256_fini(thi_sha256_t *s)
{
    if (s != NULL)
        memset(&s->ctx_, 0, sizeof s->ctx_);
}

void
thi_hex(char *out, const uint8_t *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    assert(out != NULL && (bytes != NULL || n == 0));
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0F];
    }
    out[2 * n] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Key objects                                                               */

static int
key_alloc(thi_key_t **out, th_diag_t *d, const char *name)
{
    thi_key_t *key = calloc(1, sizeof *key);
    if (key == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", name);
    if (pthread_mutex_init(&key->sign_lock, NULL) != 0) {
        free(key);
        return thi_diag_set(d, TH_ENOMEM, "%s: cannot create a mutex", name);
    }
    mbedtls_pk_init(&key->pk);
    *out = key;
    return 0;
}

void
thi_key_destroy(thi_key_t *key)
{
    if (key == NULL)
        return;
    mbedtls_pk_free(&key->pk); /* zeroises the MPIs it frees */
    pthread_mutex_destroy(&key->sign_lock);
    free(key);
}

/* The checks every key passes before anyone sees it, whatever its origin.
 * Also fills the caches that would otherwise be written lazily during a
 * verify: that is what makes a shared key safe for concurrent verifies. */
static int
key_finish(thi_key_t *key, bool has_private, const char *name, th_diag_t *d)
{
    char t[160];
    int ret;

    if (mbedtls_pk_get_type(&key->pk) != MBEDTLS_PK_RSA)
        return thi_diag_set(d, TH_EINVAL, "%s: not an RSA key (found %s)", name,
                            mbedtls_pk_get_name(&key->pk));
    size_t bits = mbedtls_pk_get_bitlen(&key->pk);
    if (bits < THI_KEY_MIN_BITS)
        return thi_diag_set(d, TH_EINVAL,
                            "%s: RSA key of %zu bits is too weak "
                            "(minimum %u)",
                            name, bits, THI_KEY_MIN_BITS);
    if (bits > THI_KEY_MAX_BITS)
        return thi_diag_set(d, TH_EINVAL,
                            "%s: RSA key of %zu bits is too large "
                            "(maximum %u)",
                            name, bits, THI_KEY_MAX_BITS);

    mbedtls_rsa_context *rsa = key_rsa(key);
    /* e = 3 and other small exponents invite signature forgeries when a
     * verifier is lax; one exponent keeps the policy simple to audit */
    mbedtls_mpi e;
    mbedtls_mpi_init(&e);
    ret = mbedtls_rsa_export(rsa, NULL, NULL, NULL, NULL, &e);
    int e_ok = ret == 0 ? mbedtls_mpi_cmp_int(&e, THI_KEY_EXPONENT) : -1;
    mbedtls_mpi_free(&e);
    if (e_ok != 0)
        return thi_diag_set(d, TH_EINVAL,
                            "%s: RSA public exponent is not %u (weak or "
                            "unusual exponent refused)",
                            name, THI_KEY_EXPONENT);
    ret = has_private ? mbedtls_rsa_check_privkey(rsa)
                      : mbedtls_rsa_check_pubkey(rsa);
    if (ret != 0)
        return thi_diag_set(d, TH_EINVAL, "%s: inconsistent RSA %s key (%s)",
                            name, has_private ? "private" : "public",
                            mbed_text(t, sizeof t, ret));

    /* One public operation on a value below N fills the cached R^2 mod N
     * (RN); after this, public operations only read the context. */
    size_t n = mbedtls_rsa_get_len(rsa);
    unsigned char in[THI_SIG_MAX_LEN] = {0}, res[THI_SIG_MAX_LEN];
    assert(n <= sizeof in);
    in[n - 1] = 2;
    ret = mbedtls_rsa_public(rsa, in, res);
    if (ret != 0)
        return thi_diag_set(d, is_alloc_failure(ret) ? TH_ENOMEM : TH_EINVAL,
                            "%s: RSA public operation failed (%s)", name,
                            mbed_text(t, sizeof t, ret));

    /* The fingerprint is over the public DER, so a private key and its
     * public key get the same one. The writer fills the buffer's end. */
    unsigned char der[2 * THI_SIG_MAX_LEN + 128];
    ret = mbedtls_pk_write_pubkey_der(&key->pk, der, sizeof der);
    if (ret <= 0)
        return thi_diag_set(d, TH_EIO, "%s: cannot encode the public key (%s)",
                            name, mbed_text(t, sizeof t, ret));
    if (thi_sha256(key->fp, der + sizeof der - (size_t)ret, (size_t)ret) != 0)
        return thi_diag_set(d, TH_EIO, "%s: SHA-256 failed", name);
    thi_hex(key->fp_hex, key->fp, sizeof key->fp);
    key->has_private = has_private;
    return 0;
}

int
thi_key_generate(thi_key_t **out, unsigned bits, th_diag_t *d)
{
    static const char name[] = "key generation";
    char t[160];
    thi_key_t *key = NULL;
    rng_t rng;
    int rc, ret;

    assert(out != NULL);
    *out = NULL;
    if (bits < THI_KEY_MIN_BITS)
        return thi_diag_set(d, TH_EINVAL,
                            "%s: RSA key of %u bits is too weak (minimum %u)",
                            name, bits, THI_KEY_MIN_BITS);
    if (bits > THI_KEY_MAX_BITS)
        return thi_diag_set(d, TH_EINVAL,
                            "%s: RSA key of %u bits is too large (maximum %u)",
                            name, bits, THI_KEY_MAX_BITS);
    if (bits % 2 != 0) /* mbedTLS builds N from two primes of bits/2 */
        return thi_diag_set(d, TH_EINVAL,
                            "%s: RSA key size %u is odd, use an even size",
                            name, bits);
    if ((rc = psa_ready(d)) != 0)
        return rc;
    if ((rc = key_alloc(&key, d, name)) != 0)
        return rc;
    if ((rc = rng_open(&rng, d)) != 0)
        goto out_destroy_key;

    ret = mbedtls_pk_setup(&key->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
    if (ret == 0)
        ret = mbedtls_rsa_gen_key(key_rsa(key), mbedtls_ctr_drbg_random,
                                  &rng.drbg, bits, THI_KEY_EXPONENT);
    if (ret != 0) {
        rc = thi_diag_set(d, is_alloc_failure(ret) ? TH_ENOMEM : TH_EIO,
                          "%s: generating a %u-bit RSA key failed (%s)", name,
                          bits, mbed_text(t, sizeof t, ret));
        goto out_close_rng;
    }
    if ((rc = key_finish(key, true, name, d)) != 0)
        goto out_close_rng;

    rng_close(&rng);
    *out = key;
    return 0;

out_close_rng:
    rng_close(&rng);
out_destroy_key:
    thi_key_destroy(key);
    return rc;
}

/* Both PEM writers put a NUL-terminated string at the start of `buf`. */
static int
pem_dup(char **out_pem, unsigned char *buf, const char *what, th_diag_t *d)
{
    size_t n = strlen((const char *)buf);
    char *s = malloc(n + 1);
    if (s == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", what);
    memcpy(s, buf, n + 1);
    *out_pem = s;
    return 0;
}

int
thi_key_write_private_pem(const thi_key_t *key, char **out_pem, th_diag_t *d)
{
    char t[160];
    assert(key != NULL && out_pem != NULL);
    *out_pem = NULL;
    if (!key->has_private)
        return thi_diag_set(d, TH_EINVAL,
                            "key sha256:%.16s: has no private part to write",
                            key->fp_hex);

    /* PKCS#1 DER of an 8192-bit key is about 4.7 KiB, its PEM 6.4 KiB. */
    size_t cap = 16 * 1024;
    unsigned char *buf = malloc(cap);
    if (buf == NULL)
        return thi_diag_set(d, TH_ENOMEM, "writing a private key: %s",
                            "out of memory");
    int rc = 0;
    int ret = mbedtls_pk_write_key_pem(key_pk(key), buf, cap);
    if (ret != 0)
        rc = thi_diag_set(d, TH_EIO,
                          "key sha256:%.16s: cannot encode the private key "
                          "(%s)",
                          key->fp_hex, mbed_text(t, sizeof t, ret));
    else
        rc = pem_dup(out_pem, buf, "writing a private key", d);
    mbedtls_platform_zeroize(buf, cap);
    free(buf);
    return rc;
}

int
thi_key_write_public_pem(const thi_key_t *key, char **out_pem, th_diag_t *d)
{
    char t[160];
    unsigned char buf[4096]; /* 8192-bit SPKI PEM is about 1.5 KiB */

    assert(key != NULL && out_pem != NULL);
    *out_pem = NULL;
    int ret = mbedtls_pk_write_pubkey_pem(key_pk(key), buf, sizeof buf);
    if (ret != 0)
        return thi_diag_set(d, TH_EIO,
                            "key sha256:%.16s: cannot encode the public key "
                            "(%s)",
                            key->fp_hex, mbed_text(t, sizeof t, ret));
    return pem_dup(out_pem, buf, "writing a public key", d);
}

/* ------------------------------------------------------------------------ */
/* Loading keys                                                              */

/* Whether the text has a PEM BEGIN line whose label ends in "PRIVATE KEY"
 * ("RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", ...). */
static bool
pem_has_private_label(const char *text)
{
    static const char begin[] = "-----BEGIN ";
    static const char tail[] = "PRIVATE KEY-----";
    for (const char *p = strstr(text, begin); p != NULL;
         p = strstr(p + 1, begin)) {
        const char *eol = strchr(p, '\n');
        size_t line = eol ? (size_t)(eol - p) : strlen(p);
        while (line > 0 && (p[line - 1] == '\r' || p[line - 1] == ' '))
            line--;
        if (line >= sizeof begin - 1 + sizeof tail - 1 &&
            memcmp(p + line - (sizeof tail - 1), tail, sizeof tail - 1) == 0)
            return true;
    }
    return false;
}

/* Copies `len` bytes of PEM into a NUL-terminated heap string (mbedTLS
 * recognises PEM only when the length it is given includes a final NUL).
 * Rejects what cannot be PEM before mbedTLS sees it: empty input, embedded
 * NULs (mbedTLS would stop reading there) and input with no BEGIN line
 * (mbedTLS would then try DER, which this API does not accept). */
static int
pem_copy(char **out, size_t *out_len, const char *pem, size_t len,
         const char *name, const char *what, th_diag_t *d)
{
    if (len > 0 && pem[len - 1] == '\0')
        len--;
    if (len == 0)
        return thi_diag_set(d, TH_EFORMAT, "%s: empty, expected a PEM %s", name,
                            what);
    if (memchr(pem, '\0', len) != NULL)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: not a valid PEM %s (contains a NUL byte)",
                            name, what);
    char *s = malloc(len + 1);
    if (s == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", name);
    memcpy(s, pem, len);
    s[len] = '\0';
    if (strstr(s, "-----BEGIN ") == NULL) {
        mbedtls_platform_zeroize(s, len);
        free(s);
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: not a valid PEM %s (no -----BEGIN line)", name,
                            what);
    }
    *out = s;
    *out_len = len + 1;
    return 0;
}

static void
pem_free(char *s, size_t len)
{
    if (s == NULL)
        return;
    mbedtls_platform_zeroize(s, len);
    free(s);
}

/* mbedtls_pk_parse_key wants an RNG in 3.x (for blinding while it derives
 * key parts); 2.28 has no such parameter. */
static int
parse_private(mbedtls_pk_context *pk, const char *text, size_t len)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    rng_t rng;
    if (rng_open(&rng, NULL) != 0)
        return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    int ret = mbedtls_pk_parse_key(pk, (const unsigned char *)text, len, NULL,
                                   0, mbedtls_ctr_drbg_random, &rng.drbg);
    rng_close(&rng);
    return ret;
#else
    return mbedtls_pk_parse_key(pk, (const unsigned char *)text, len, NULL, 0);
#endif
}

/* Whether `text` parses as a private key (possibly encrypted): used only to
 * explain why a public-key parse failed. */
static bool
looks_private(const char *text, size_t len)
{
    if (pem_has_private_label(text))
        return true;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int ret = parse_private(&pk, text, len);
    mbedtls_pk_free(&pk);
    return ret == 0 || err_high(ret) == MBEDTLS_ERR_PK_PASSWORD_REQUIRED ||
           err_high(ret) == MBEDTLS_ERR_PK_PASSWORD_MISMATCH;
}

static bool
looks_public(const char *text, size_t len)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int ret =
        mbedtls_pk_parse_public_key(&pk, (const unsigned char *)text, len);
    mbedtls_pk_free(&pk);
    return ret == 0;
}

/* Why a key did not parse, said as what the input is when we can tell:
 * a key of the other kind here is an operator mix-up worth naming. */
static int
parse_failure(int ret, bool private, const char *text, size_t text_len,
              const char *name, th_diag_t *d)
{
    char t[160];
    int hi = err_high(ret);
    if (is_alloc_failure(ret))
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", name);
    if (private && (hi == MBEDTLS_ERR_PK_PASSWORD_REQUIRED ||
                    hi == MBEDTLS_ERR_PK_PASSWORD_MISMATCH))
        return thi_diag_set(d, TH_EINVAL,
                            "%s: private key is encrypted, only unencrypted "
                            "keys are supported",
                            name);
    if (private ? looks_public(text, text_len)
                : looks_private(text, text_len))
        return thi_diag_set(d, TH_EINVAL,
                            "%s: contains a %s key, expected a %s key", name,
                            private ? "public" : "private",
                            private ? "private" : "public");
    if (hi == MBEDTLS_ERR_PK_UNKNOWN_PK_ALG)
        return thi_diag_set(d, TH_EINVAL, "%s: not an RSA key (%s)", name,
                            mbed_text(t, sizeof t, ret));
    return thi_diag_set(d, TH_EFORMAT, "%s: not a valid PEM %s key (%s)",
                        name, private ? "private" : "public",
                        mbed_text(t, sizeof t, ret));
}

/* Both loaders: copy the PEM text, parse it as the kind asked for, check
 * the key (key_finish). */
static int
key_load(thi_key_t **out, const char *pem, size_t len, const char *name,
         bool private, th_diag_t *d)
{
    const char *what = private ? "private key" : "public key";
    char *text = NULL;
    size_t text_len = 0;
    thi_key_t *key = NULL;
    int rc;

    assert(out != NULL && (pem != NULL || len == 0));
    *out = NULL;
    if (name == NULL)
        name = what;
    if ((rc = psa_ready(d)) != 0)
        return rc;
    if ((rc = pem_copy(&text, &text_len, pem, len, name, what, d)) != 0)
        return rc;
    if ((rc = key_alloc(&key, d, name)) != 0)
        goto out_free_text;

    int ret = private ? parse_private(&key->pk, text, text_len)
                      : mbedtls_pk_parse_public_key(
                            &key->pk, (const unsigned char *)text, text_len);
    if (ret != 0) {
        rc = parse_failure(ret, private, text, text_len, name, d);
        goto out_destroy_key;
    }
    if ((rc = key_finish(key, private, name, d)) != 0)
        goto out_destroy_key;

    pem_free(text, text_len);
    *out = key;
    return 0;

out_destroy_key:
    thi_key_destroy(key);
out_free_text:
    pem_free(text, text_len);
    return rc;
}

int
thi_key_load_public(thi_key_t **out, const char *pem, size_t len,
                    const char *name, th_diag_t *d)
{
    return key_load(out, pem, len, name, false, d);
}

int
thi_key_load_private(thi_key_t **out, const char *pem, size_t len,
                     const char *name, th_diag_t *d)
{
    return key_load(out, pem, len, name, true, d);
}

static const char *
file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a regular file";
}

/* Reads a whole key file into a NUL-terminated heap buffer of *out_cap
 * bytes. O_NONBLOCK keeps open() from waiting for a writer on a FIFO; the
 * type is checked on the opened descriptor so it cannot change underneath. */
static int
read_key_file(char **out, size_t *out_len, size_t *out_cap, const char *path,
              th_diag_t *d)
{
    char eb[128];
    struct stat st;
    int rc = 0;

    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return thi_diag_set(d, e == ENOENT ? TH_ENOENT : TH_EIO,
                            "%s: cannot open: %s", path,
                            strerror_r(e, eb, sizeof eb));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        rc = thi_diag_set(d, TH_EIO, "%s: cannot stat: %s", path,
                          strerror_r(e, eb, sizeof eb));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = thi_diag_set(d, TH_EINVAL, "%s: is %s, expected a key file", path,
                          file_kind(st.st_mode));
        goto out_close;
    }
    if (st.st_size > (off_t)THI_KEY_FILE_MAX) {
        rc = thi_diag_set(d, TH_ETOOBIG,
                          "%s: file of %lld bytes is too large for a key "
                          "(maximum %u)",
                          path, (long long)st.st_size, THI_KEY_FILE_MAX);
        goto out_close;
    }

    /* One byte over the limit tells a file that grew since fstat. */
    size_t cap = THI_KEY_FILE_MAX + 2, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", path);
        goto out_close;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            rc = thi_diag_set(d, TH_EIO, "%s: read failed: %s", path,
                              strerror_r(e, eb, sizeof eb));
            goto out_free_buf;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > THI_KEY_FILE_MAX) {
            rc = thi_diag_set(d, TH_ETOOBIG,
                              "%s: file is too large for a key (maximum %u "
                              "bytes)",
                              path, THI_KEY_FILE_MAX);
            goto out_free_buf;
        }
    }
    buf[len] = '\0';
    close(fd);
    *out = buf;
    *out_len = len;
    *out_cap = cap;
    return 0;

out_free_buf:
    mbedtls_platform_zeroize(buf, cap);
    free(buf);
out_close:
    close(fd);
    return rc;
}

static int
key_load_file(thi_key_t **out, const char *path, bool private, th_diag_t *d)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    assert(out != NULL && path != NULL);
    *out = NULL;
    int rc = read_key_file(&buf, &len, &cap, path, d);
    if (rc != 0)
        return rc;
    rc = key_load(out, buf, len, path, private, d);
    pem_free(buf, cap);
    return rc;
}

int
thi_key_load_public_file(thi_key_t **out, const char *path, th_diag_t *d)
{
    return key_load_file(out, path, false, d);
}

int
thi_key_load_private_file(thi_key_t **out, const char *path, th_diag_t *d)
{
    return key_load_file(out, path, true, d);
}

unsigned
thi_key_bits(const thi_key_t *key)
{
    assert(key != NULL);
    return (unsigned)mbedtls_pk_get_bitlen(&key->pk);
}

size_t
thi_key_sig_len(const thi_key_t *key)
{
    assert(key != NULL);
    return mbedtls_rsa_get_len(key_rsa(key));
}

bool
thi_key_has_private(const thi_key_t *key)
{
    assert(key != NULL);
    return key->has_private;
}

void
thi_key_fingerprint(uint8_t out[THI_SHA256_LEN], const thi_key_t *key)
{
    assert(out != NULL && key != NULL);
    memcpy(out, key->fp, THI_SHA256_LEN);
}

/* ------------------------------------------------------------------------ */
/* Signatures                                                                */

int
thi_sign(uint8_t *sig, size_t sig_cap, size_t *sig_len, const thi_key_t *priv,
         const uint8_t hash[THI_SHA256_LEN], th_diag_t *d)
{
    char t[160];
    rng_t rng;
    int rc;

    assert(sig != NULL && sig_len != NULL && priv != NULL && hash != NULL);
    *sig_len = 0;
    if (!priv->has_private)
        return thi_diag_set(d, TH_EINVAL,
                            "key sha256:%.16s: is a public key, cannot sign",
                            priv->fp_hex);
    size_t n = thi_key_sig_len(priv);
    if (sig_cap < n)
        return thi_diag_set(d, TH_EINVAL,
                            "key sha256:%.16s: signature buffer of %zu bytes "
                            "is too small (need %zu)",
                            priv->fp_hex, sig_cap, n);
    if ((rc = psa_ready(d)) != 0)
        return rc;
    if ((rc = rng_open(&rng, d)) != 0)
        return rc;

    /* The explicit v1.5 function, not mbedtls_rsa_pkcs1_sign: the padding
     * is then fixed here and not taken from the context's setting. The
     * key's own lock guards the blinding state mbedTLS updates. */
    mbedtls_rsa_context *rsa = key_rsa(priv);
    thi_key_t *mut = (thi_key_t *)priv;
    pthread_mutex_lock(&mut->sign_lock);
#if MBEDTLS_VERSION_MAJOR >= 3
    int ret = mbedtls_rsa_rsassa_pkcs1_v15_sign(rsa, mbedtls_ctr_drbg_random,
                                                &rng.drbg, MBEDTLS_MD_SHA256,
                                                THI_SHA256_LEN, hash, sig);
#else
    int ret = mbedtls_rsa_rsassa_pkcs1_v15_sign(
        rsa, mbedtls_ctr_drbg_random, &rng.drbg, MBEDTLS_RSA_PRIVATE,
        MBEDTLS_MD_SHA256, THI_SHA256_LEN, hash, sig);
#endif
    pthread_mutex_unlock(&mut->sign_lock);
    rng_close(&rng);
    if (ret != 0) {
        memset(sig, 0, n);
        return thi_diag_set(d, is_alloc_failure(ret) ? TH_ENOMEM : TH_EIO,
                            "key sha256:%.16s: RSA signing failed (%s)",
                            priv->fp_hex, mbed_text(t, sizeof t, ret));
    }
    *sig_len = n;
    return 0;
}

int
thi_verify(const thi_key_t *pub, const uint8_t hash[THI_SHA256_LEN],
           const uint8_t *sig, size_t sig_len, th_diag_t *d)
{
    char t[160];
    int rc;

    assert(pub != NULL && hash != NULL && (sig != NULL || sig_len == 0));
    /* mbedTLS reads exactly modulus-length bytes from `sig`: any other
     * length would be an over-read or a silently ignored tail. */
    size_t n = thi_key_sig_len(pub);
    if (sig_len != n)
        return thi_diag_set(d, TH_EBADSIG,
                            "signature of %zu bytes does not fit key "
                            "sha256:%.16s (%u-bit RSA, expected %zu bytes)",
                            sig_len, pub->fp_hex, thi_key_bits(pub), n);
    if ((rc = psa_ready(d)) != 0)
        return rc;

    mbedtls_rsa_context *rsa = key_rsa(pub);
#if MBEDTLS_VERSION_MAJOR >= 3
    int ret = mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, MBEDTLS_MD_SHA256,
                                                  THI_SHA256_LEN, hash, sig);
#else
    int ret = mbedtls_rsa_rsassa_pkcs1_v15_verify(
        rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256, THI_SHA256_LEN,
        hash, sig);
#endif
    if (ret == 0)
        return 0;
    if (is_alloc_failure(ret))
        return thi_diag_set(d, TH_ENOMEM,
                            "verifying with key sha256:%.16s: out of memory",
                            pub->fp_hex);
    return thi_diag_set(d, TH_EBADSIG,
                        "signature does not verify with key sha256:%.16s (%s)",
                        pub->fp_hex, mbed_text(t, sizeof t, ret));
}

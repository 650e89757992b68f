/*
 * director/cli_keygen.c — `thespian keygen`: an RSA key pair for signing
 * bundles (NAME.pem, NAME_tls.key), or with --admin a CurveZMQ key pair
 * for a client of the admin endpoint (NAME.key, NAME.pub; proto/curve.c,
 * docs/security.md). Needs no running host.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "loader/crypto.h"
#include "loader/plugin.h"
#include "proto/curve.h"

/* `keygen --admin NAME`: DIR/NAME.key and DIR/NAME.pub, a CurveZMQ key
 * pair for a client of the admin endpoint. */
static int
admin_keygen(const cli_cmd_t *cmd, const char *name, const char *dir,
             bool as_json)
{
    if (!thi_plugin_valid_name(name))
        return cli_usage_error(
            cmd, "key name \"%s\" must be 1-64 of A-Z a-z 0-9 _", name);
    char sec[THI_CURVE_PATH + 80], pub[THI_CURVE_PATH + 80];
    snprintf(sec, sizeof sec, "%.4000s/%s.key", dir, name);
    snprintf(pub, sizeof pub, "%.4000s/%s.pub", dir, name);
    if (access(sec, F_OK) == 0 || access(pub, F_OK) == 0)
        return cli_fail(cmd, "%s or %s exists already: not overwritten", sec,
                        pub);
    thi_curve_key_t k;
    char why[THI_CURVE_WHY];
    int rc = thi_curve_keygen(&k, why);
    if (rc == 0)
        rc = thi_curve_write_secret(sec, &k, why);
    if (rc == 0 && (rc = thi_curve_write_public(pub, k.pub, name, why)) != 0)
        unlink(sec);
    explicit_bzero(k.sec, sizeof k.sec);
    if (rc != 0)
        return cli_fail(cmd, "%s", why);
    if (as_json)
        return cli_json_result(cmd, json_pack("{s:s, s:s, s:s, s:s}", "kind",
                                              "curve", "secret", sec,
                                              "public", pub, "key", k.pub));
    printf("secret key: %s (keep it secret; use it with --admin-key or "
           "$THESPIAN_ADMIN_KEY)\npublic key: %s (allow it on the host: "
           "thespian allow %s)\nkey:        %s\n",
           sec, pub, pub, k.pub);
    return CLI_OK;
}

static int
write_new(const char *path, const char *text, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return -e;
        }
        off += (size_t)w;
    }
    return close(fd) == 0 ? 0 : -errno;
}

static int
run_keygen(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_keygen;
    const char *bits_s = NULL, *dir = ".";
    bool admin = false, as_json = false;
    cli_opt_t opts[] = {{"bits", CLI_STRING, &bits_s},
                        {"dir", CLI_STRING, &dir},
                        {"admin", CLI_FLAG, &admin},
                        {"json", CLI_FLAG, &as_json},
                        {NULL, CLI_FLAG, NULL}};
    const char *pos[1];
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 1, 1, &n, &done))
        return done;
    if (admin) /* a CurveZMQ key pair for the admin endpoint */
        return bits_s ? cli_usage_error(cmd, "--bits is for RSA keys, not "
                                             "--admin keys")
                      : admin_keygen(cmd, pos[0], dir, as_json);
    unsigned bits = 3072;
    if (bits_s) {
        char *end;
        unsigned long b = strtoul(bits_s, &end, 10);
        if (*end || b < THI_KEY_MIN_BITS || b > THI_KEY_MAX_BITS)
            return cli_usage_error(cmd, "--bits must be %d to %d",
                                   THI_KEY_MIN_BITS, THI_KEY_MAX_BITS);
        bits = (unsigned)b;
    }
    if (!thi_plugin_valid_name(pos[0]))
        return cli_usage_error(cmd,
                               "key name \"%s\" must be 1-64 of A-Z a-z 0-9 _",
                               pos[0]);
    char priv[4200], pub[4200];
    snprintf(priv, sizeof priv, "%s/%s.pem", dir, pos[0]);
    snprintf(pub, sizeof pub, "%s/%s_tls.key", dir, pos[0]);
    if (access(priv, F_OK) == 0 || access(pub, F_OK) == 0)
        return cli_fail(cmd, "%s or %s exists already: not overwritten", priv,
                        pub);
    thi_key_t *key = NULL;
    th_diag_t d = {0};
    char *priv_pem = NULL, *pub_pem = NULL;
    int rc = thi_key_generate(&key, bits, &d);
    if (rc == 0)
        rc = thi_key_write_private_pem(key, &priv_pem, &d);
    if (rc == 0)
        rc = thi_key_write_public_pem(key, &pub_pem, &d);
    if (rc != 0) {
        thi_key_destroy(key);
        return cli_fail(cmd, "%s", d.msg);
    }
    int e = write_new(priv, priv_pem, 0600);
    if (e == 0 && (e = write_new(pub, pub_pem, 0644)) != 0)
        unlink(priv);
    uint8_t fp[32];
    char hex[65];
    thi_key_fingerprint(fp, key);
    thi_hex(hex, fp, 32);
    thi_key_destroy(key);
    free(priv_pem);
    free(pub_pem);
    if (e != 0)
        return cli_fail(cmd, "cannot write the key files in %s: %s", dir,
                        strerror(-e));
    if (as_json)
        return cli_json_result(cmd, json_pack("{s:s, s:s, s:s, s:s, s:i}",
                                              "kind", "rsa", "private", priv,
                                              "public", pub, "fingerprint",
                                              hex, "bits", (int)bits));
    printf("private key: %s (keep it secret)\npublic key:  %s (copy it into "
           "each host's director directory)\nfingerprint: sha256:%s\n",
           priv, pub, hex);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_keygen = {
    "keygen", "make an RSA key pair for signing bundles",
    "usage: thespian keygen NAME [--bits N] [--dir DIR] [--json]\n"
    "       thespian keygen --admin NAME [--dir DIR] [--json]\n"
    "Write NAME.pem (the private key, mode 0600) and NAME_tls.key (the\n"
    "public key) in DIR (default: the current directory). RSA, e = 65537,\n"
    "3072 bits unless --bits says otherwise (2048-8192). Existing files are\n"
    "never overwritten. Public keys go into the director directory of every\n"
    "host that should accept code signed with NAME.pem.\n"
    "With --admin: a CurveZMQ key pair for talking to a host's admin\n"
    "endpoint instead, NAME.key (secret, 0600) and NAME.pub; allow NAME.pub\n"
    "on the host with `thespian allow` and use NAME.key with --admin-key\n"
    "or $THESPIAN_ADMIN_KEY (docs/security.md).\n"
    "--json: {\"kind\": \"rsa\", \"private\", \"public\", \"fingerprint\",\n"
    "\"bits\"}; with --admin {\"kind\": \"curve\", \"secret\", \"public\",\n"
    "\"key\"} (the public key, Z85).\n",
    run_keygen,
};

/*
 * sdk/src/client_ops.c — the admin operations of a client context, each
 * one request and its result: create an actor, look up a global name,
 * update a capability, status, shutdown, load and unload a signed bundle,
 * the loaded sources, reload the trusted keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdk/src/client_int.h"

static int
addr_from_result(th_client_t *c, th_addr_t *out, json_t *res, const char *what)
{
    const char *a = json_string_value(json_object_get(res, "addr"));
    if (a == NULL || thi_wire_addr_parse(out, a) != 0)
        return thi_client_fail(c, TH_EFORMAT, "%s: the host sent a malformed address",
                    what);
    return 0;
}

TH_API int
th_client_create(th_client_t *c, th_addr_t *out, const char *class_name,
                 const th_client_create_opts_t *opts)
{
    thi_client_check(c);
    c->err[0] = '\0';
    char what[160];
    snprintf(what, sizeof what, "create %.100s", class_name ? class_name : "");
    if (out == NULL || class_name == NULL || class_name[0] == '\0' ||
        strlen(class_name) > 2 * TH_NAME_MAX)
        return thi_client_fail(c, TH_EINVAL, "%s: the class name must be PLUGIN.CLASS",
                    what);
    if (opts && opts->size < sizeof(th_client_create_opts_t))
        return thi_client_fail(c, TH_EINVAL, "%s: opts->size not set", what);
    json_t *hdr = json_pack("{s:s, s:s}", "op", "create", "class", class_name);
    if (hdr && opts && opts->global_name)
        json_object_set_new(hdr, "global_name", json_string(opts->global_name));
    if (hdr && opts && opts->source_hash)
        json_object_set_new(hdr, "source_hash", json_string(opts->source_hash));
    if (hdr && opts && opts->requirements_json) {
        json_error_t jerr;
        json_t *req =
            json_loads(opts->requirements_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(req)) {
            json_decref(req);
            json_decref(hdr);
            return thi_client_fail(c, TH_EINVAL,
                        "%s: requirements must be a JSON object (%s)", what,
                        req ? "not an object" : jerr.text);
        }
        json_object_set_new(hdr, "requirements", req);
    }
    json_t *res = NULL;
    int rc = thi_client_request(c, hdr, NULL, 0, -1, &res, what);
    if (rc == 0)
        rc = addr_from_result(c, out, res, what);
    json_decref(res);
    return rc;
}

TH_API int
th_client_lookup(th_client_t *c, th_addr_t *out, const char *global_name)
{
    thi_client_check(c);
    c->err[0] = '\0';
    if (out == NULL || global_name == NULL || global_name[0] == '\0')
        return thi_client_fail(c, TH_EINVAL, "lookup: a global name is required");
    char what[300];
    snprintf(what, sizeof what, "lookup %.255s", global_name);
    json_t *res = NULL;
    int rc =
        thi_client_request(c, json_pack("{s:s, s:s}", "op", "lookup", "name", global_name),
                NULL, 0, -1, &res, what);
    if (rc == 0)
        rc = addr_from_result(c, out, res, what);
    json_decref(res);
    return rc;
}

TH_API int
th_client_update_capability(th_client_t *c, const char *name,
                            const char *value_json)
{
    thi_client_check(c);
    c->err[0] = '\0';
    if (name == NULL || name[0] == '\0' || strlen(name) > 255)
        return thi_client_fail(c, TH_EINVAL,
                    "updateCapability: the name must be 1..255 bytes");
    json_t *value = json_null();
    if (value_json) {
        json_error_t jerr;
        value = json_loads(value_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                           &jerr);
        if (value == NULL)
            return thi_client_fail(c, TH_EINVAL,
                        "updateCapability %.255s: the value is not JSON: %s",
                        name, jerr.text);
    }
    char what[300];
    snprintf(what, sizeof what, "updateCapability %.255s", name);
    json_t *hdr = json_pack("{s:s, s:s, s:o}", "op", "update_capability",
                            "name", name, "value", value);
    return thi_client_request(c, hdr, NULL, 0, -1, NULL, what);
}

/* A request whose answer is a text payload (status, sources): *out gets
 * it, NUL-terminated by take_frame, returned owned. */
static int
request_text(th_client_t *c, const char *op, const char *missing, char **out)
{
    thi_client_check(c);
    c->err[0] = '\0';
    if (out == NULL)
        return thi_client_fail(c, TH_EINVAL, "%s: NULL out", op);
    int rc = thi_client_request(c, json_pack("{s:s}", "op", op), NULL, 0, -1, NULL, op);
    if (rc != 0)
        return rc;
    if (c->result_payload == NULL)
        return thi_client_fail(c, TH_EFORMAT, "%s: the host sent no %s", op, missing);
    *out = (char *)c->result_payload;
    c->result_payload = NULL;
    c->result_payload_len = 0;
    return 0;
}

TH_API int
th_client_status(th_client_t *c, char **out)
{
    return request_text(c, "status", "status body", out);
}

TH_API int
th_client_shutdown(th_client_t *c, int timeout_ms)
{
    thi_client_check(c);
    c->err[0] = '\0';
    int rc = thi_client_request(c, json_pack("{s:s}", "op", "shutdown"), NULL, 0,
                     timeout_ms, NULL, "shutdown");
    if (rc == 0) {
        c->broken = TH_ECLOSED;
        snprintf(c->err, sizeof c->err, "the host at %s has shut down",
                 c->sh->endpoint);
    }
    return rc;
}

static int
load_bundle(th_client_t *c, char hash_out[65], const char *bundle_path,
            bool allow_rollback)
{
    thi_client_check(c);
    c->err[0] = '\0';
    if (bundle_path == NULL || hash_out == NULL)
        return thi_client_fail(c, TH_EINVAL, "load: a bundle path is required");
    char what[300];
    snprintf(what, sizeof what, "load %.255s", bundle_path);
    /* O_NONBLOCK and a type check: a FIFO here must not hang us */
    int fd = open(bundle_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return thi_client_fail(c, TH_EIO, "%s: %s", what, strerror(errno));
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (f = fdopen(fd, "rb")) == NULL) {
        close(fd);
        return thi_client_fail(c, TH_EIO, "%s: not a regular file", what);
    }
    size_t cap = c->max_payload, len = 0;
    unsigned char *buf = malloc(cap ? cap : 1);
    if (buf == NULL) {
        fclose(f);
        return thi_client_fail(c, TH_ENOMEM, "%s: no memory", what);
    }
    len = fread(buf, 1, cap, f);
    bool more = fgetc(f) != EOF, bad = ferror(f) != 0;
    fclose(f);
    if (bad || more) {
        free(buf);
        return thi_client_fail(c, bad ? TH_EIO : TH_ETOOBIG,
                    bad ? "%s: read error"
                        : "%s: larger than the host's "
                          "payload limit",
                    what);
    }
    json_t *res = NULL;
    /* the host answers once its Source Authority has (up to 10 s) */
    int rc = thi_client_request(c,
                     json_pack("{s:s, s:b}", "op", "load", "allow_rollback",
                               allow_rollback),
                     buf, len, 30000, &res, what);
    free(buf);
    if (rc == 0) {
        const char *h = json_string_value(json_object_get(res, "source_hash"));
        if (h == NULL || strlen(h) != 64)
            rc = thi_client_fail(c, TH_EFORMAT, "%s: the host sent no source hash", what);
        else
            memcpy(hash_out, h, 65);
    }
    json_decref(res);
    return rc;
}

TH_API int
th_client_load(th_client_t *c, char hash_out[65], const char *bundle_path)
{
    return load_bundle(c, hash_out, bundle_path, false);
}

TH_API int
th_client_load_rollback(th_client_t *c, char hash_out[65],
                        const char *bundle_path)
{
    return load_bundle(c, hash_out, bundle_path, true);
}

TH_API int
th_client_sources(th_client_t *c, char **out)
{
    return request_text(c, "sources", "list", out);
}

TH_API int
th_client_reload_keys(th_client_t *c, char **out)
{
    return request_text(c, "reload_keys", "key listing", out);
}

TH_API int
th_client_unload(th_client_t *c, const char *source_hash)
{
    thi_client_check(c);
    c->err[0] = '\0';
    if (source_hash == NULL || source_hash[0] == '\0')
        return thi_client_fail(c, TH_EINVAL, "unload: a source hash is required");
    char what[120];
    snprintf(what, sizeof what, "unload %.64s", source_hash);
    return thi_client_request(
        c, json_pack("{s:s, s:s}", "op", "unload", "source_hash", source_hash),
        NULL, 0, -1, NULL, what);
}

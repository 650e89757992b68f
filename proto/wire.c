/*
 * proto/wire.c — frame prefix checks, address text, message-type rules
 * and the endpoint discovery rule of the admin protocol (docs/protocol.md,
 * docs/cli.md). Pure functions: the client library and the host's admin
 * endpoint both link this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/wire.h"

/* ---- Frames -----------------------------------------------------------------
 */

enum thi_wire_bad
thi_wire_split(thi_wire_frame_t *out, const void *frame, size_t len)
{
    const unsigned char *p = frame;
    memset(out, 0, sizeof *out);
    if (len >= 1 && p[0] != TH_WIRE_MAGIC0)
        return THI_WIRE_GARBAGE;
    if (len >= 2 && p[1] != TH_WIRE_MAGIC1)
        return THI_WIRE_GARBAGE;
    if (len < TH_WIRE_PREFIX)
        return len == 0 ? THI_WIRE_GARBAGE : THI_WIRE_TRUNCATED;
    out->version = p[2];
    if (p[2] != TH_WIRE_VERSION)
        return THI_WIRE_VERSION_UNKNOWN;
    if (p[3] != 0)
        return THI_WIRE_FLAGS;
    uint32_t h = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
                 (uint32_t)p[6] << 8 | (uint32_t)p[7];
    if (h == 0 || h > TH_WIRE_HEADER_MAX)
        return THI_WIRE_HEADER_SIZE;
    if (h > len - TH_WIRE_PREFIX)
        return THI_WIRE_TRUNCATED;
    out->hdr = (const char *)p + TH_WIRE_PREFIX;
    out->hdr_len = h;
    out->payload = p + TH_WIRE_PREFIX + h;
    out->payload_len = len - TH_WIRE_PREFIX - h;
    return THI_WIRE_OK;
}

const char *
thi_wire_bad_text(enum thi_wire_bad why)
{
    switch (why) {
    case THI_WIRE_OK:
        return "ok";
    case THI_WIRE_TRUNCATED:
        return "truncated frame";
    case THI_WIRE_GARBAGE:
        return "not a thespian frame (bad magic)";
    case THI_WIRE_VERSION_UNKNOWN:
        return "unknown protocol version";
    case THI_WIRE_FLAGS:
        return "undefined flags set";
    case THI_WIRE_HEADER_SIZE:
        return "header length out of range";
    }
    return "unknown reason";
}

void
thi_wire_prefix(unsigned char out[TH_WIRE_PREFIX], size_t hdr_len)
{
    out[0] = TH_WIRE_MAGIC0;
    out[1] = TH_WIRE_MAGIC1;
    out[2] = TH_WIRE_VERSION;
    out[3] = 0;
    out[4] = (unsigned char)(hdr_len >> 24);
    out[5] = (unsigned char)(hdr_len >> 16);
    out[6] = (unsigned char)(hdr_len >> 8);
    out[7] = (unsigned char)hdr_len;
}

/* ---- Addresses ----------------------------------------------------------- */

int
thi_wire_addr_format(const th_addr_t *addr, char *buf, size_t size)
{
    if (buf == NULL || addr == NULL || size < TH_ADDR_STRLEN)
        return TH_EINVAL;
    if (th_addr_is_null(addr)) {
        snprintf(buf, size, "th1:none");
        return 0;
    }
    if (addr->opaque[1] > UINT32_MAX) { /* no slot has such an id: forged */
        snprintf(buf, size, "th1:invalid");
        return 0;
    }
    /* by hand: the runtime prints one for every ChildActorExited */
    static const char hex[] = "0123456789abcdef";
    char *p = buf;
    memcpy(p, "th1:", 4);
    p += 4;
    for (int i = 60; i >= 0; i -= 4)
        *p++ = hex[(addr->opaque[0] >> i) & 15];
    *p++ = ':';
    char dec[24];
    int n = 0;
    uint64_t id = addr->opaque[1];
    do
        dec[n++] = (char)('0' + id % 10);
    while ((id /= 10) != 0);
    while (n > 0)
        *p++ = dec[--n];
    *p++ = ':';
    for (int i = 60; i >= 0; i -= 4)
        *p++ = hex[(addr->opaque[2] >> i) & 15];
    *p = '\0';
    return 0;
}

static bool
hex16(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

int
thi_wire_addr_parse(th_addr_t *out, const char *text)
{
    if (out == NULL || text == NULL)
        return TH_EADDR;
    if (strcmp(text, "th1:none") == 0) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    if (strncmp(text, "th1:", 4) != 0 || strlen(text) >= TH_ADDR_STRLEN)
        return TH_EADDR;
    th_addr_t a;
    const char *p = text + 4;
    if (!hex16(p, &a.opaque[0]) || p[16] != ':')
        return TH_EADDR;
    p += 17;
    uint64_t id = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 10) {
        id = id * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || *p != ':' || id > UINT32_MAX)
        return TH_EADDR;
    a.opaque[1] = id;
    p++;
    if (!hex16(p, &a.opaque[2]) || p[16] != '\0' || a.opaque[2] == 0)
        return TH_EADDR;
    *out = a;
    return 0;
}

/* ---- Message types ------------------------------------------------------- */

bool
thi_wire_type_valid(const char *type)
{
    size_t n = 0;
    if (type == NULL)
        return false;
    for (; type[n]; n++) {
        unsigned char c = (unsigned char)type[n];
        if (n >= TH_NAME_MAX - 1)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
              c == '-'))
            return false;
    }
    return n > 0;
}

/* The one list of reserved types (actor.h's TH_MSG_RUNTIME_TYPES), with
 * the runtime's private envelope name: the host's interning (who may send
 * what from an actor) and the send checks of the host's admin endpoint and
 * the client library all read this table. */
static const struct {
    const char *name;
    unsigned senders;
} runtime_types[] = {
#define RUNTIME_TYPE(name, senders) {name, senders},
    TH_MSG_RUNTIME_TYPES(RUNTIME_TYPE)
#undef RUNTIME_TYPE
    {"th.internal", TH_MSG_BY_RUNTIME},
};

const char *
thi_wire_runtime_type(size_t i, unsigned *senders)
{
    if (i >= sizeof runtime_types / sizeof runtime_types[0])
        return NULL;
    *senders = runtime_types[i].senders;
    return runtime_types[i].name;
}

int
thi_wire_type_senders(const char *type)
{
    for (size_t i = 0; i < sizeof runtime_types / sizeof runtime_types[0];
         i++)
        if (strcmp(type, runtime_types[i].name) == 0)
            return (int)runtime_types[i].senders;
    return -1;
}

bool
thi_wire_type_is_runtime(const char *type)
{
    return thi_wire_type_senders(type) >= 0;
}

bool
thi_wire_type_reserved(const char *type)
{
    int s = thi_wire_type_senders(type);
    return s >= 0 && !(s & TH_MSG_BY_OUTSIDE);
}

bool
thi_wire_type_passes(const char *type)
{
    if (!thi_wire_type_is_runtime(type))
        return true;
    return strcmp(type, TH_MSG_POISON) == 0 ||
           strcmp(type, TH_MSG_SYSTEM_STATUS) == 0 ||
           strcmp(type, TH_MSG_ACTOR_STATUS) == 0;
}

/* ---- Endpoints ----------------------------------------------------------- */

bool
thi_wire_endpoint_valid(const char *ep)
{
    if (ep == NULL)
        return false;
    size_t n = strlen(ep);
    if (n >= TH_WIRE_ENDPOINT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ep[i] <= 0x20 || ep[i] == 0x7f)
            return false;
    if (strncmp(ep, "ipc://", 6) == 0)
        return n > 6;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr(ep + 6, ':');
    if (colon == NULL || colon == ep + 6 || colon[1] == '\0')
        return false;
    /* a port number or "*" (bind to any free port) */
    if (strcmp(colon + 1, "*") == 0)
        return true;
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

static void
put(char *dst, size_t size, const char *fmt, const char *a, const char *b)
{
    if (dst)
        snprintf(dst, size, fmt, a, b ? b : "");
}

/* Read a director directory's endpoint file `name`: adminendpoint.cfg
 * holds a JSON string endpoint or a JSON integer port; Thespian's
 * adminport.cfg (port_only) holds a port. Returns 1 when the file exists
 * and was used, 0 when there is none, negative on a bad file. */
static int
endpoint_from_cfg(char *buf, const char *dir, const char *name,
                  bool port_only, char *source, char *why)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >=
        (int)sizeof path) {
        put(why, 512, "%.300s%s: $THESPIAN_DIRECTOR_DIR is too long", dir,
            NULL);
        return TH_EINVAL;
    }
    /* O_NONBLOCK and a type check: a FIFO here must not hang a client */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (why)
            snprintf(why, 512, "%.380s: %s", path, strerror(errno));
        return TH_EIO;
    }
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (f = fdopen(fd, "r")) == NULL) {
        close(fd);
        put(why, 512, "%.300s: not a regular file%s", path, NULL);
        return TH_EIO;
    }
    json_error_t jerr;
    /* a config file is one small JSON value: refuse anything large */
    char text[1024];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    if (n == sizeof text) {
        put(why, 512, "%.300s: larger than 1023 bytes%s", path, NULL);
        return TH_EFORMAT;
    }
    json_t *v =
        json_loadb(text, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        if (why)
            snprintf(why, 512, "%.300s: not JSON: %.160s", path, jerr.text);
        return TH_EFORMAT;
    }
    int rc = 1;
    if (json_is_string(v) && !port_only) {
        const char *s = json_string_value(v);
        if (!thi_wire_endpoint_valid(s)) {
            put(why, 512,
                "%.300s: \"%.150s\" is not a tcp://HOST:PORT or ipc://PATH "
                "endpoint",
                path, s);
            rc = TH_EINVAL;
        } else {
            snprintf(buf, TH_WIRE_ENDPOINT_MAX, "%s", s);
        }
    } else if (json_is_integer(v) && json_integer_value(v) >= 1 &&
               json_integer_value(v) <= 65535) {
        snprintf(buf, TH_WIRE_ENDPOINT_MAX, "tcp://127.0.0.1:%d",
                 (int)json_integer_value(v));
    } else {
        put(why, 512,
            port_only ? "%.300s: want a port number 1..65535%s"
                      : "%.300s: want a JSON string endpoint or an integer "
                        "port 1..65535%s",
            path, NULL);
        rc = TH_EINVAL;
    }
    json_decref(v);
    if (rc == 1 && source)
        snprintf(source, 300, "%.299s", path);
    return rc;
}

/* An endpoint named by an option or a variable (`label`): used when it is
 * well formed. */
static int
take_endpoint(char *buf, const char *value, const char *label, char *source,
              char *why)
{
    if (!thi_wire_endpoint_valid(value)) {
        if (why)
            snprintf(why, 512,
                     "%s \"%.300s\": not a tcp://HOST:PORT or ipc://PATH "
                     "endpoint",
                     label, value);
        return TH_EINVAL;
    }
    snprintf(buf, TH_WIRE_ENDPOINT_MAX, "%s", value);
    put(source, 300, "%s%s", label, NULL);
    return 0;
}

int
thi_wire_endpoint_resolve(char *buf, const char *explicit_ep, char *source,
                          char *why)
{
    if (why)
        why[0] = '\0';
    if (explicit_ep && *explicit_ep)
        return take_endpoint(buf, explicit_ep, "--endpoint", source, why);
    const char *env = getenv("THESPIAN_ENDPOINT");
    if (env && *env)
        return take_endpoint(buf, env, "$THESPIAN_ENDPOINT", source, why);
    const char *dir = getenv("THESPIAN_DIRECTOR_DIR");
    if (dir && *dir) {
        int rc = endpoint_from_cfg(buf, dir, TH_WIRE_ENDPOINT_CFG, false,
                                   source, why);
        /* Thespian's own file, when ours is not there */
        if (rc == 0)
            rc = endpoint_from_cfg(buf, dir, TH_WIRE_PORT_CFG, true, source,
                                   why);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return 0;
    }
    snprintf(buf, TH_WIRE_ENDPOINT_MAX, "%s", TH_WIRE_DEFAULT_ENDPOINT);
    put(source, 300, "default%s%s", "", NULL);
    return 0;
}

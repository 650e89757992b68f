/*
 * tests/unit/sdk/hdr_json.c — compiled with strict ISO C11 flags (see
 * meson.build) and including only thespian/json.h (which brings jansson.h
 * and actor.h), so the build fails if that header stops compiling on its
 * own. The probe parses a payload with th_msg_json.
 */
#include "thespian/json.h"

long long thi_hdr_json_probe(const char *payload);

/* Value of "n" in the JSON object `payload`; -1 when th_msg_json refuses
 * the payload, -2 when there is no integer "n". */
long long
thi_hdr_json_probe(const char *payload)
{
    size_t len = 0; /* no <string.h>: this file includes one header only */
    while (payload[len] != '\0')
        len++;
    th_msg_t msg = {.type = "Probe", .data = payload, .len = len};
    json_t *v = th_msg_json(&msg);
    if (v == NULL)
        return -1;
    json_t *n = json_object_get(v, "n");
    long long out = json_is_integer(n) ? (long long)json_integer_value(n) : -2;
    json_decref(v);
    return out;
}

/*
 * tests/plugins/abi10.c — abi10.so: a plugin as ABI 1.0 built it. Its
 * descriptor says minor 0 and its class says size 80 (the 1.0 th_class_t),
 * while the bytes after those 80 — the 1.1 fields — hold values a 1.1 host
 * would refuse (a troupe of 0 members, unknown flags). A host that honours
 * `size` loads it and runs its actor; one that reads past it refuses it.
 */
#include <stddef.h>
#include <string.h>

#include "probe_class.h"

static int
old_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (strcmp(msg->type, "ping") == 0)
        return th_reply(ctx, msg, "pong", msg->data, msg->len);
    return 0;
}

static const th_class_t old_class = {
    .size = 80, /* sizeof(th_class_t) in ABI 1.0 */
    .name = "Old",
    .receive = old_receive,
    /* past the 1.0 size: never read */
    .flags = 0, /* 1.0: reserved, 0 */
    .troupe_max = 0,
    .troupe_idle = 7,
    .n_requires = 99,
};
_Static_assert(offsetof(th_class_t, capability_check) == 80,
               "the 1.1 fields start after the 1.0 size");

static const th_class_t *const old_classes[] = {&old_class};

PROBE_EXPORT const th_plugin_t th_plugin_v1 = {
    .magic = TH_PLUGIN_MAGIC,
    .abi_major = 1,
    .abi_minor = 0,
    .size = (uint32_t)sizeof(th_plugin_t),
    .n_classes = 1,
    .name = "abi10",
    .classes = old_classes,
};

/*
 * tests/plugins/tlshog.c — tlshog.so: a plugin whose initial-exec
 * thread-local block is far larger than the static TLS a process keeps
 * for objects loaded later, so mapping it fails with the dynamic linker's
 * "cannot allocate memory in static TLS block": a resource of the process
 * exhausted, which the host must report as a named limit (TH_ELIMIT).
 */
#include "thespian/actor.h"

static __thread char hog[1 << 20] __attribute__((tls_model("initial-exec")));

static int
hog_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    hog[msg->len % sizeof hog]++; /* keeps the block referenced */
    return 0;
}

static const th_class_t hog_class = {
    .size = sizeof(th_class_t), .name = "Hog", .receive = hog_receive,
};

TH_PLUGIN_DEFINE(tlshog, &hog_class);

/*
 * tests/plugins/gnu_unique.c — a well-formed plugin that also defines an
 * STB_GNU_UNIQUE object, as GCC makes for C++ inline or template static
 * data. Once the dynamic linker binds to such a symbol it keeps the object
 * mapped for good, so the ELF policy must refuse it (gensrc and the host
 * alike). C has no way to ask for the binding, so the object is written in
 * assembly (`.type NAME, @gnu_unique_object`); receive uses it, so its
 * relocation binds to it as C++ code would.
 */
#include "thespian/actor.h"

__asm__(".pushsection .data\n"
        ".globl th_test_unique_count\n"
        ".type th_test_unique_count, @gnu_unique_object\n"
        ".size th_test_unique_count, 4\n"
        ".balign 4\n"
        "th_test_unique_count:\n"
        ".long 0\n"
        ".popsection\n");

extern int th_test_unique_count;

static int
unique_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    th_test_unique_count++;
    return 0;
}

static const th_class_t unique_class = {
    .size = sizeof(th_class_t),
    .name = "Unique",
    .receive = unique_receive,
};

TH_PLUGIN_DEFINE(gnu_unique, &unique_class);

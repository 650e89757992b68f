/*
 * tests/plugins/no_descriptor.c — no_descriptor.so: a valid shared object
 * with no th_plugin_v1 at all. It exports one function (visibility default,
 * so the module is not empty and dlopen succeeds) whose name looks like a
 * plugin symbol, to prove the loader looks up the exact descriptor name
 * and refuses the file with "no descriptor" rather than failing to load it.
 */
#include "thespian/actor.h"

int th_plugin_v0(void);

__attribute__((visibility("default"))) int
th_plugin_v0(void)
{
    return 0;
}

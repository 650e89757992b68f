/*
 * tests/plugins/short_size.c — short_size.so for the loader's refusal tests.
 * Test plugin: a descriptor built by hand (not with TH_PLUGIN_DEFINE)
 * whose only defect is that the size field is smaller than the 1.0
 * descriptor (it stops before `classes`). The host reads only `size`
 * bytes, so it cannot see the class table and must refuse the plugin
 * instead of reading past it.
 */
#include <stddef.h>

#include "probe_class.h"

PROBE_EXPORT const th_plugin_t th_plugin_v1 = {
    .magic = TH_PLUGIN_MAGIC,
    .abi_major = TH_ABI_MAJOR,
    .abi_minor = TH_ABI_MINOR,
    .size = (uint32_t)offsetof(th_plugin_t, classes),
    .n_classes = 1,
    .name = "short_size",
    .classes = probe_classes,
};

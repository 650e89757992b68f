/*
 * tests/plugins/bad_major.c — bad_major.so for the loader's refusal tests.
 * Test plugin: a descriptor built by hand (not with TH_PLUGIN_DEFINE)
 * whose only defect is that abi_major is TH_ABI_MAJOR + 1: a plugin
 * built for an ABI this host does not speak. The host must refuse it
 * and name both majors.
 */
#include "probe_class.h"

PROBE_EXPORT const th_plugin_t th_plugin_v1 = {
    .magic = TH_PLUGIN_MAGIC,
    .abi_major = TH_ABI_MAJOR + 1,
    .abi_minor = TH_ABI_MINOR,
    .size = (uint32_t)sizeof(th_plugin_t),
    .n_classes = 1,
    .name = "bad_major",
    .classes = probe_classes,
};

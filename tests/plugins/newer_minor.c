/*
 * tests/plugins/newer_minor.c — newer_minor.so for the loader's refusal tests.
 * Test plugin: a descriptor built by hand (not with TH_PLUGIN_DEFINE)
 * whose only defect is that abi_minor is TH_ABI_MINOR + 1: built
 * against a newer SDK whose host table may have entries this host
 * lacks. The rule is "same major, minor no newer than the host's", so
 * it must be refused.
 */
#include "probe_class.h"

PROBE_EXPORT const th_plugin_t th_plugin_v1 = {
    .magic = TH_PLUGIN_MAGIC,
    .abi_major = TH_ABI_MAJOR,
    .abi_minor = TH_ABI_MINOR + 1,
    .size = (uint32_t)sizeof(th_plugin_t),
    .n_classes = 1,
    .name = "newer_minor",
    .classes = probe_classes,
};

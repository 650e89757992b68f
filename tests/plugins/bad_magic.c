/*
 * tests/plugins/bad_magic.c — bad_magic.so for the loader's refusal tests.
 * Test plugin: a descriptor built by hand (not with TH_PLUGIN_DEFINE)
 * whose only defect is that the magic word is wrong (right size, right
 * versions): garbage or a foreign structure under our symbol name. The
 * host must refuse it before reading any other field.
 */
#include "probe_class.h"

PROBE_EXPORT const th_plugin_t th_plugin_v1 = {
    .magic = 0x54485030u /* "THP0" */,
    .abi_major = TH_ABI_MAJOR,
    .abi_minor = TH_ABI_MINOR,
    .size = (uint32_t)sizeof(th_plugin_t),
    .n_classes = 1,
    .name = "bad_magic",
    .classes = probe_classes,
};

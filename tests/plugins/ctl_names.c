/*
 * tests/plugins/ctl_names.c — plugins whose names would reach a terminal
 * or a log as control bytes: built three times, a class name holding ESC
 * and a terminal escape (ctl_class.so), a dispatch message type holding a
 * line feed that would forge a log line (ctl_type.so), and a class name
 * that is not UTF-8 (ctl_utf8.so). The loader must refuse each, saying
 * which field, with the name shown escaped.
 */
#include "thespian/actor.h"

static int
ok_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return 0;
}

#if defined(CTL_TYPE)
static const th_dispatch_t dispatch[] = {
    {"Evil\nFORGED 2000-01-01 CRITICAL [th1:none] forged", ok_receive},
};
static const th_class_t cls = {
    .size = sizeof(th_class_t),
    .name = "Fine",
    .receive = ok_receive,
    .dispatch = dispatch,
    .n_dispatch = 1,
};
TH_PLUGIN_DEFINE(ctl_type, &cls);
#elif defined(CTL_UTF8)
static const th_class_t cls = {
    .size = sizeof(th_class_t),
    .name = "Bad\xff\xfe",
    .receive = ok_receive,
};
TH_PLUGIN_DEFINE(ctl_utf8, &cls);
#else
static const th_class_t cls = {
    .size = sizeof(th_class_t),
    .name = "Bad\x1b[2J\a\rClass",
    .receive = ok_receive,
};
TH_PLUGIN_DEFINE(ctl_class, &cls);
#endif

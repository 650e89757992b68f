/*
 * tests/plugins/probe_class.h — one valid, do-nothing class shared by the
 * hand-built descriptors of the ABI-mismatch test plugins (bad_major,
 * bad_magic, newer_minor, short_size), so that each of them has exactly one
 * defect: its descriptor's guard fields. Included by one .c file each.
 */
#ifndef TH_TESTS_PLUGINS_PROBE_CLASS_H
#define TH_TESTS_PLUGINS_PROBE_CLASS_H

#include "thespian/actor.h"

/* Exported on purpose, despite -fvisibility=hidden. */
#define PROBE_EXPORT __attribute__((visibility("default"), used))

static int
probe_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return 0;
}

static const th_class_t probe_class = {
    .size = sizeof(th_class_t),
    .name = "Probe",
    .receive = probe_receive,
};

static const th_class_t *const probe_classes[] = {&probe_class};

/* Declared once here so each descriptor definition has a prior
 * declaration, as TH_PLUGIN_DEFINE does. */
extern const th_plugin_t th_plugin_v1;

#endif /* TH_TESTS_PLUGINS_PROBE_CLASS_H */

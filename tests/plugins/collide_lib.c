/*
 * tests/plugins/collide_lib.c — a private library built twice, as v1 and
 * v2, with the same soname (libcollide.so.1) and the same symbol: the probe
 * that two versions of a group bind each to its own copy.
 */
#ifndef COLLIDE_VALUE
#error "build with -DCOLLIDE_VALUE=N"
#endif

int collide_value(void);

__attribute__((visibility("default"))) int
collide_value(void)
{
    return COLLIDE_VALUE;
}

/*
 * tests/th_clock.h — the monotonic millisecond clock the tests and the
 * host helpers time deadlines with. Header-only.
 */
#ifndef TH_TESTS_TH_CLOCK_H
#define TH_TESTS_TH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
th_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif /* TH_TESTS_TH_CLOCK_H */

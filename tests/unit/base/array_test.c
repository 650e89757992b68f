/*
 * tests/unit/base/array_test.c — base/array.h, the one growable-array
 * helper: growth by doubling from the first capacity, contents kept across
 * moves, no work when there is room, and a size that would overflow
 * refused with the array untouched.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/array.h"
#include "th_test.h"
#include "thespian/error.h"

typedef struct pair {
    int a;
    long long b;
} pair_t;

TH_TEST(grows_by_doubling)
{
    pair_t *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK_RC(THI_RESERVE(v, cap, n + 1, 8), 0);
        CHECK(cap >= n + 1);
        v[n].a = i;
        v[n].b = (long long)i * 3;
        n++;
    }
    CHECK_EQ(cap, 1024); /* 8, 16, ..., 1024 */
    for (int i = 0; i < 1000; i++)
        CHECK(v[i].a == i && v[i].b == (long long)i * 3);
    free(v);
}

TH_TEST(first_capacity_and_large_need)
{
    char **names = NULL;
    size_t cap = 0;
    CHECK_RC(THI_RESERVE(names, cap, 1, 16), 0);
    CHECK_EQ(cap, 16);
    CHECK(names != NULL);
    CHECK_RC(THI_RESERVE(names, cap, 100, 16), 0); /* more than double */
    CHECK_EQ(cap, 100);
    free(names);
}

TH_TEST(room_is_no_work)
{
    int *v = NULL;
    size_t cap = 0;
    CHECK_RC(THI_RESERVE(v, cap, 4, 4), 0);
    int *before = v;
    CHECK_RC(THI_RESERVE(v, cap, 4, 4), 0);
    CHECK_RC(THI_RESERVE(v, cap, 0, 4), 0);
    CHECK(v == before);
    CHECK_EQ(cap, 4);
    free(v);
}

TH_TEST(overflow_refused_untouched)
{
    uint64_t *v = NULL;
    size_t cap = 0;
    CHECK_RC(THI_RESERVE(v, cap, 2, 2), 0);
    v[0] = 7;
    uint64_t *before = v;
    CHECK_RC(THI_RESERVE(v, cap, SIZE_MAX / 4, 2), TH_ENOMEM);
    CHECK(v == before);
    CHECK_EQ(cap, 2);
    CHECK_EQ(v[0], 7);
    free(v);
}

TH_TEST_MAIN(TH_CASE(grows_by_doubling), TH_CASE(first_capacity_and_large_need),
             TH_CASE(room_is_no_work), TH_CASE(overflow_refused_untouched))

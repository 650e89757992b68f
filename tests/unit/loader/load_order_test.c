/*
 * tests/unit/loader/load_order_test.c — thi_map_in_order, the loop that
 * maps private libraries in dependency order: a chain declared backwards
 * maps completely, a library whose dependency never maps is reported
 * (TH_EABI, with the last reason), and TH_ELIMIT stops the loop at once.
 */
#include <stdbool.h>
#include <string.h>

#include "loader/load_order.h"
#include "th_test.h"
#include "thespian/error.h"

#define N 4

/* needs[i]: the entry i needs mapped first, or -1; limit_at: the entry
 * whose mapping reports TH_ELIMIT, or -1. */
typedef struct fake {
    int needs[N];
    int limit_at;
    bool mapped[N];
    int order[N], n_order, calls;
} fake_t;

static int
fake_map(void *arg, size_t i, th_diag_t *d)
{
    fake_t *f = arg;
    f->calls++;
    if ((int)i == f->limit_at)
        return thi_diag_set(d, TH_ELIMIT, "lib%zu: static TLS exhausted", i);
    int need = f->needs[i];
    if (need >= 0 && !f->mapped[need])
        return thi_diag_set(d, TH_EIO, "lib%zu: needs lib%d", i, need);
    f->mapped[i] = true;
    f->order[f->n_order++] = (int)i;
    return 0;
}

TH_TEST(chain_declared_backwards)
{
    fake_t f = {.needs = {1, 2, 3, -1}, .limit_at = -1};
    bool pending[N] = {true, true, true, true};
    th_diag_t last = {0};
    CHECK_RC(thi_map_in_order(N, pending, fake_map, &f, &last), 0);
    CHECK_EQ(f.n_order, 4);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(f.order[i], 3 - i);
        CHECK(!pending[i]);
    }
}

TH_TEST(only_pending_are_tried)
{
    fake_t f = {.needs = {-1, -1, -1, -1}, .limit_at = -1};
    bool pending[N] = {false, true, false, true};
    CHECK_RC(thi_map_in_order(N, pending, fake_map, &f, NULL), 0);
    CHECK_EQ(f.n_order, 2);
    CHECK(!f.mapped[0] && f.mapped[1] && !f.mapped[2] && f.mapped[3]);
}

TH_TEST(missing_dependency_reported)
{
    /* lib0 needs lib2, which is not in the set */
    fake_t f = {.needs = {2, -1, -1, -1}, .limit_at = -1};
    bool pending[N] = {true, true, false, false};
    th_diag_t last = {0};
    CHECK_RC(thi_map_in_order(N, pending, fake_map, &f, &last), TH_EABI);
    CHECK(pending[0] && !pending[1]);
    CHECK_EQ(last.code, TH_EIO);
    CHECK_STREQ(last.msg, "lib0: needs lib2");
}

TH_TEST(limit_stops_at_once)
{
    fake_t f = {.needs = {-1, -1, -1, -1}, .limit_at = 1};
    bool pending[N] = {true, true, true, true};
    th_diag_t last = {0};
    CHECK_RC(thi_map_in_order(N, pending, fake_map, &f, &last), TH_ELIMIT);
    CHECK_EQ(f.calls, 2); /* lib2, lib3 never tried */
    CHECK(pending[2] && pending[3]);
    CHECK_CONTAINS(last.msg, "static TLS");
}

TH_TEST_MAIN(TH_CASE(chain_declared_backwards), TH_CASE(only_pending_are_tried),
             TH_CASE(missing_dependency_reported), TH_CASE(limit_stops_at_once))

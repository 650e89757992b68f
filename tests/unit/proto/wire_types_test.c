/*
 * tests/unit/proto/wire_types_test.c — the one list of runtime message
 * types (actor.h's TH_MSG_RUNTIME_TYPES, read through proto/wire.c): every
 * entry is a runtime type, each says who may send it, and the wire's send
 * checks follow it (ActivatedSource: actors yes, outside programs no).
 */
#include <stdbool.h>
#include <string.h>

#include "proto/wire.h"
#include "th_test.h"
#include "thespian/actor.h"

TH_TEST(every_entry_is_a_runtime_type)
{
    const char *name;
    unsigned senders;
    size_t n = 0;
    bool internal = false;
    for (size_t i = 0; (name = thi_wire_runtime_type(i, &senders)); i++) {
        n++;
        CHECK(thi_wire_type_is_runtime(name));
        CHECK_EQ(thi_wire_type_senders(name), (int)senders);
        if (strcmp(name, "th.internal") == 0) {
            internal = true;
            CHECK_EQ(senders, TH_MSG_BY_RUNTIME);
        } else {
            CHECK(th_msg_is_runtime(name));
        }
        /* an outside program may send it exactly when the list says so */
        CHECK_EQ(thi_wire_type_reserved(name),
                 !(senders & TH_MSG_BY_OUTSIDE));
        /* nothing outside programs may send that actors may not */
        CHECK(!(senders & TH_MSG_BY_OUTSIDE) || (senders & TH_MSG_BY_ACTORS));
    }
    CHECK(internal);
    CHECK_EQ(n, 18); /* actor.h's 17 and the host's private envelope */
}

TH_TEST(who_may_send_what)
{
    CHECK_EQ(thi_wire_type_senders(TH_MSG_ACTIVATED_SOURCE),
             (int)TH_MSG_BY_ACTORS);
    CHECK(thi_wire_type_reserved(TH_MSG_ACTIVATED_SOURCE));
    CHECK_EQ(thi_wire_type_senders(TH_MSG_EXIT_REQUEST),
             (int)(TH_MSG_BY_ACTORS | TH_MSG_BY_OUTSIDE));
    CHECK(!thi_wire_type_reserved(TH_MSG_EXIT_REQUEST));
    CHECK(!thi_wire_type_reserved(TH_MSG_STATUS_REQ));
    CHECK(!thi_wire_type_reserved(TH_MSG_VALIDATED_SOURCE));
    CHECK_EQ(thi_wire_type_senders(TH_MSG_CHILD_EXITED),
             (int)TH_MSG_BY_RUNTIME);
    CHECK(thi_wire_type_reserved(TH_MSG_CHILD_EXITED));
    CHECK(thi_wire_type_reserved(TH_MSG_TIMER));
    /* a user type: anyone sends it */
    CHECK_EQ(thi_wire_type_senders("Hello"), -1);
    CHECK(!thi_wire_type_is_runtime("Hello"));
    CHECK(!thi_wire_type_reserved("Hello"));
    CHECK(!th_msg_is_runtime("Hello"));
}

TH_TEST_MAIN(TH_CASE(every_entry_is_a_runtime_type),
             TH_CASE(who_may_send_what))

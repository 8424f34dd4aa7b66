/* Accept without descriptors: the connection stays queued, ACCEPT comes back
 * only after a netev_close or a new arrival, and nothing spins. */
#define _GNU_SOURCE
#include "util.h"

#ifndef _WIN32
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

enum { MAX_BURN = 256 };
static int burn[MAX_BURN], nburn;

/* Use up every descriptor below a limit just above what is open now. */
static struct rlimit exhaust(void)
{
    struct rlimit old, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = (rlim_t)util_open_fds() + 16;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    nburn = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        CHECK(nburn < MAX_BURN);
        burn[nburn++] = fd;
    }
    return old;
}

static void restore(struct rlimit old)
{
    while (nburn)
        close(burn[--nburn]);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
}

/* A listener with connection c1 queued, starved by an accept that found no
 * descriptor (they stay used up until restore(old)); c2 connects later. */
typedef struct starved {
    netev_loop *loop;
    int port;
    netev_socket l, c1, c2;
    struct rlimit old;
} starved;

static int skip_under_valgrind(const char *name)
{
    /* valgrind enforces the descriptor limit itself, after the kernel's
     * accept: it closes the new socket and the queued connection is lost */
    if (getenv("NETEV_TEST_VALGRIND"))
        printf("# skip %s under valgrind\n", name);
    return getenv("NETEV_TEST_VALGRIND") != 0;
}

static starved starve_listener(void)
{
    starved t;
    t.loop = util_loop();
    t.l = util_listener(&t.port);
    CHECK_OK(netev_select(t.loop, t.l, NETEV_ACCEPT, 0));
    t.c1 = util_connect(t.port);
    t.c2 = util_tcp_socket(AF_INET);
    EXPECT(t.loop, t.l, NETEV_ACCEPT);
    t.old = exhaust();
    netev_socket a;
    CHECK_EQ(netev_accept(t.loop, t.l, &a, 0, 0), NETEV_EMFILE);
    return t;
}

/* c2 connects: a new arrival, which the listener reports. */
static void second_arrives(const starved *t)
{
    struct sockaddr_storage ss;
    socklen_t len;
    util_loopback(AF_INET, t->port, &ss, &len);
    CHECK(connect(t->c2, (struct sockaddr *)&ss, len) == 0);
    EXPECT(t->loop, t->l, NETEV_ACCEPT);
}

TEST(emfile_no_spin_then_recovers)
{
    if (skip_under_valgrind("emfile_no_spin_then_recovers"))
        return;
    starved t = starve_listener();
    netev_loop *loop = t.loop;
    netev_socket l = t.l, c1 = t.c1, c2 = t.c2, a;
    struct rlimit old = t.old;
    EXPECT_IDLE(loop, 300); /* still queued, but not reported: no busy loop */

    /* a netev_close frees a descriptor: ACCEPT comes back, and accept works */
    CHECK_OK(netev_close(loop, burn[--nburn]));
    EXPECT(loop, l, NETEV_ACCEPT);
    CHECK_OK(netev_accept(loop, l, &a, 0, 0));
    EXPECT_NONE(loop);

    /* out of descriptors again; a new arrival is reported, once */
    second_arrives(&t);
    netev_socket b;
    CHECK_EQ(netev_accept(loop, l, &b, 0, 0), NETEV_EMFILE);
    EXPECT_IDLE(loop, 300);

    restore(old);
    /* the queued connection is still there for whoever has descriptors again */
    CHECK_OK(netev_close(loop, a));
    EXPECT(loop, l, NETEV_ACCEPT);
    CHECK_OK(netev_accept(loop, l, &b, 0, 0));
    CHECK_OK(netev_close(loop, b));
    util_close(c1);
    util_close(c2);
    CHECK_OK(netev_close(loop, l));
    netev_loop_free(loop);
}

/* How a starved listener's queued connection goes: */
enum { ACCEPTED_HERE, TAKEN_THEN_EAGAIN, TAKEN_UNNOTICED };

/* Starved, and then the queued connection goes: the program accepts it,
 * once a descriptor was freed outside the loop; or someone else (another
 * process sharing the listener; here a plain accept) takes it, and the
 * program hears NETEV_EAGAIN from an accept of its own, or nothing.  In
 * every case the listener is starved no more: the next arrival is reported
 * (on poll too, whose starved listener is not polled). */
static void starving_ends(int how)
{
    if (skip_under_valgrind("a starving-ends case"))
        return;
    starved t = starve_listener();
    netev_loop *loop = t.loop;
    netev_socket l = t.l, c1 = t.c1, c2 = t.c2, a = NETEV_INVALID_SOCKET;
    struct rlimit old = t.old;
    EXPECT_IDLE(loop, 150);
    close(burn[--nburn]); /* not a netev_close: the loop does not hear of it */
    int other = -1;
    if (how == ACCEPTED_HERE) {
        CHECK_OK(netev_accept(loop, l, &a, 0, 0));
        EXPECT_NONE(loop);
    } else {
        other = accept(l, 0, 0);
        CHECK(other >= 0);
        if (how == TAKEN_THEN_EAGAIN) {
            close(burn[--nburn]); /* Linux wants a descriptor before it looks at the queue */
            CHECK_EQ(netev_accept(loop, l, &a, 0, 0), NETEV_EAGAIN);
        }
        EXPECT_IDLE(loop, 250); /* the poll backend looks at a starved listener's queue meanwhile */
    }
    restore(old);

    second_arrives(&t);
    netev_socket b;
    CHECK_OK(netev_accept(loop, l, &b, 0, 0));
    EXPECT_NONE(loop);
    if (how == ACCEPTED_HERE)
        CHECK_OK(netev_close(loop, a));
    else
        close(other);
    CHECK_OK(netev_close(loop, b));
    util_close(c1);
    util_close(c2);
    CHECK_OK(netev_close(loop, l));
    netev_loop_free(loop);
}

TEST(accept_after_emfile_ends_starvation)
{
    starving_ends(ACCEPTED_HERE);
}

TEST(taken_elsewhere_then_eagain)
{
    starving_ends(TAKEN_THEN_EAGAIN);
}

TEST(taken_elsewhere_unnoticed)
{
    starving_ends(TAKEN_UNNOTICED);
}

RUN_TESTS(CASE(emfile_no_spin_then_recovers), CASE(accept_after_emfile_ends_starvation), CASE(taken_elsewhere_then_eagain),
          CASE(taken_elsewhere_unnoticed))
#else
static void test_skipped(void) { printf("# skip t_emfile: RLIMIT_NOFILE does not exist on Windows\n"); }
RUN_TESTS({"emfile_no_spin_then_recovers", test_skipped})
#endif

/* Bad calls get a clear error, never a crash; error codes have names. */
#include "util.h"

#include <errno.h>

/* A backend every build has. */
#ifdef _WIN32
#define ALWAYS_BACKEND "wsa"
#else
#define ALWAYS_BACKEND "poll"
#endif

TEST(loop_new_backends)
{
    netev_loop *loop = netev_loop_new(ALWAYS_BACKEND);
    CHECK(loop != NULL);
    CHECK(strcmp(netev_loop_backend(loop), ALWAYS_BACKEND) == 0);
    netev_loop_free(loop);
#ifdef __linux__
    loop = netev_loop_new("epoll");
    CHECK(loop != NULL);
    CHECK(strcmp(netev_loop_backend(loop), "epoll") == 0);
    netev_loop_free(loop);
#endif
    errno = 0;
    CHECK(netev_loop_new("no-such-backend") == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK(netev_loop_backend(NULL) == NULL);
    netev_loop_free(NULL);
}

/* NETEV_BACKEND chooses the backend of netev_loop_new(NULL); a bad name is an error, not a fallback. */
TEST(backend_from_environment)
{
    const char *was = getenv("NETEV_BACKEND");
    char saved[64] = "";
    if (was)
        snprintf(saved, sizeof saved, "%s", was);
    util_setenv("NETEV_BACKEND", ALWAYS_BACKEND);
    netev_loop *loop = netev_loop_new(NULL);
    CHECK(loop && strcmp(netev_loop_backend(loop), ALWAYS_BACKEND) == 0);
    netev_loop_free(loop);
    util_setenv("NETEV_BACKEND", "bogus");
    CHECK(netev_loop_new(NULL) == NULL);
    util_setenv("NETEV_BACKEND", NULL);
    loop = netev_loop_new(NULL);
    CHECK(loop != NULL);
    netev_loop_free(loop);
    if (was)
        util_setenv("NETEV_BACKEND", saved);
}

TEST(strerror_names_every_code)
{
    for (int e = 0; e >= NETEV_ERRNO_MIN; e--) {
        const char *m = netev_strerror(e);
        CHECK(m != NULL && *m);
        CHECK(strcmp(m, "unknown netev error") != 0);
        for (int k = e + 1; k <= 0; k++)
            CHECK(strcmp(m, netev_strerror(k)) != 0);
    }
    CHECK(strcmp(netev_strerror(NETEV_ERRNO_MIN - 1), "unknown netev error") == 0);
    CHECK(strcmp(netev_strerror(7), "unknown netev error") == 0);
    CHECK(strstr(netev_strerror(NETEV_ECONNREFUSED), "refused") != NULL);
}

TEST(null_loop)
{
    char buf[4];
    netev_socket out;
    struct sockaddr_storage ss;
    socklen_t len;
    util_loopback(AF_INET, 1, &ss, &len);
    netev_event ev[1];
    CHECK_EQ(netev_select(NULL, 3, NETEV_READ, 0), NETEV_EINVAL);
    CHECK_EQ(netev_wait(NULL, ev, 1, 0), NETEV_EINVAL);
    CHECK_EQ(netev_wakeup(NULL), NETEV_EINVAL);
    CHECK_EQ(netev_recv(NULL, 3, buf, sizeof buf, 0), NETEV_EINVAL);
    CHECK_EQ(netev_send(NULL, 3, buf, sizeof buf, 0), NETEV_EINVAL);
    CHECK_EQ(netev_accept(NULL, 3, &out, 0, 0), NETEV_EINVAL);
    CHECK_EQ(netev_connect(NULL, 3, (struct sockaddr *)&ss, len), NETEV_EINVAL);
    CHECK_EQ(netev_close(NULL, 3), NETEV_EINVAL);
    CHECK_EQ(netev_forget(NULL, 3), NETEV_EINVAL);
}

/* Unknown or invalid sockets: EBADF / ENOTSOCK from every call. */
TEST(unknown_sockets)
{
    netev_loop *loop = util_loop();
    char buf[4];
    netev_socket bad = util_unused_socket_number();
    CHECK_EQ(netev_recv(loop, bad, buf, sizeof buf, 0), NETEV_EBADF);
    CHECK_EQ(netev_close(loop, bad), NETEV_EBADF);
    CHECK_EQ(netev_close(loop, (netev_socket)-1), NETEV_EBADF);
    CHECK_EQ(netev_forget(loop, bad), NETEV_EBADF);
    netev_socket ns = util_not_a_socket();
    CHECK_EQ(netev_recv(loop, ns, buf, sizeof buf, 0), NETEV_ENOTSOCK);
    CHECK_EQ(netev_select(loop, ns, NETEV_READ, 0), NETEV_ENOTSOCK);
    util_close_not_a_socket(ns);
    netev_loop_free(loop);
}

/* Sockets the loop does not track still work with netev_recv/netev_send/netev_close. */
TEST(untracked_sockets_work)
{
    netev_loop *loop = util_loop();
    netev_socket c, s;
    util_pair(&c, &s);
    CHECK_EQ(netev_send(loop, c, "abc", 3, 0), 3);
    char buf[8];
    CHECK_EQ(netev_recv(loop, s, buf, sizeof buf, 0), 3);
    EXPECT_NONE(loop);
    CHECK_OK(netev_close(loop, c));
    CHECK_OK(netev_close(loop, s));
    netev_loop_free(loop);
}

/* netev_loop_free leaves selected sockets open: they belong to the caller. */
TEST(loop_free_leaves_sockets_open)
{
    netev_loop *loop = util_loop();
    netev_socket c, s;
    util_pair(&c, &s);
    CHECK_OK(netev_select(loop, s, NETEV_ALL, 0));
    CHECK_OK(netev_select(loop, c, NETEV_ALL, 0));
    netev_loop_free(loop);
    util_set_blocking(s, 1);
    util_send_all(c, "still here", 10);
    char buf[16];
    CHECK_EQ(util_recv_some(s, buf, sizeof buf), 10);
    /* and a new loop can take them over */
    loop = util_loop();
    CHECK_OK(netev_select(loop, s, NETEV_ALL, 0));
    EXPECT(loop, s, NETEV_WRITE);
    CHECK_OK(netev_close(loop, s));
    CHECK_OK(netev_close(loop, c));
    netev_loop_free(loop);
}

RUN_TESTS(CASE(loop_new_backends), CASE(backend_from_environment), CASE(strerror_names_every_code), CASE(null_loop),
          CASE(unknown_sockets), CASE(untracked_sockets_work), CASE(loop_free_leaves_sockets_open))

/* socket, bind, listen, ioctlsocket and the option and name calls: mostly the
 * system's, with Winsock's signatures and error numbers, plus what the event
 * model needs (listen re-registers; FIONBIO(0) is refused while selected;
 * SO_ERROR keeps a failed connect's error). */
#define _GNU_SOURCE
#include "ws_int.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define G netev__ws

/* Calls that do not touch the loop still need WSAStartup, as on Windows. */
static int started(void)
{
    ws_lock();
    int on = G.started > 0;
    ws_unlock();
    return on;
}

static int sys_result(int r)
{
    return r < 0 ? ws_fail(ws_from_errno(errno)) : 0;
}

SOCKET netev_ws_socket(int af, int type, int protocol)
{
    int err = ws_lock_core();
    if (err) {
        ws_fail(err);
        return INVALID_SOCKET;
    }
    int fd = socket(af, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        int e = errno;
        ws_unlock();
        ws_fail(ws_from_errno(e));
        return INVALID_SOCKET;
    }
    /* The number may be that of a socket closed without closesocket. */
    ws_sock *old = ws_peek(fd);
    if (old && (old->flags & WS_IN_CORE))
        netev_forget(G.loop, fd);
    ws_drop(fd);
    ws_sock *ws = ws_get(fd);
    if (!ws) {
        close(fd);
        ws_unlock();
        ws_fail(WSAENOBUFS);
        return INVALID_SOCKET;
    }
    ws->flags = WS_OWNED;
    ws_unlock();
    return fd;
}

int netev_ws_bind(SOCKET s, const struct sockaddr *name, int namelen)
{
    if (!started())
        return ws_fail(WSANOTINITIALISED);
    if (!name || namelen <= 0)
        return ws_fail(WSAEFAULT);
    int err = ws_name_len_check(name, namelen);
    if (err)
        return ws_fail(err);
    return sys_result(bind(s, name, (socklen_t)namelen));
}

int netev_ws_listen(SOCKET s, int backlog)
{
    int err = ws_lock_core();
    if (err)
        return ws_fail(err);
    if (ws_closing(s)) {
        ws_unlock();
        return ws_fail(WSAENOTSOCK);
    }
    int r = listen(s, backlog);
    int e = r < 0 ? errno : 0;
    ws_sock *ws = ws_peek(s);
    if (r == 0 && ws && (ws->flags & WS_IN_CORE)) {
        /* Selected before listen (Windows allows it): the loop learns the
         * socket's state at registration, so register it again. */
        netev_forget(G.loop, s);
        ws->flags &= (uint16_t)~WS_IN_CORE;
        err = ws_ensure_core(s, ws);
    }
    ws_unlock();
    if (e)
        return ws_fail(ws_from_errno(e));
    return err ? ws_fail(err) : 0;
}

/* Windows' SIOCATMARK asks "is there no urgent data to read?": TRUE unless
 * an urgent byte waits for recv(MSG_OOB), and always TRUE with SO_OOBINLINE.
 * Linux's asks "is the next byte the urgent mark?", nearly the reverse (Wine
 * returns its negation; that is wrong before the mark, where the urgent byte
 * already waits, and after recv(MSG_OOB), when the stream is still at the
 * mark but nothing waits).  Linux's is asked first for its errors. */
static int no_urgent_data(SOCKET s, int *value)
{
    int at_mark = 0, oob_inline = 0;
    socklen_t len = sizeof oob_inline;
    if (ioctl(s, SIOCATMARK, &at_mark) < 0 || getsockopt(s, SOL_SOCKET, SO_OOBINLINE, &oob_inline, &len) < 0)
        return ws_from_errno(errno);
    *value = oob_inline || ws_urgent_byte(s) < 0;
    return 0;
}

int ioctlsocket(SOCKET s, long cmd, u_long *argp)
{
    int err = ws_lock_core();
    if (err)
        return ws_fail(err);
    int value = 0;
    if ((err = ws_socket_check(s)))
        goto fail;
    err = WSAEFAULT;
    if (!argp)
        goto fail;
    switch (cmd) {
    case FIONBIO: {
        ws_sock *ws = ws_get(s);
        err = WSAENOBUFS;
        if (!ws)
            goto fail;
        err = WSAEINVAL;
        if (!*argp && ws->mask)
            goto fail; /* back to blocking needs WSAEventSelect(s, NULL, 0) first */
        if (*argp)
            ws->flags |= WS_NONBLOCK;
        else
            ws->flags &= (uint16_t)~WS_NONBLOCK;
        /* The loop keeps its sockets non-blocking; the mode is this layer's. */
        if (!(ws->flags & WS_IN_CORE) && (err = ws_set_fd_nonblock(s, *argp != 0))) {
            err = ws_from_errno(err);
            goto fail;
        }
        break;
    }
    case FIONREAD:
        if (ioctl(s, FIONREAD, &value) < 0) {
            err = ws_from_errno(errno);
            goto fail;
        }
        *argp = (u_long)value;
        break;
    case SIOCATMARK:
        if ((err = no_urgent_data(s, &value)))
            goto fail;
        *argp = (u_long)value;
        break;
    default:
        err = WSAEINVAL;
        goto fail;
    }
    ws_unlock();
    return 0;
fail:
    ws_unlock();
    return ws_fail(err);
}

int netev_ws_getsockopt(SOCKET s, int level, int optname, char *optval, int *optlen)
{
    if (!started())
        return ws_fail(WSANOTINITIALISED);
    if (!optval || !optlen || *optlen < 0)
        return ws_fail(WSAEFAULT);
    if (level == SOL_SOCKET && optname == SO_ERROR) {
        if (*optlen < (int)sizeof(int))
            return ws_fail(WSAEFAULT);
        int err = ws_lock_core();
        if (err)
            return ws_fail(err);
        if (ws_closing(s)) {
            ws_unlock();
            return ws_fail(WSAENOTSOCK);
        }
        ws_sock *ws = ws_peek(s);
        if (ws && (ws->flags & WS_IN_CORE))
            ws_harvest(); /* a connect's outcome may be waiting */
        int value = 0;
        if (ws && ws->connect_error) {
            /* Linux clears SO_ERROR when read; Windows keeps a failed
             * connect's error (§5 B10). */
            value = ws->connect_error;
        } else {
            int e = 0;
            socklen_t len = sizeof e;
            if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len) < 0) {
                e = errno;
                ws_unlock();
                return ws_fail(ws_from_errno(e));
            }
            value = ws_from_errno(e);
        }
        ws_unlock();
        *(int *)(void *)optval = value;
        *optlen = (int)sizeof(int);
        return 0;
    }
    socklen_t len = (socklen_t)*optlen;
    if (getsockopt(s, level, optname, optval, &len) < 0)
        return ws_fail(ws_from_errno(errno));
    *optlen = (int)len;
    return 0;
}

int netev_ws_setsockopt(SOCKET s, int level, int optname, const char *optval, int optlen)
{
    if (!started())
        return ws_fail(WSANOTINITIALISED);
    if (optlen < 0 || (!optval && optlen > 0))
        return ws_fail(WSAEFAULT);
    return sys_result(setsockopt(s, level, optname, optval, (socklen_t)optlen));
}

static int name_call(int (*fn)(int, struct sockaddr *, socklen_t *), SOCKET s, struct sockaddr *name, int *namelen)
{
    if (!started())
        return ws_fail(WSANOTINITIALISED);
    if (!name || !namelen || *namelen < 0)
        return ws_fail(WSAEFAULT);
    int err = ws_sock_name_len_check(s, *namelen);
    if (err)
        return ws_fail(err);
    socklen_t len = (socklen_t)*namelen;
    if (fn(s, name, &len) < 0)
        return ws_fail(ws_from_errno(errno));
    *namelen = (int)len;
    return 0;
}

int netev_ws_getsockname(SOCKET s, struct sockaddr *name, int *namelen)
{
    return name_call(getsockname, s, name, namelen);
}

int netev_ws_getpeername(SOCKET s, struct sockaddr *name, int *namelen)
{
    return name_call(getpeername, s, name, namelen);
}

/* Accept without descriptors must not spin.
 *
 * When accept fails with EMFILE/ENFILE the connection stays queued, so a
 * level-triggered listener would be ready forever.  Such a listener is marked
 * "starved": ACCEPT is reported again only when a netev_close on the loop
 * frees a descriptor, or when a new connection arrives (an edge on epoll; on
 * poll, the kernel's accept queue length grows). */
#define _GNU_SOURCE
#include "netev_int.h"

#include <stdlib.h>

int netev__starve(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    int qlen = netev__accept_queue_len(s);
    for (int i = 0; i < loop->nstarved; i++) {
        if (loop->starved[i].s == s) {
            loop->starved[i].queue_len = qlen;
            sk->flags |= NETEV__F_STARVED;
            return 0;
        }
    }
    if (loop->nstarved == loop->cap_starved) {
        int cap = loop->cap_starved ? loop->cap_starved * 2 : 4;
        netev__starved *t = realloc(loop->starved, (size_t)cap * sizeof *t);
        if (!t)
            return NETEV_ENOMEM; /* not marked: a starved listener off the list would never be looked at again */
        loop->starved = t;
        loop->cap_starved = cap;
    }
    loop->starved[loop->nstarved].s = s;
    loop->starved[loop->nstarved].queue_len = qlen;
    loop->nstarved++;
    sk->flags |= NETEV__F_STARVED;
    return 0;
}

/* Give a starved listener its ACCEPT back if a connection is still queued. */
static void resume(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    sk->flags &= ~NETEV__F_STARVED;
    if (netev__readable(s))
        netev__record(loop, sk, NETEV_ACCEPT, 0);
    netev__changed(loop, s, sk);
}

static netev__sock *still_starved(netev_loop *loop, netev_socket s)
{
    netev__sock *sk = netev__lookup(loop, s);
    return (sk && (sk->flags & NETEV__F_STARVED)) ? sk : 0;
}

/* A descriptor was freed: every starved listener may accept again. */
void netev__starved_rearm(netev_loop *loop)
{
    int n = loop->nstarved;
    loop->nstarved = 0; /* resume() may not re-starve, but keep the list consistent */
    for (int i = 0; i < n; i++) {
        netev_socket s = loop->starved[i].s;
        netev__sock *sk = still_starved(loop, s);
        if (sk)
            resume(loop, s, sk);
    }
}

/* For level-triggered backends: did a new connection arrive at a starved listener? */
void netev__starved_check(netev_loop *loop)
{
    int kept = 0;
    for (int i = 0; i < loop->nstarved; i++) {
        netev__starved st = loop->starved[i];
        netev__sock *sk = still_starved(loop, st.s);
        if (!sk)
            continue;
        int qlen = netev__accept_queue_len(st.s);
        if (qlen < 0 || qlen > st.queue_len) {
            resume(loop, st.s, sk);
        } else {
            /* Shorter: someone else took connections (another process on
             * the same listener); an arrival is growth from here on. */
            st.queue_len = qlen;
            loop->starved[kept++] = st;
        }
    }
    loop->nstarved = kept;
}

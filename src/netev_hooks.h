/* Internal loop options for the layers built on the core in this repository
 * (not public API: names and behaviour may change with the core). */
#ifndef NETEV_HOOKS_H
#define NETEV_HOOKS_H

#include "netev.h"

/* Windows' event mode records READ, ACCEPT and OOB again when new data, a new
 * connection or new urgent data arrives while the earlier report is still
 * unconsumed (research §5 D3, A5, E2); the native API deliberately does not,
 * so that a program that is not reading is not woken.  The Winsock layer
 * (src/winsock) sets this option: readiness for such a disabled bit then asks
 * fn whether it is a new arrival; if fn returns non-zero the bit is recorded
 * again as if it had been re-enabled.  fn runs inside netev_wait and must not
 * call back into the loop.  Which readiness reaches fn depends on the backend:
 * epoll reports every arrival as an edge; poll does not watch a disabled bit,
 * so fn is never called there.  fn == NULL (the default) turns it off. */
typedef int (*netev__resignal_fn)(void *ctx, netev_socket s, unsigned bit);
void netev__set_resignal(netev_loop *loop, netev__resignal_fn fn, void *ctx);

/* Socket s's CLOSE error (NETEV_E*, 0 for a graceful close or none yet),
 * also one that came after CLOSE was reported: a reset after our own
 * shutdown(SHUT_RDWR), which Linux reports as a close at once.  A reset the
 * loop no longer watched for (poll does not watch a closed connection) is
 * read from the socket here.  The Winsock layer (src/winsock) holds that
 * first close, as Windows reports none for our own shutdown (research §5 F3),
 * and releases it with this error (F7).  POSIX only. */
int netev__close_error(netev_loop *loop, netev_socket s);

#endif

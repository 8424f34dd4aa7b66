/* The Winsock layer's internals: process-wide state on top of one netev loop.
 *
 * Winsock state is process-wide (WSAStartup, sockets, event objects), so the
 * layer keeps one netev loop and one table of per-socket Winsock records, all
 * under one mutex.  Every socket the layer tracks is selected in the loop with
 * every event (NETEV_ALL): the core's records become this layer's "pending"
 * bits as they are harvested, and the Winsock mask only decides which of them
 * an enumeration returns and which set the socket's event object — which is
 * how Windows keeps events recorded while they were not selected.
 *
 * Owning the core: netev_wait blocks without the mutex, so one thread at a
 * time may "pump" (block in netev_wait for everybody).  Any other use of the
 * loop or of the socket table needs the core: ws_lock_core() takes the mutex
 * and, if a thread is pumping, wakes it and waits until it has let go.  Event
 * objects only need the mutex. */
#ifndef WS_INT_H
#define WS_INT_H

#define NETEV_WINSOCK_IMPL
#include "netev/winsock.h"

#include "netev.h"
#include "netev_hooks.h"

#include <pthread.h>
#include <stdint.h>

/* Per-socket flags of the layer. */
enum {
    WS_IN_CORE = 1 << 0,      /* selected in the loop (NETEV_ALL) */
    WS_NONBLOCK = 1 << 1,     /* Winsock non-blocking mode (FIONBIO 1 or WSAEventSelect) */
    WS_OWNED = 1 << 2,        /* created by socket() or accept(): WSACleanup closes it */
    WS_CONNECTING = 1 << 3,   /* connect started, outcome not yet harvested */
    WS_WR_SHUT = 1 << 4,      /* shutdown(SD_SEND or SD_BOTH) called here */
    WS_RD_SHUT = 1 << 5,      /* shutdown(SD_RECEIVE or SD_BOTH) called here */
    WS_CLOSE_HELD = 1 << 6,   /* FD_CLOSE seen from our own shutdown: held until the peer's FIN */
    WS_CONNECTED = 1 << 7,    /* had a connection (accepted, connected, or data moved) */
    WS_CLOSING = 1 << 8,      /* closesocket called while threads were blocked on it: see ws_wait_begin */
};

typedef struct ws_sock {
    WSAEVENT event;     /* associated event object, NULL = none */
    uint16_t mask;      /* FD_* selected */
    uint16_t pending;   /* FD_* recorded, not yet enumerated */
    uint16_t flags;     /* WS_* */
    uint16_t used;
    int err[NETEV_MAX_EVENTS]; /* WSA error per FD_*_BIT, valid for pending bits */
    int connect_error;  /* a failed connect's WSA error: Windows' SO_ERROR keeps it (§5 B10) */
    int abort_error;    /* the connection ended abortively: recv/send fail with this, not EOF */
    /* Resignal baselines (§5 D3, A5, E2): what the last report had seen. */
    int rd_seen;        /* FIONREAD (bytes before the urgent mark) */
    int oob_seen;       /* FIONREAD: grows when a new urgent byte moves the mark */
    int oob_byte;       /* the urgent byte (peeked), -1 = none: a new one may replace it in place */
    int acc_seen;       /* accept queue length */
    uint16_t waiting_rd, waiting_wr; /* threads blocked on it without the lock (ws_wait_begin) */
} ws_sock;

typedef struct ws_event_slot {
    uintptr_t gen;  /* part of the handle: a closed handle never matches again */
    int32_t next_free;
    uint8_t used;
    uint8_t signalled;
} ws_event_slot;

#define WS_RECORDS 256

typedef struct ws_state {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast whenever events, the core owner or pumped records change */
    int sleepers;      /* threads waiting on cv */
    int started;       /* WSAStartup count */
    netev_loop *loop;  /* while started */
    int resignal;      /* the backend reports new arrivals (epoll): baselines are kept */
    int pumping;       /* a thread blocks in netev_wait without the mutex */
    int core_waiters;  /* threads waiting for the pumper to let go */
    int held_closes;   /* sockets with WS_CLOSE_HELD: checked at every harvest */
    ws_sock *socks;    /* indexed by descriptor */
    int nsocks;
    netev_event recs[WS_RECORDS]; /* netev_wait's records: must outlive the call (netev_close marks them) */
    ws_event_slot *events;
    int32_t nevents, cap_events, free_events;
} ws_state;

extern ws_state netev__ws;

/* ws_state.c: locks, the socket table, harvesting */
void ws_lock(void);
void ws_unlock(void); /* wakes sleepers if any */
void ws_lock_table(void); /* the mutex, once no thread pumps: the table is ours, started or not */
int ws_lock_core(void); /* ws_lock_table and started: 0, or WSANOTINITIALISED (mutex not held then) */
void ws_cond_wait(const struct timespec *deadline); /* NULL = forever; mutex held */
ws_sock *ws_peek(SOCKET s);              /* core owned; NULL if untracked */
ws_sock *ws_get(SOCKET s);               /* core owned; creates; NULL = no memory */
void ws_drop(SOCKET s);                  /* core owned; forgets the record */
int ws_closing(SOCKET s);                /* core owned; closesocket was called on s (WS_CLOSING) */
/* Core owned: the record of s for a call about it, created for a socket the
 * layer has not seen; NULL for a descriptor that is no socket (the system
 * call says so) or without memory (the call goes on untracked).
 * *err = WSAENOTSOCK, and NULL, once closesocket was called on s. */
ws_sock *ws_find(SOCKET s, int *err);
/* A call blocks on s without the lock: in a system call, or in ws_block.
 * closesocket from another thread meanwhile must wake it, as Windows aborts
 * such a call, and must not free the descriptor under it, or the number
 * could name another socket by the time it looks again.  So closesocket
 * shuts s down and leaves the close to the last such thread
 * (ws_close_under_waiters).  ws_wait_begin (core owned) counts the thread in;
 * ws_wait_end takes the table again and counts it out: 0 (table owned), or
 * WSAEINTR (s was closed) or WSANOTINITIALISED (WSACleanup came), lock
 * released.  writer: a sender (only its wake-up needs SHUT_WR). */
void ws_wait_begin(ws_sock *ws, int writer);
int ws_wait_end(SOCKET s, int writer);
/* ws_wait_begin, unlock, ws_block, ws_wait_end. */
int ws_wait_ready(SOCKET s, ws_sock *ws, short events, int writer);
void ws_close_under_waiters(SOCKET s, ws_sock *ws); /* core owned; closesocket with threads waiting */
void ws_detach_waited(SOCKET s, ws_sock *ws);       /* core owned; WSACleanup: forget s, keep its waiters */
int ws_ensure_core(SOCKET s, ws_sock *ws); /* core owned; 0 or a WSA error */
void ws_harvest(void);                   /* core owned: take what the loop has, without blocking */
int ws_pump(int timeout_ms);             /* mutex held, nobody pumping: block in netev_wait */
void ws_absorb(const netev_event *e, int n);
int ws_resignal_cb(void *ctx, netev_socket s, unsigned bit);

/* ws_event.c */
ws_event_slot *ws_event_lookup(WSAEVENT h); /* mutex held */
void ws_event_signal(WSAEVENT h);           /* mutex held; unknown handles are ignored */

/* ws_error.c */
int ws_fail(int wsa_error);        /* sets the thread's last error, returns SOCKET_ERROR */
int ws_from_errno(int e);
int ws_from_netev(int err);        /* NETEV_E* -> WSA */
int ws_close_error(int err);       /* FD_CLOSE's code for a NETEV_E* */
int ws_socket_check(SOCKET s);     /* 0 if s is a socket, else WSAENOTSOCK */

/* ws_probe.c: one-syscall probes */
int ws_fionread(SOCKET s);
int ws_urgent_byte(SOCKET s); /* the pending urgent byte (peeked), -1 = none */
int ws_accept_queue(SOCKET s);
int ws_peer_finished(SOCKET s); /* the peer's FIN (or a reset) has arrived */
int ws_listening(SOCKET s);
int ws_set_fd_nonblock(SOCKET s, int on); /* 0 or errno */
/* Windows fails a sockaddr length below its family's size with WSAEFAULT
 * (Linux truncates, or says EINVAL); 0 if the length will do. */
int ws_name_len_check(const struct sockaddr *name, int namelen); /* bind, connect */
int ws_sock_name_len_check(SOCKET s, int namelen);                /* accept, getsockname, getpeername */
/* Block (without any lock) until s is ready for events or the slice ends;
 * returns when woken, so callers re-check their state. */
void ws_block(SOCKET s, short events);

#endif

/* netev/winsock.h: the Winsock names of the WSAEventSelect model, so that
 * Winsock code such as the seed's runs on POSIX unchanged.
 *
 * On Windows this header includes <winsock2.h> and <ws2tcpip.h> and adds
 * nothing: the real Winsock is used (link with ws2_32).
 *
 * On POSIX it provides the types, constants and functions the event model
 * needs, with the semantics Windows is observed to have (docs/winsock.md lists
 * them row by row): WSAStartup/WSACleanup, WSAGetLastError (per thread), event
 * objects (manual-reset), WSAEventSelect, WSAWaitForMultipleEvents (at most 64
 * events, lowest signalled index), WSAEnumNetworkEvents (atomic copy, clear
 * and reset), and socket calls with Windows' signatures whose re-enabling
 * rules match Windows': recv re-enables FD_READ (FD_OOB with MSG_OOB), send
 * that would block re-enables FD_WRITE, accept re-enables FD_ACCEPT.  Accepted
 * sockets inherit the listener's event and mask; a peer's reset reports
 * FD_CLOSE with WSAECONNABORTED; getsockopt(SO_ERROR) keeps returning a failed
 * connect's error.  Link with netev_winsock.
 *
 * The socket calls are macros naming this layer's functions (recv is
 * netev_ws_recv, ...), defined after the system headers they replace, which
 * this header includes first: include it before any code that calls them.
 * Sockets are file descriptors (SOCKET is int).  Not provided: overlapped
 * I/O, WSAAsyncSelect, Winsock's fd_set/select, WSAPoll, UDP-specific rules. */
#ifndef NETEV_WINSOCK_H
#define NETEV_WINSOCK_H

#ifdef _WIN32

#include <winsock2.h>
#include <ws2tcpip.h>

#else /* POSIX */

#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
/* ioctlsocket's SIOCATMARK: <sys/socket.h> leaves it out in strict C modes. */
#ifndef SIOCATMARK
#if defined(__linux__)
#include <linux/sockios.h>
#elif defined(__has_include)
#if __has_include(<sys/sockio.h>)
#include <sys/sockio.h>
#endif
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Windows base types used by the API ---- */

typedef int BOOL;
typedef unsigned char BYTE;
typedef unsigned short WORD;
typedef uint32_t DWORD; /* 32 bits, as on Windows */
typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#define MAKEWORD(lo, hi) ((WORD)(((BYTE)((lo) & 0xff)) | ((WORD)((BYTE)((hi) & 0xff))) << 8))
#define LOBYTE(w) ((BYTE)((w) & 0xff))
#define HIBYTE(w) ((BYTE)(((w) >> 8) & 0xff))

/* ---- sockets ---- */

typedef int SOCKET;
#define INVALID_SOCKET (-1)
#define SOCKET_ERROR (-1)

typedef struct sockaddr SOCKADDR, *PSOCKADDR, *LPSOCKADDR;
typedef struct sockaddr_in SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;
typedef struct sockaddr_in6 SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;
typedef struct sockaddr_storage SOCKADDR_STORAGE, *PSOCKADDR_STORAGE;
typedef struct in_addr IN_ADDR, *PIN_ADDR;
typedef struct linger LINGER;

#define SD_RECEIVE 0 /* = SHUT_RD */
#define SD_SEND 1    /* = SHUT_WR */
#define SD_BOTH 2    /* = SHUT_RDWR */

#define WSADESCRIPTION_LEN 256
#define WSASYS_STATUS_LEN 128

typedef struct WSAData {
    WORD wVersion;
    WORD wHighVersion;
    unsigned short iMaxSockets;
    unsigned short iMaxUdpDg;
    char *lpVendorInfo;
    char szDescription[WSADESCRIPTION_LEN + 1];
    char szSystemStatus[WSASYS_STATUS_LEN + 1];
} WSADATA, *LPWSADATA;

/* ---- the event model ---- */

#define FD_READ_BIT 0
#define FD_READ (1 << FD_READ_BIT)
#define FD_WRITE_BIT 1
#define FD_WRITE (1 << FD_WRITE_BIT)
#define FD_OOB_BIT 2
#define FD_OOB (1 << FD_OOB_BIT)
#define FD_ACCEPT_BIT 3
#define FD_ACCEPT (1 << FD_ACCEPT_BIT)
#define FD_CONNECT_BIT 4
#define FD_CONNECT (1 << FD_CONNECT_BIT)
#define FD_CLOSE_BIT 5
#define FD_CLOSE (1 << FD_CLOSE_BIT)
#define FD_QOS_BIT 6
#define FD_QOS (1 << FD_QOS_BIT)
#define FD_GROUP_QOS_BIT 7
#define FD_GROUP_QOS (1 << FD_GROUP_QOS_BIT)
#define FD_ROUTING_INTERFACE_CHANGE_BIT 8
#define FD_ROUTING_INTERFACE_CHANGE (1 << FD_ROUTING_INTERFACE_CHANGE_BIT)
#define FD_ADDRESS_LIST_CHANGE_BIT 9
#define FD_ADDRESS_LIST_CHANGE (1 << FD_ADDRESS_LIST_CHANGE_BIT)
#define FD_MAX_EVENTS 10
#define FD_ALL_EVENTS ((1 << FD_MAX_EVENTS) - 1)

typedef struct _WSANETWORKEVENTS {
    long lNetworkEvents;
    int iErrorCode[FD_MAX_EVENTS];
} WSANETWORKEVENTS, *LPWSANETWORKEVENTS;

/* An event object (opaque handle; never dereferenced). */
typedef struct netev_ws_event_ *WSAEVENT, **LPWSAEVENT;
#define WSA_INVALID_EVENT ((WSAEVENT)0)

#define WSA_MAXIMUM_WAIT_EVENTS 64
#define WSA_INFINITE ((DWORD)0xFFFFFFFF)
#define WSA_WAIT_EVENT_0 ((DWORD)0)
#define WSA_WAIT_IO_COMPLETION ((DWORD)0xC0)
#define WSA_WAIT_TIMEOUT ((DWORD)0x102)
#define WSA_WAIT_FAILED ((DWORD)0xFFFFFFFF)

/* ---- error numbers (WSAGetLastError) ---- */

#define WSA_INVALID_HANDLE 6
#define WSA_NOT_ENOUGH_MEMORY 8
#define WSA_INVALID_PARAMETER 87
#define WSA_OPERATION_ABORTED 995
#define WSA_IO_INCOMPLETE 996
#define WSA_IO_PENDING 997

#define WSABASEERR 10000
#define WSAEINTR 10004
#define WSAEBADF 10009
#define WSAEACCES 10013
#define WSAEFAULT 10014
#define WSAEINVAL 10022
#define WSAEMFILE 10024
#define WSAEWOULDBLOCK 10035
#define WSAEINPROGRESS 10036
#define WSAEALREADY 10037
#define WSAENOTSOCK 10038
#define WSAEDESTADDRREQ 10039
#define WSAEMSGSIZE 10040
#define WSAEPROTOTYPE 10041
#define WSAENOPROTOOPT 10042
#define WSAEPROTONOSUPPORT 10043
#define WSAESOCKTNOSUPPORT 10044
#define WSAEOPNOTSUPP 10045
#define WSAEPFNOSUPPORT 10046
#define WSAEAFNOSUPPORT 10047
#define WSAEADDRINUSE 10048
#define WSAEADDRNOTAVAIL 10049
#define WSAENETDOWN 10050
#define WSAENETUNREACH 10051
#define WSAENETRESET 10052
#define WSAECONNABORTED 10053
#define WSAECONNRESET 10054
#define WSAENOBUFS 10055
#define WSAEISCONN 10056
#define WSAENOTCONN 10057
#define WSAESHUTDOWN 10058
#define WSAETOOMANYREFS 10059
#define WSAETIMEDOUT 10060
#define WSAECONNREFUSED 10061
#define WSAELOOP 10062
#define WSAENAMETOOLONG 10063
#define WSAEHOSTDOWN 10064
#define WSAEHOSTUNREACH 10065
#define WSAENOTEMPTY 10066
#define WSAEPROCLIM 10067
#define WSAEUSERS 10068
#define WSAEDQUOT 10069
#define WSAESTALE 10070
#define WSAEREMOTE 10071
#define WSASYSNOTREADY 10091
#define WSAVERNOTSUPPORTED 10092
#define WSANOTINITIALISED 10093
#define WSAEDISCON 10101
#define WSAENOMORE 10102
#define WSAECANCELLED 10103
#define WSAEINVALIDPROCTABLE 10104
#define WSAEINVALIDPROVIDER 10105
#define WSAEPROVIDERFAILEDINIT 10106
#define WSASYSCALLFAILURE 10107
#define WSASERVICE_NOT_FOUND 10108
#define WSATYPE_NOT_FOUND 10109
#define WSA_E_NO_MORE 10110
#define WSA_E_CANCELLED 10111
#define WSAEREFUSED 10112
#define WSAHOST_NOT_FOUND 11001
#define WSATRY_AGAIN 11002
#define WSANO_RECOVERY 11003
#define WSANO_DATA 11004

/* ---- functions ---- */

int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData);
int WSACleanup(void);
int WSAGetLastError(void);
void WSASetLastError(int iError);

WSAEVENT WSACreateEvent(void);
BOOL WSACloseEvent(WSAEVENT hEvent);
BOOL WSASetEvent(WSAEVENT hEvent);
BOOL WSAResetEvent(WSAEVENT hEvent);
DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT *lphEvents, BOOL fWaitAll, DWORD dwTimeout,
                               BOOL fAlertable);
int WSAEventSelect(SOCKET s, WSAEVENT hEventObject, long lNetworkEvents);
int WSAEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject, LPWSANETWORKEVENTS lpNetworkEvents);

int closesocket(SOCKET s);
int ioctlsocket(SOCKET s, long cmd, u_long *argp);

/* The socket calls, with Windows' signatures; see the macros below. */
SOCKET netev_ws_socket(int af, int type, int protocol);
int netev_ws_bind(SOCKET s, const struct sockaddr *name, int namelen);
int netev_ws_listen(SOCKET s, int backlog);
SOCKET netev_ws_accept(SOCKET s, struct sockaddr *addr, int *addrlen);
int netev_ws_connect(SOCKET s, const struct sockaddr *name, int namelen);
int netev_ws_recv(SOCKET s, char *buf, int len, int flags);
int netev_ws_send(SOCKET s, const char *buf, int len, int flags);
int netev_ws_shutdown(SOCKET s, int how);
int netev_ws_getsockopt(SOCKET s, int level, int optname, char *optval, int *optlen);
int netev_ws_setsockopt(SOCKET s, int level, int optname, const char *optval, int optlen);
int netev_ws_getsockname(SOCKET s, struct sockaddr *name, int *namelen);
int netev_ws_getpeername(SOCKET s, struct sockaddr *name, int *namelen);

#ifdef __cplusplus
}
#endif

#ifndef NETEV_WINSOCK_IMPL /* the layer's own sources call the system's functions */
/* After the system headers: calls in code that includes this header go to the
 * layer.  Function-like, so that members and variables named like the calls
 * (the seed's Session::socket) keep their names. */
#define socket(af, type, protocol) netev_ws_socket(af, type, protocol)
#define bind(s, name, namelen) netev_ws_bind(s, name, namelen)
#define listen(s, backlog) netev_ws_listen(s, backlog)
#define accept(s, addr, addrlen) netev_ws_accept(s, addr, addrlen)
#define connect(s, name, namelen) netev_ws_connect(s, name, namelen)
#define recv(s, buf, len, flags) netev_ws_recv(s, buf, len, flags)
#define send(s, buf, len, flags) netev_ws_send(s, buf, len, flags)
#define shutdown(s, how) netev_ws_shutdown(s, how)
#define getsockopt(s, level, optname, optval, optlen) netev_ws_getsockopt(s, level, optname, optval, optlen)
#define setsockopt(s, level, optname, optval, optlen) netev_ws_setsockopt(s, level, optname, optval, optlen)
#define getsockname(s, name, namelen) netev_ws_getsockname(s, name, namelen)
#define getpeername(s, name, namelen) netev_ws_getpeername(s, name, namelen)
#endif

#endif /* POSIX */

#endif /* NETEV_WINSOCK_H */

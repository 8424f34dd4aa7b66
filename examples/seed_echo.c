/* The seed's WSAEventSelect echo server (shared/seed/000_167fdbba03ff128a.txt),
 * translated to C11 as literally as possible: the same calls in the same
 * order, the same structure, port 7777 and the same prints.  Its only
 * platform difference is the include: on Windows the real Winsock (build with
 * mingw: x86_64-w64-mingw32-gcc seed_echo.c -lws2_32), on POSIX netev's
 * Winsock layer (netev/winsock.h, link netev_winsock).
 *
 * What differs from the seed, each marked "(added)" below:
 *  - the steps it left unfinished are done: a session is removed (socket
 *    closed, event closed) on FD_CLOSE and when recv or send fails;
 *  - WSAEWOULDBLOCK is handled: it is never stored as a length;
 *  - past 63 clients (64 events per wait, one is the listener's) a new client
 *    is accepted and closed at once ("Client Refused"), instead of growing
 *    the event array past what WSAWaitForMultipleEvents takes, which made the
 *    seed fail every wait and spin;
 *  - an FD_READ that arrives while the buffer still holds an unsent echo is
 *    remembered, and the socket read once the echo is out; the seed skipped
 *    that recv, and with nothing new arriving the session stalled;
 *  - optional arguments: port (default 7777) and bind address (default all
 *    interfaces, as the seed), for tests that run several servers. */
#ifdef _WIN32
#include <winsock2.h>
#include <mswsock.h>
#include <ws2tcpip.h>
#else
#include <netev/winsock.h>
#endif

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t int32;

void HandleError(const char* cause);
void HandleError(const char* cause)
{
	int32 errCode = WSAGetLastError();
	printf("%s ErrorCode : %d\n", cause, errCode);
	fflush(stdout);
}

#define BUFSIZE 1000

typedef struct Session
{
	SOCKET socket;
	char recvBuffer[BUFSIZE];
	int32 recvBytes;
	int32 sendBytes;
	bool readPending; // (added) an FD_READ seen while the buffer was busy
} Session;

// The seed's vector<WSAEVENT> and vector<Session>, at the model's ceiling.
static WSAEVENT wsaEvents[WSA_MAXIMUM_WAIT_EVENTS];
static Session sessions[WSA_MAXIMUM_WAIT_EVENTS];
static int32 eventCount = 0;

// (added) the seed left "Remove Session" unfinished: close it, forget its event.
static void RemoveSession(int32 index)
{
	closesocket(sessions[index].socket);
	WSACloseEvent(wsaEvents[index]);
	memmove(&wsaEvents[index], &wsaEvents[index + 1], (size_t)(eventCount - index - 1) * sizeof(wsaEvents[0]));
	memmove(&sessions[index], &sessions[index + 1], (size_t)(eventCount - index - 1) * sizeof(sessions[0]));
	eventCount--;
	printf("Client Disconnected\n");
	fflush(stdout);
}

int main(int argc, char** argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 7777; // (added)
	if (port <= 0 || port > 65535)
	{
		fprintf(stderr, "usage: seed_echo [port [bind-address]]\n");
		return 1;
	}

	WSADATA wsaData;
	if (WSAStartup(MAKEWORD(2, 2), &wsaData) != 0)
		return 0;

	SOCKET listenSocket = socket(AF_INET, SOCK_STREAM, 0);
	if (listenSocket == INVALID_SOCKET)
		return 0;

	u_long on = 1;
	if (ioctlsocket(listenSocket, FIONBIO, &on) == SOCKET_ERROR) // the seed compares with INVALID_SOCKET: the same -1, the wrong name
		return 0;

	SOCKADDR_IN serverAddr;
	memset(&serverAddr, 0, sizeof(serverAddr));
	serverAddr.sin_family = AF_INET;
	serverAddr.sin_addr.s_addr = argc > 2 ? inet_addr(argv[2]) : htonl(INADDR_ANY); // (added: the address)
	serverAddr.sin_port = htons((u_short)port);

	if (bind(listenSocket, (SOCKADDR*)&serverAddr, sizeof(serverAddr)) == SOCKET_ERROR)
	{
		HandleError("Bind"); // (added) say why
		return 0;
	}

	if (listen(listenSocket, SOMAXCONN) == SOCKET_ERROR)
		return 0;

	printf("Accept\n");
	fflush(stdout);

	WSAEVENT listenEvent = WSACreateEvent();
	wsaEvents[eventCount] = listenEvent;
	sessions[eventCount] = (Session){ .socket = listenSocket };
	eventCount++;
	// Tie the listening socket to its event.
	if (WSAEventSelect(listenSocket, listenEvent, FD_ACCEPT | FD_CLOSE) == SOCKET_ERROR)
		return 0;

	while (true)
	{
		DWORD index = WSAWaitForMultipleEvents((DWORD)eventCount, &wsaEvents[0], FALSE, WSA_INFINITE, FALSE);
		if (index == WSA_WAIT_FAILED)
			continue;

		index -= WSA_WAIT_EVENT_0;

		//WSAResetEvent(wsaEvents[index]);

		WSANETWORKEVENTS networkEvents;
		if (WSAEnumNetworkEvents(sessions[index].socket, wsaEvents[index], &networkEvents) == SOCKET_ERROR)
			continue;

		// The listening socket
		if (networkEvents.lNetworkEvents & FD_ACCEPT)
		{
			// Error-Check
			if (networkEvents.iErrorCode[FD_ACCEPT_BIT] != 0)
				continue;

			SOCKADDR_IN clientAddr;
			int32 addrLen = sizeof(clientAddr);

			SOCKET clientSocket = accept(listenSocket, (SOCKADDR*)&clientAddr, &addrLen);
			if (clientSocket != INVALID_SOCKET)
			{
				// (added) 64 events per wait: past 63 clients, refuse.
				if (eventCount == WSA_MAXIMUM_WAIT_EVENTS)
				{
					closesocket(clientSocket);
					printf("Client Refused\n");
					fflush(stdout);
					continue;
				}

				printf("Client Connected\n");
				fflush(stdout);

				WSAEVENT clientEvent = WSACreateEvent();
				wsaEvents[eventCount] = clientEvent;
				sessions[eventCount] = (Session){ .socket = clientSocket };
				eventCount++;
				if (WSAEventSelect(clientSocket, clientEvent, FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR)
					return 0;
			}
			else if (WSAGetLastError() != WSAEWOULDBLOCK) // (added) WSAEWOULDBLOCK: the next FD_ACCEPT comes
			{
				HandleError("Accept");
			}
		}

		// Client sessions
		if (networkEvents.lNetworkEvents & FD_READ || networkEvents.lNetworkEvents & FD_WRITE)
		{
			// Error-Check
			if ((networkEvents.lNetworkEvents & FD_READ) && (networkEvents.iErrorCode[FD_READ_BIT] != 0))
				continue;
			// Error-Check
			if ((networkEvents.lNetworkEvents & FD_WRITE) && (networkEvents.iErrorCode[FD_WRITE_BIT] != 0))
				continue;

			Session* s = &sessions[index];
			bool removed = false;
			bool again;
			do
			{
				again = false;

				// Read
				if (s->recvBytes == 0)
				{
					int32 recvLen = recv(s->socket, s->recvBuffer, BUFSIZE, 0);
					if (recvLen == SOCKET_ERROR && WSAGetLastError() != WSAEWOULDBLOCK)
					{
						RemoveSession((int32)index); // (added) the seed's unfinished "Remove Session"
						removed = true;
						break;
					}

					if (recvLen != SOCKET_ERROR) // (added) WSAEWOULDBLOCK is no length
					{
						s->recvBytes = recvLen;
						printf("Recv Data = %d\n", recvLen);
						fflush(stdout);
					}
					s->readPending = false;
				}
				else if (networkEvents.lNetworkEvents & FD_READ)
				{
					s->readPending = true; // (added) read once the echo is out
				}

				// Write
				if (s->recvBytes > s->sendBytes)
				{
					int32 sendLen = send(s->socket, &s->recvBuffer[s->sendBytes], s->recvBytes - s->sendBytes, 0);
					if (sendLen == SOCKET_ERROR && WSAGetLastError() != WSAEWOULDBLOCK)
					{
						RemoveSession((int32)index); // (added) the seed's unfinished "Remove Session"
						removed = true;
						break;
					}
					if (sendLen == SOCKET_ERROR) // (added) WSAEWOULDBLOCK: FD_WRITE comes when there is room
						break;

					s->sendBytes += sendLen;
					if (s->recvBytes == s->sendBytes)
					{
						s->recvBytes = 0;
						s->sendBytes = 0;
						again = s->readPending; // (added)
					}

					printf("Send Data = %d\n", sendLen);
					fflush(stdout);
				}
			} while (again);
			if (removed)
				continue;
		}

		// FD_CLOSE
		if (networkEvents.lNetworkEvents & FD_CLOSE)
		{
			if (index != 0) // (added) the seed's unfinished "Remove Socket"; never the listener
				RemoveSession((int32)index);
		}
	}

	// Winsock cleanup
	WSACleanup();
}

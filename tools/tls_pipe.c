/* tern-tls-pipe: one TLS-PSK session with a tern host's migration port, its plaintext on stdin
 * and stdout, for the system tests (Python has no TLS-PSK). Built hosted from the tls/ sources
 * tern and the unit tests use, so it speaks exactly tern's protocol:
 *
 *   tern-tls-pipe --key HEX HOST PORT      connect, as a migration's source does
 *   tern-tls-pipe --key HEX --listen PORT  accept one connection on 127.0.0.1, as a target
 *
 * HEX is the cluster key (64 hex digits); the session's key is derived from it as tern derives
 * its migration key. On stderr: "handshake N us" once the handshake is done, or "refused: why"
 * (exit 2); "failed: why" if the session fails later (exit 3). End of stdin sends close_notify;
 * the tool ends when the peer closes (exit 0). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "hv/error.h"
#include "tls/tls.h"

static unsigned char arena[512 * 1024] __attribute__((aligned(16)));

/* tls/tls.c's answer to a corrupted arena */
void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "tern-tls-pipe: panic at %s:%d: ", file, line);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	exit(4);
}

static int sock_send(void *ctx, const void *buf, size_t len)
{
	ssize_t n = send(*(int *)ctx, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n >= 0)
		return (int)n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? -E_BUSY : -E_IO;
}

static int sock_recv(void *ctx, void *buf, size_t len)
{
	ssize_t n = recv(*(int *)ctx, buf, len, MSG_DONTWAIT);

	if (n >= 0)
		return (int)n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? -E_BUSY : -E_IO;
}

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	int fd;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int take_one(const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), fd;

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0)
		return -1;
	fprintf(stderr, "listening\n");
	fd = accept(ls, NULL, NULL);
	close(ls);
	return fd;
}

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* Waits for the socket (and stdin while it is open and nothing waits to be sent). */
static void wait_io(int fd, bool want_out, bool want_stdin)
{
	struct pollfd p[2] = { { fd, POLLIN | (want_out ? POLLOUT : 0), 0 }, { 0, POLLIN, 0 } };

	poll(p, want_stdin ? 2 : 1, 1000);
}

static bool write_all(const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(1, buf, len);

		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Moves plaintext both ways until the peer closes; the exit status. */
static int pipe_session(struct tls_session *s, int fd)
{
	static uint8_t out[16384], in[16384];
	size_t out_len = 0;
	bool eof = false, closing = false;

	for (;;) {
		int r = tls_session_recv(s, in, sizeof(in));

		if (r > 0) {
			if (!write_all(in, (size_t)r))
				return 3;
			continue;
		}
		if (r == 0)
			return 0;
		if (r != -E_BUSY) {
			fprintf(stderr, "failed: %s\n", tls_session_why(s));
			return 3;
		}
		if (out_len) { /* after -E_BUSY the same bytes again (tls.h) */
			r = tls_session_send(s, out, out_len);
			if (r > 0) {
				memmove(out, out + r, out_len - (size_t)r);
				out_len -= (size_t)r;
			} else if (r != -E_BUSY) {
				fprintf(stderr, "failed: %s\n", tls_session_why(s));
				return 3;
			}
		} else if (eof && !closing) {
			closing = tls_session_close(s) == 0;
		}
		wait_io(fd, out_len > 0 || (eof && !closing), !eof && !out_len);
		if (!eof && !out_len) {
			struct pollfd p = { 0, POLLIN, 0 };
			if (poll(&p, 1, 0) > 0) {
				ssize_t n = read(0, out, sizeof(out));
				if (n > 0)
					out_len = (size_t)n;
				else
					eof = true;
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct tls_key key, psk;
	struct tls_session *s;
	bool listen_mode;
	int fd;
	uint64_t t0;

	if (argc != 5 || strcmp(argv[1], "--key")) {
		fprintf(stderr, "usage: %s --key HEX HOST PORT | --key HEX --listen PORT\n",
			argv[0]);
		return 1;
	}
	listen_mode = !strcmp(argv[3], "--listen");
	/* the derivation allocates: tls_init first */
	if (tls_init(arena, sizeof(arena)) || tls_key_parse(&key, argv[2]) ||
	    tls_key_derive(&key, TLS_LABEL_MIGRATION, &psk)) {
		fprintf(stderr, "tern-tls-pipe: bad key, or no entropy\n");
		return 1;
	}
	fd = listen_mode ? take_one(argv[4]) : dial(argv[3], argv[4]);
	if (fd < 0) {
		perror("tern-tls-pipe: connect");
		return 1;
	}
	t0 = now_us();
	s = tls_session_new(listen_mode ? TLS_SERVER : TLS_CLIENT, &psk,
			    &(struct tls_io){ sock_send, sock_recv, &fd });
	if (!s)
		return 1;
	for (;;) {
		int r = tls_session_handshake(s);

		if (r == 0)
			break;
		if (r != -E_BUSY) {
			fprintf(stderr, "refused: %s\n", tls_session_why(s));
			return 2;
		}
		wait_io(fd, true, false);
	}
	fprintf(stderr, "handshake %llu us (%s)\n", (unsigned long long)(now_us() - t0),
		tls_session_suite(s));
	return pipe_session(s, fd);
}

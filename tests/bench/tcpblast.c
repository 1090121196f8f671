/* Bulk TCP between two Linux guests for tests/bench/netperf.py: the reference tern's
 * netperf is compared with. busybox's nc moves about 1 KiB per system call and is
 * CPU-bound under QEMU TCG (it measures busybox, not the link), so this writes and
 * reads 64 KiB at a time, as the reference measurement did. Built static, for
 * the bench's busybox initramfs.
 *
 *   tcpblast -l PORT          receive one connection to its end, then print the bytes
 *   tcpblast IP PORT MIB      send MIB MiB of zeros, then close
 *
 * Each prints one line with the bytes and its own view of the time (the guest's clock);
 * the bench times the transfer from the host. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static char buf[CHUNK];

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int receive(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), s;
	unsigned long long got = 0;
	double start;
	ssize_t n;

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1)) {
		perror("tcpblast: listen");
		return 1;
	}
	s = accept(ls, NULL, NULL);
	if (s < 0) {
		perror("tcpblast: accept");
		return 1;
	}
	start = now_s();
	while ((n = read(s, buf, sizeof(buf))) > 0)
		got += (unsigned long long)n;
	if (n < 0) {
		perror("tcpblast: read");
		return 1;
	}
	printf("tcpblast: received %llu bytes in %.3f s\n", got, now_s() - start);
	return 0;
}

static int send_all(const char *ip, int port, long mib)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	unsigned long long left = (unsigned long long)mib << 20;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	double start;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 || mib <= 0) {
		fprintf(stderr, "tcpblast: bad address or size\n");
		return 2;
	}
	if (connect(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("tcpblast: connect");
		return 1;
	}
	start = now_s();
	while (left) {
		ssize_t n = write(s, buf, left < CHUNK ? left : CHUNK);

		if (n <= 0) {
			perror("tcpblast: write");
			return 1;
		}
		left -= (unsigned long long)n;
	}
	close(s);
	printf("tcpblast: sent %ld MiB in %.3f s\n", mib, now_s() - start);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "-l"))
		return receive(atoi(argv[2]));
	if (argc == 4)
		return send_all(argv[1], atoi(argv[2]), atol(argv[3]));
	fprintf(stderr, "usage: tcpblast -l PORT | tcpblast IP PORT MIB\n");
	return 2;
}

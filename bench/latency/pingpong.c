/* The cost of a loopback round trip on this machine, with nothing else in it: a client sends
 * 64 bytes over TCP and waits for the server to echo them, N times, and prints the p50, p90
 * and p99 round trip in microseconds. bench/latency.sh runs it with the two ends on one core
 * and on two, to show what crossing cores costs each hop a proxy adds.
 *   pingpong serve PORT        pingpong call PORT N
 * Written in C rather than Rust so that no runtime sits between the syscalls being timed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int one = 1, sock = socket(AF_INET, SOCK_STREAM, 0);
  char buf[64] = {0};
  if (!strcmp(argv[1], "serve")) {
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(sock, (struct sockaddr *)&addr, sizeof addr) || listen(sock, 1)) return 1;
    int conn = accept(sock, 0, 0);
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (ssize_t n; (n = read(conn, buf, sizeof buf)) > 0;)
      if (write(conn, buf, n) != n) return 1;
    return 0;
  }
  if (argc < 4 || connect(sock, (struct sockaddr *)&addr, sizeof addr)) return 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rounds = atoi(argv[3]);
  double *took = malloc(rounds * sizeof *took);
  for (int i = 0; i < rounds; i++) {
    double start = now_us();
    if (write(sock, buf, sizeof buf) != sizeof buf) return 1;
    for (size_t got = 0; got < sizeof buf;) {
      ssize_t n = read(sock, buf + got, sizeof buf - got);
      if (n <= 0) return 1;
      got += n;
    }
    took[i] = now_us() - start;
  }
  qsort(took, rounds, sizeof *took, by_value);
  printf("%.1f\t%.1f\t%.1f\n", took[rounds / 2], took[rounds * 9 / 10], took[rounds * 99 / 100]);
  return 0;
}

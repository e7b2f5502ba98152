// The kernel's floor for SSE fan-out on this machine: one process writes a 90-byte frame with one send() to
// each of S loopback TCP connections, R times a second for D seconds (as Sluice writes one event to each
// subscriber), while a child process reads and discards. Prints the writer's CPU (user + system) per send: what
// any server pays per delivered event when nothing can be coalesced, before any work of its own.
//   cc -O2 -o /tmp/send_floor bench/floor/send_floor.c && /tmp/send_floor 500 100 10
// Loopback only, bounded (D seconds), stops its child by PID.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double cpu(void) {
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  int S = argc > 1 ? atoi(argv[1]) : 500, R = argc > 2 ? atoi(argv[2]) : 100, D = argc > 3 ? atoi(argv[3]) : 10;
  if (S < 1 || S > 20000 || R < 1 || R > 10000 || D < 1 || D > 60) { fprintf(stderr, "bounds: S<=20000 R<=10000 D<=60\n"); return 2; }
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t al = sizeof a;
  if (bind(l, (void *)&a, sizeof a) || listen(l, 4096) || getsockname(l, (void *)&a, &al)) { perror("listen"); return 1; }
  pid_t child = fork();
  if (child == 0) {
    int ep = epoll_create1(0);
    for (int i = 0; i < S; i++) {
      int c = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(c, (void *)&a, sizeof a)) { perror("connect"); _exit(1); }
      struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
      epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
    }
    struct epoll_event ev[256]; char buf[65536];
    for (;;) {
      int n = epoll_wait(ep, ev, 256, 1000);
      for (int i = 0; i < n; i++) if (read(ev[i].data.fd, buf, sizeof buf) <= 0) _exit(0);
    }
  }
  int *fds = malloc(sizeof(int) * S);
  for (int i = 0; i < S; i++) {
    fds[i] = accept(l, NULL, NULL);
    int one = 1; setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // as Kestrel sets it
  }
  char frame[90]; memset(frame, 'x', sizeof frame); memcpy(frame, "id: 1\nevent: token\ndata: ", 26); frame[88] = '\n'; frame[89] = '\n';
  long sends = 0; double c0 = cpu(), t0 = now();
  for (int k = 0; k < R * D; k++) {
    double due = t0 + (double)k / R, wait = due - now();
    if (wait > 0) { struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) }; nanosleep(&ts, NULL); }
    for (int i = 0; i < S; i++) if (send(fds[i], frame, sizeof frame, MSG_NOSIGNAL) == sizeof frame) sends++;
  }
  double c1 = cpu(), t1 = now();
  printf("{\"subscribers\":%d,\"rate\":%d,\"seconds\":%.1f,\"sends\":%ld,\"writer_cpu_seconds\":%.3f,\"cpu_us_per_send\":%.2f}\n",
         S, R, t1 - t0, sends, c1 - c0, (c1 - c0) / sends * 1e6);
  kill(child, SIGTERM); waitpid(child, NULL, 0);
  return 0;
}

// For the allocator study only (bench/soak_allocators.sh builds it and preloads it into the service
// with LD_PRELOAD): a thread that calls malloc_trim(0) every TRIM_EVERY_MS milliseconds (1000),
// to measure what glibc malloc with a periodic trim would do before anyone writes it into main.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
static void* loop(void* arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);  // signals go to the service's threads
  const char* e = getenv("TRIM_EVERY_MS");
  long ms = e ? atol(e) : 1000;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  for (;;) {
    nanosleep(&ts, NULL);
    malloc_trim(0);
  }
  return NULL;
}
__attribute__((constructor)) static void start(void) {
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_create(&t, &a, loop, NULL);
}

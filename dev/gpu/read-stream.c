// read-stream.c: an independent read-bandwidth check for the CPU roof in docs/metrics.md (no project
// code): 2 threads summing a 512 MiB array of ints, best of 10. gcc -O3 -march=native -pthread.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define N (128L * 1024 * 1024)
static unsigned* a; static unsigned long part[2];
static void* run(void* p) { long t = (long)p; unsigned s = 0; for (long i = t * N / 2; i < (t + 1) * N / 2; ++i) s += a[i]; part[t] = s; return 0; }
int main() {
    a = aligned_alloc(64, N * sizeof(float)); for (long i = 0; i < N; ++i) a[i] = (unsigned)(i & 7);
    double best = 1e9;
    for (int r = 0; r < 10; ++r) {
        struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
        pthread_t th[2]; for (long t = 0; t < 2; ++t) pthread_create(&th[t], 0, run, (void*)t);
        for (int t = 0; t < 2; ++t) pthread_join(th[t], 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec); if (s < best) best = s;
    }
    printf("read stream: %.2f GB/s (checksum %lu)\n", N * 4.0 / best / 1e9, part[0] + part[1]);
}

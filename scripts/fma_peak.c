// The machine's multiply-add peak, for docs/performance.md's "of peak" figures: 12 independent
// chains of 16-lane AVX-512 multiply-adds per thread (enough to cover the FMA latency on both
// pipes), on 1 and then on every thread OpenMP gives. No memory is touched in the loop.
//
//   gcc -O3 -funroll-all-loops -mavx512f -fopenmp scripts/fma_peak.c -o fma_peak && ./fma_peak
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void) {
    const long steps = 200000000 / 12;  // per thread, each step 12 multiply-adds of 16 lanes
    const int most = omp_get_max_threads();
    for (int threads = 1; threads <= most; threads = threads == most ? most + 1 : most) {
        double checksum = 0;
        const double start = now();
#pragma omp parallel num_threads(threads) reduction(+ : checksum)
        {
            __m512 acc[12];
            for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * (float)i);
            const __m512 scale = _mm512_set1_ps(0.999f), add = _mm512_set1_ps(0.0001f);
            for (long s = 0; s < steps; ++s)
                for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], scale, add);
            float sum = 0;
            for (int i = 0; i < 12; ++i) sum += _mm512_reduce_add_ps(acc[i]);
            checksum += sum;  // keeps the loop from being thrown away
        }
        const double seconds = now() - start;
        printf("%d thread%s: %.1f GFLOP/s (checksum %.3f)\n", threads, threads == 1 ? "" : "s",
               (double)threads * (double)steps * 12 * 16 * 2 / seconds / 1e9, checksum);
    }
    return 0;
}

/*
 * bench_allreduce.c — the gradient all-reduce of data-parallel training (dist_allreduce_f32: a
 * float sum over all processes, in 4 MiB buckets) against the gradient's size, 1 MiB .. 64 MiB.
 * Prints, per size, the median time over --reps runs (each the slowest process's), the
 * algorithm bandwidth (bytes / time) and the bus bandwidth (2 (N-1)/N bytes / time, the traffic
 * per process of a ring all-reduce; comparable across N and with the link's bandwidth), and
 * checks the sum. docs/scaling.md turns these into a step-time projection for N machines.
 *
 * Usage (one machine, two processes):
 *   mpirun --bind-to none -np 2 build/bench_allreduce [--reps N] [--max-mb N]
 * Over machines: mpirun --hostfile hosts -np N --map-by node build/bench_allreduce
 * Run alone (no mpirun) it has nothing to measure and says so.
 */
#include "ragtune.h"
#include "bench_util.h"
#include "core/log.h"
#include "dist/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int reps = 10, max_mb = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-mb") && i + 1 < argc)
            max_mb = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: mpirun -np N bench_allreduce [--reps N] [--max-mb N]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 1000 || max_mb < 1 || max_mb > 4096) {
        fprintf(stderr, "bench_allreduce: --reps 1..1000, --max-mb 1..4096\n");
        return 2;
    }
    if (rt_dist_init() != RT_OK) {
        fprintf(stderr, "bench_allreduce: %s\n", rt_last_error());
        return 1;
    }
    int rank = rt_dist_rank(), size = rt_dist_size();
    if (size < 2) {
        fprintf(stderr, "bench_allreduce: one process, nothing to reduce: run it under "
                        "mpirun -np 2 (or more)%s\n",
                rt_dist_has_mpi() ? "" : " with a build that found MPI");
        rt_dist_finalize();
        return 1;
    }
    size_t max_n = (size_t)max_mb << 18; /* floats */
    float *buf = malloc(max_n * sizeof *buf);
    double *times = malloc((size_t)reps * sizeof *times);
    if (!buf || !times) {
        fprintf(stderr, "bench_allreduce: out of memory\n");
        return 1;
    }
    if (rank == 0) {
        printf("all-reduce (sum of f32, buckets of %zu floats) over %d processes, median of %d\n",
               (size_t)DIST_BUCKET_FLOATS, size, reps);
        printf("%10s %12s %14s %14s\n", "MiB", "ms", "algo GB/s", "bus GB/s");
    }
    int status = 0;
    for (int mb = 1; mb <= max_mb; mb *= 2) {
        size_t n = (size_t)mb << 18;
        for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
            for (size_t i = 0; i < n; i++)
                buf[i] = (float)(rank + 1);
            double t_max = 0.0;
            dist_agree(RT_OK); /* every process starts together */
            double t0 = rt_time_now();
            if (dist_allreduce_f32(buf, n) != RT_OK) {
                fprintf(stderr, "bench_allreduce: %s\n", rt_last_error());
                return 1;
            }
            int64_t ns = (int64_t)((rt_time_now() - t0) * 1e9);
            dist_allreduce_max_i64(&ns, 1);
            t_max = (double)ns * 1e-9;
            if (r >= 0) times[r] = t_max;
        }
        float want = (float)size * (float)(size + 1) / 2.0f;
        if (buf[0] != want || buf[n - 1] != want) {
            fprintf(stderr, "bench_allreduce: rank %d: sum %g, expected %g\n", rank,
                    (double)buf[0], (double)want);
            status = 1;
        }
        double t = bench_median(times, reps), bytes = (double)n * sizeof(float);
        if (rank == 0)
            printf("%10d %12.3f %14.3f %14.3f\n", mb, t * 1e3, bytes / t / 1e9,
                   2.0 * (size - 1) / size * bytes / t / 1e9);
    }
    free(buf);
    free(times);
    rt_dist_finalize();
    return status;
}

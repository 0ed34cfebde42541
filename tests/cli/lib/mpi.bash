# mpi.bash — sourced by the MPI CLI tests (mpi_train.sh, mpi_search.sh, mpi_compare.sh; not a test itself):
# skips (exit 77) when mpirun is absent or ragtune was built without MPI, sets up Open MPI for a
# one-machine run (as root in CI, oversubscribed on 2 cores, no binding), makes the test's scratch
# directory $t (removed on exit), runs one thread per process, and defines
#   mpi N ARGS...   runs `ragtune ARGS...` on N processes.
set -u
if ! command -v mpirun > /dev/null; then
    echo "SKIP: mpirun not found (Debian: openmpi-bin)"
    exit 77
fi
if ! "$RAGTUNE" version --runtime | grep -q '^RT_MPI=yes$'; then
    echo "SKIP: ragtune was built without MPI (Debian: libopenmpi-dev)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# no shared-memory single-copy (needs ptrace rights containers often lack); no network probing
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_btl="self,vader"
export OMPI_MCA_rmaps_base_oversubscribe=1
# An ASan build's leak check cannot run under mpirun: Open MPI's components (dlopen'ed, and
# dlclose'd at MPI_Finalize) keep allocations to exit whose stacks no longer name a module, so
# no suppression matches them. The processes mpirun starts check everything else (overflows,
# use after free, UB); the single-process runs of the same tests keep the leak check.
mpi_asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

mpi() { # mpi N ragtune-args...
    local n=$1
    shift
    ASAN_OPTIONS="$mpi_asan" mpirun --oversubscribe --bind-to none -np "$n" -x ASAN_OPTIONS \
        -x UBSAN_OPTIONS -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS "$RAGTUNE" "$@"
}

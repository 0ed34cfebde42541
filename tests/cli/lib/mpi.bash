# mpi.bash — sourced by the MPI CLI tests (mpi_train.sh, mpi_search.sh; not a test itself):
# skips (exit 77) when mpirun is absent or ragtune was built without MPI, sets up Open MPI for a
# one-machine run (as root in CI, oversubscribed on 2 cores, no binding), and defines
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
# Open MPI's own allocations at start-up are not ours: an ASan build's leak check skips them
lsan_supp="$RT_SOURCE_DIR/tests/cli/lib/mpi_lsan.supp"
export LSAN_OPTIONS="suppressions=$lsan_supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

mpi() { # mpi N ragtune-args...
    local n=$1
    shift
    mpirun --oversubscribe --bind-to none -np "$n" -x LSAN_OPTIONS -x ASAN_OPTIONS \
        -x UBSAN_OPTIONS -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS "$RAGTUNE" "$@"
}

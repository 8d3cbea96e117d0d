# Benchmarks of the built-in functions (bench/builtin_bench.cc) against
# LAPACKE_dgels, an ECDH PSI baseline and raw OpenSSL EVP; include()d from
# bench/CMakeLists.txt. Needs LAPACKE (liblapacke-dev) for the anchor.
find_library(CLOISTER_BENCH_LAPACKE lapacke)
find_library(CLOISTER_BENCH_LAPACK lapack)
find_library(CLOISTER_BENCH_BLAS blas)
if(CLOISTER_BENCH_LAPACKE AND CLOISTER_BENCH_LAPACK AND CLOISTER_BENCH_BLAS)
  add_executable(builtin_bench ${CMAKE_CURRENT_LIST_DIR}/builtin_bench.cc)
  target_link_libraries(builtin_bench PRIVATE cloister_functions OpenSSL::Crypto
    ${CLOISTER_BENCH_LAPACKE} ${CLOISTER_BENCH_LAPACK} ${CLOISTER_BENCH_BLAS})
endif()

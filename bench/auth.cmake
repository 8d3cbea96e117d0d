# cloister-auth benchmarks (docs/perf/auth.md). Included from bench/CMakeLists.txt.
if(TARGET cloister_auth_core AND TARGET benchmark::benchmark)
  add_executable(auth_bench ${CMAKE_CURRENT_LIST_DIR}/auth_bench.cc)
  target_link_libraries(auth_bench PRIVATE cloister_auth_core benchmark::benchmark)
endif()

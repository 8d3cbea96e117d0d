# cloister-auth benchmarks (docs/perf/auth.md). Included from bench/CMakeLists.txt.
if(TARGET cloister_auth_core AND TARGET benchmark::benchmark)
  add_executable(auth_bench ${CMAKE_CURRENT_LIST_DIR}/auth_bench.cc)
  target_link_libraries(auth_bench PRIVATE cloister_auth_core benchmark::benchmark)
  # What row integrity costs auth's writes and reads (docs/perf/auth.md).
  add_executable(row_integrity_bench ${CMAKE_CURRENT_LIST_DIR}/row_integrity_bench.cc)
  target_link_libraries(row_integrity_bench PRIVATE cloister_auth_core benchmark::benchmark)
endif()

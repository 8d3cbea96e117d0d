# Platform daemon benchmarks (docs/perf/platform.md). Included from bench/CMakeLists.txt.
if(TARGET cloister_platform_testing AND TARGET benchmark::benchmark)
  add_executable(platform_bench ${CMAKE_CURRENT_LIST_DIR}/platform_bench.cc)
  add_dependencies(platform_bench cloister-platform)
  target_link_libraries(platform_bench PRIVATE cloister_platform_testing benchmark::benchmark)
endif()

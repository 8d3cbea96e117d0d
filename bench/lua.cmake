# Lua sandbox benchmarks (docs/perf/lua.md). Included from bench/CMakeLists.txt.
if(TARGET cloister_lua AND TARGET benchmark::benchmark)
  add_executable(lua_bench ${CMAKE_CURRENT_LIST_DIR}/lua_bench.cc)
  target_link_libraries(lua_bench PRIVATE cloister_lua benchmark::benchmark)
endif()

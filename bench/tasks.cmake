# Multi-party tasks end to end vs one-shot Call (issue 13, docs/performance.md).
# Included from bench/CMakeLists.txt; starts a real cluster with the CLI.
if(TARGET cloister_sdk AND TARGET cloister AND TARGET cloister-tasks)
  add_executable(tasks_bench ${CMAKE_CURRENT_LIST_DIR}/tasks_bench.cc)
  target_link_libraries(tasks_bench PRIVATE cloister_sdk cloister_test_support CLI11::CLI11
                        nlohmann_json::nlohmann_json)
  target_compile_definitions(tasks_bench PRIVATE CLOISTER_CLI_BIN="$<TARGET_FILE:cloister>")
  add_dependencies(tasks_bench cluster)
endif()

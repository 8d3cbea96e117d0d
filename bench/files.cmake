# Encrypted file transfer through the gateway (issue 12, docs/performance.md).
# Included from bench/CMakeLists.txt; starts the real cluster binaries.
if(TARGET cloister_keyvault_cluster_testing AND TARGET cloister_sdk)
  add_executable(files_bench ${CMAKE_CURRENT_LIST_DIR}/files_bench.cc)
  target_link_libraries(files_bench PRIVATE cloister_keyvault_cluster_testing cloister_sdk
                        CLI11::CLI11)
  target_compile_definitions(files_bench PRIVATE ${KV_CLUSTER_DEFS})
  add_dependencies(files_bench cluster)
endif()

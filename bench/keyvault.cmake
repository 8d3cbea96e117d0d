# cloister-keyvault benchmarks (docs/perf/keyvault.md). Included from bench/CMakeLists.txt.
# End-to-end cases start real binaries (platform, auth, exec, keyvault, gateway).
if(TARGET cloister_keyvault_cluster_testing AND TARGET cloister_sdk AND TARGET cloister-gateway
   AND TARGET cloister-auth AND TARGET cloister-exec AND TARGET benchmark::benchmark)
  add_executable(keyvault_bench ${CMAKE_CURRENT_LIST_DIR}/keyvault_bench.cc)
  target_link_libraries(keyvault_bench PRIVATE cloister_keyvault_service
                        cloister_keyvault_cluster_testing benchmark::benchmark)
  target_compile_definitions(keyvault_bench PRIVATE ${KV_CLUSTER_DEFS})
  # SoftHSM2 anchor: PKCS#11 header from p11-kit; the module is dlopen'ed at run time.
  target_include_directories(keyvault_bench PRIVATE /usr/include/p11-kit-1)
  target_link_libraries(keyvault_bench PRIVATE ${CMAKE_DL_LIBS})
  add_dependencies(keyvault_bench cluster)
endif()

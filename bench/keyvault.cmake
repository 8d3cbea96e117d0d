# cloister-keyvault benchmarks (docs/perf/keyvault.md). Included from bench/CMakeLists.txt.
# End-to-end cases start real binaries (platform, auth, exec, keyvault, gateway).
if(TARGET cloister_keyvault_service AND TARGET cloister_sdk AND TARGET cloister-gateway
   AND TARGET cloister-auth AND TARGET cloister-exec AND TARGET benchmark::benchmark)
  add_executable(keyvault_bench ${CMAKE_CURRENT_LIST_DIR}/keyvault_bench.cc)
  target_link_libraries(keyvault_bench PRIVATE cloister_keyvault_service cloister_sdk
                        cloister_attested_node benchmark::benchmark)
  target_compile_definitions(keyvault_bench PRIVATE
    KV_AUTH_BIN="$<TARGET_FILE:cloister-auth>" KV_EXEC_BIN="$<TARGET_FILE:cloister-exec>"
    KV_KEYVAULT_BIN="$<TARGET_FILE:cloister-keyvault>" KV_GATEWAY_BIN="$<TARGET_FILE:cloister-gateway>"
    KV_PLATFORM_BIN="$<TARGET_FILE:cloister-platform>"
    KV_DEFAULT_POLICY="${CMAKE_SOURCE_DIR}/gateway/default_policy.toml")
  # SoftHSM2 anchor: PKCS#11 header from p11-kit; the module is dlopen'ed at run time.
  target_include_directories(keyvault_bench PRIVATE /usr/include/p11-kit-1)
  target_link_libraries(keyvault_bench PRIVATE ${CMAKE_DL_LIBS})
  add_dependencies(keyvault_bench cloister-auth cloister-exec cloister-keyvault cloister-gateway
                   cloister-platform)
endif()

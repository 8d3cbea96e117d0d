# Echo through the whole cluster vs a plain gRPC echo (issue 3).
if(TARGET cloister_sdk AND TARGET cloister AND TARGET cloister-gateway)
  add_executable(gateway_bench ${CMAKE_CURRENT_LIST_DIR}/gateway_bench.cc)
  target_link_libraries(gateway_bench PRIVATE cloister_sdk cloister_test_support cloister_attestation
                        cloister_proto_exec nlohmann_json::nlohmann_json)
  target_compile_definitions(gateway_bench PRIVATE CLOISTER_CLI_BIN="$<TARGET_FILE:cloister>")
  add_dependencies(gateway_bench cluster)
endif()

# RA-TLS handshake and per-call cost vs plain gRPC and TLS 1.3 (issue 2).
if(TARGET cloister_attested_node AND TARGET cloister_enclave)
  add_executable(ratls_bench ${CMAKE_CURRENT_LIST_DIR}/ratls_bench.cc)
  target_link_libraries(ratls_bench PRIVATE cloister_attested_node cloister_enclave
                        cloister_proto_testing)
  target_compile_definitions(ratls_bench PRIVATE
    CLOISTER_PLATFORM_BIN="$<TARGET_FILE:cloister-platform>")
  add_dependencies(ratls_bench cloister-platform)
endif()

# Cluster integration tests (included from CMakeLists.txt here): the real
# service binaries started by the real `cloister` CLI on loopback, driven
# through the CLI, the C++ SDK and a plain Python grpcio client. One cluster
# per suite; RUN_SERIAL because each starts four daemons on a 2-core box.
if(TARGET cloister AND TARGET cloister-gateway AND TARGET cloister-auth
   AND TARGET cloister-exec AND TARGET cloister-platform AND TARGET cloister_sdk)
  add_library(cloister_cluster_fixture STATIC cluster_fixture.cc)
  target_link_libraries(cloister_cluster_fixture PUBLIC cloister_test_support
                        nlohmann_json::nlohmann_json)
  target_compile_definitions(cloister_cluster_fixture PUBLIC
    CLOISTER_CLI_BIN="$<TARGET_FILE:cloister>")

  foreach(t cluster_sdk_test cluster_cli_test cluster_recovery_test cluster_token_keys_test)
    add_executable(${t} ${t}.cc)
    target_link_libraries(${t} PRIVATE cloister_cluster_fixture cloister_sdk cloister_topology
                          GTest::gtest_main)
    add_dependencies(${t} cluster)
    # One ctest entry per suite (not gtest_discover_tests): each suite
    # shares one cluster, started once in SetUpTestSuite.
    add_test(NAME ${t} COMMAND ${t})
    set_tests_properties(${t} PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 300)
  endforeach()

  # Configuration is identity (issue 9, test 3): needs the manifest API.
  add_executable(cluster_config_identity_test cluster_config_identity_test.cc)
  target_link_libraries(cluster_config_identity_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_attestation GTest::gtest_main)
  add_dependencies(cluster_config_identity_test cluster)
  add_test(NAME cluster_config_identity_test COMMAND cluster_config_identity_test)
  set_tests_properties(cluster_config_identity_test PROPERTIES LABELS integration RUN_SERIAL TRUE
                       TIMEOUT 300)

  # The multi-party journey (issue 13): exec's worker under task grants,
  # what each party may read, limits, isolation, kill -9 of exec.
  add_executable(cluster_tasks_test cluster_tasks_test.cc)
  target_link_libraries(cluster_tasks_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_proto_tasks cloister_attestation GTest::gtest_main)
  add_dependencies(cluster_tasks_test cluster)
  add_test(NAME cluster_tasks_test COMMAND cluster_tasks_test)
  set_tests_properties(cluster_tasks_test PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 600)

  # Encrypted files end to end (issue 12): SDK, CLI and raw streams.
  add_executable(cluster_files_test cluster_files_test.cc)
  target_link_libraries(cluster_files_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_files cloister_attestation GTest::gtest_main)
  add_dependencies(cluster_files_test cluster)
  add_test(NAME cluster_files_test COMMAND cluster_files_test)
  set_tests_properties(cluster_files_test PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 600)

  # Bad input on every public method (issue 3, item 5).
  add_executable(cluster_badinput_test cluster_badinput_test.cc)
  target_link_libraries(cluster_badinput_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_gateway GTest::gtest_main)
  add_dependencies(cluster_badinput_test cluster)
  add_test(NAME cluster_badinput_test COMMAND cluster_badinput_test)
  set_tests_properties(cluster_badinput_test PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 300)

  # The API-key lifecycle (issue 11, must-be-true 2): revoke, expiry,
  # password change, disable, maximum expiry, scope; SDK and CLI.
  add_executable(cluster_apikey_test cluster_apikey_test.cc)
  target_link_libraries(cluster_apikey_test PRIVATE cloister_cluster_fixture cloister_sdk
                        GTest::gtest_main)
  add_dependencies(cluster_apikey_test cluster)
  add_test(NAME cluster_apikey_test COMMAND cluster_apikey_test)
  set_tests_properties(cluster_apikey_test PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 300)

  # Bad-credential floods (issue 11, must-be-true 3): one source's flood,
  # through a relay from 127.0.0.2, is refused before authentication,
  # costs no synced write per request and locks nobody out.
  add_executable(cluster_flood_test cluster_flood_test.cc)
  target_link_libraries(cluster_flood_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_storage GTest::gtest_main)
  add_dependencies(cluster_flood_test cluster)
  add_test(NAME cluster_flood_test COMMAND cluster_flood_test)
  set_tests_properties(cluster_flood_test PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 300)

  # Data at rest (issue 11, must-be-true 5): rows edited in the SQLite
  # files, a planted trigger, a removed row, an older copy restored.
  add_executable(cluster_integrity_test cluster_integrity_test.cc)
  target_link_libraries(cluster_integrity_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_storage GTest::gtest_main)
  add_dependencies(cluster_integrity_test cluster)
  add_test(NAME cluster_integrity_test COMMAND cluster_integrity_test)
  set_tests_properties(cluster_integrity_test PROPERTIES LABELS integration RUN_SERIAL TRUE
                       TIMEOUT 400)

  # A tamper-evident audit trail (issue 11, must-be-true 1): the real
  # files edited, cut and rewritten, each named by `cloister audit verify`.
  add_executable(cluster_audit_test cluster_audit_test.cc)
  target_link_libraries(cluster_audit_test PRIVATE cloister_cluster_fixture cloister_service_common
                        GTest::gtest_main)
  add_dependencies(cluster_audit_test cluster)
  add_test(NAME cluster_audit_test COMMAND cluster_audit_test)
  set_tests_properties(cluster_audit_test PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 300)

  # Anonymous memory exhaustion (issue 11, must-be-true 4): a flood of
  # oversized requests is refused early and the gateway's peak RSS stays
  # under the bound the test states (docs/operations.md, Resource bounds).
  add_executable(cluster_memory_test cluster_memory_test.cc)
  target_link_libraries(cluster_memory_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_gateway GTest::gtest_main)
  add_dependencies(cluster_memory_test cluster)
  add_test(NAME cluster_memory_test COMMAND cluster_memory_test)
  set_tests_properties(cluster_memory_test PROPERTIES LABELS integration RUN_SERIAL TRUE
                       TIMEOUT 300)

  # The Python test needs python3-grpcio + python3-protobuf (Debian): pick
  # the first interpreter that can import them (a pyenv shim may not).
  find_package(Python3 COMPONENTS Interpreter)
  set(cloister_py "")
  foreach(py /usr/bin/python3 ${Python3_EXECUTABLE})
    if(NOT cloister_py AND EXISTS ${py})
      execute_process(COMMAND ${py} -c "import grpc, google.protobuf"
                      RESULT_VARIABLE py_rc OUTPUT_QUIET ERROR_QUIET)
      if(py_rc EQUAL 0)
        set(cloister_py ${py})
      endif()
    endif()
  endforeach()
  if(cloister_py)
    add_test(NAME python_grpcio_client
             COMMAND ${cloister_py} ${CMAKE_SOURCE_DIR}/tests/python/test_grpcio_client.py
                     --cloister $<TARGET_FILE:cloister>
                     --proto-dir ${CMAKE_SOURCE_DIR}/proto
                     --protoc $<TARGET_FILE:protobuf::protoc>)
    set_tests_properties(python_grpcio_client PROPERTIES LABELS integration RUN_SERIAL TRUE
                         TIMEOUT 300)
    # examples/python/two_party_psi.py, the README's Python task example.
    add_test(NAME python_task_example
             COMMAND ${cloister_py} ${CMAKE_SOURCE_DIR}/tests/python/test_task_example.py
                     --cloister $<TARGET_FILE:cloister> --repo ${CMAKE_SOURCE_DIR}
                     --protoc $<TARGET_FILE:protobuf::protoc>)
    set_tests_properties(python_task_example PROPERTIES LABELS integration RUN_SERIAL TRUE
                         TIMEOUT 300)
  endif()
endif()

# `cmake --install` into a temporary prefix, then the whole cluster from it.
if(TARGET cloister AND TARGET cloister_test_support)
  add_executable(install_test install_test.cc)
  target_link_libraries(install_test PRIVATE cloister_test_support GTest::gtest_main
                        nlohmann_json::nlohmann_json)
  target_compile_definitions(install_test PRIVATE CLOISTER_CMAKE="${CMAKE_COMMAND}"
    CLOISTER_BUILD_DIR="${CMAKE_BINARY_DIR}" CLOISTER_CLI_BIN="$<TARGET_FILE:cloister>")
  add_dependencies(install_test cluster)
  add_test(NAME install_test COMMAND install_test)
  set_tests_properties(install_test PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 300)
endif()

# The demo's three multi-party jobs through the `cloister` CLI alone (issue
# 13): psi, a Lua joint aggregate, gbdt train → predict; --json keys, the
# digest a participant must name, errors named before any call.
if(TARGET cloister_cluster_fixture)
  add_executable(cluster_task_cli_test cluster_task_cli_test.cc)
  target_link_libraries(cluster_task_cli_test PRIVATE cloister_cluster_fixture cloister_functions
                        GTest::gtest_main)
  target_compile_definitions(cluster_task_cli_test PRIVATE
    CLOISTER_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_dependencies(cluster_task_cli_test cluster)
  add_test(NAME cluster_task_cli_test COMMAND cluster_task_cli_test)
  set_tests_properties(cluster_task_cli_test PROPERTIES LABELS integration RUN_SERIAL TRUE
                       TIMEOUT 600)
endif()

# The two-party journey through the C++ SDK (issue 13, must-be-trues 1 and
# 2): the demo's three jobs checked against answers computed in the test,
# every refusal with its reason and its audit entry, and
# examples/sdk/two_party_journey.cc run against its own cluster (ctest
# two_party_journey_example: the suite TwoPartyJourneyExample of the jobs
# binary, which checks what the program wrote).
if(TARGET cloister AND TARGET cloister-tasks AND TARGET cloister_cluster_fixture
   AND TARGET cloister_two_party_journey AND TARGET cloister_lua)
  add_executable(cluster_task_jobs_test cluster_task_jobs_test.cc)
  target_link_libraries(cluster_task_jobs_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_functions cloister_lua GTest::gtest_main)
  target_compile_definitions(cluster_task_jobs_test PRIVATE
    CLOISTER_EXAMPLES_DIR="${CMAKE_SOURCE_DIR}/examples"
    CLOISTER_TWO_PARTY_JOURNEY_BIN="$<TARGET_FILE:cloister_two_party_journey>")
  add_dependencies(cluster_task_jobs_test cluster cloister_two_party_journey)
  add_test(NAME cluster_task_jobs_test
           COMMAND cluster_task_jobs_test --gtest_filter=ClusterTaskJobsTest.*)
  set_tests_properties(cluster_task_jobs_test PROPERTIES LABELS integration RUN_SERIAL TRUE
                       TIMEOUT 600)
  add_test(NAME two_party_journey_example
           COMMAND cluster_task_jobs_test --gtest_filter=TwoPartyJourneyExample.*)
  set_tests_properties(two_party_journey_example PROPERTIES LABELS integration RUN_SERIAL TRUE
                       TIMEOUT 600)

  # Issue 11, must-be-true 7: the leak-prone error paths provoked on purpose.
  add_executable(cluster_error_text_test cluster_error_text_test.cc)
  target_link_libraries(cluster_error_text_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_attestation cloister_method_table GTest::gtest_main)
  add_dependencies(cluster_error_text_test cluster)
  add_test(NAME cluster_error_text_test COMMAND cluster_error_text_test)
  set_tests_properties(cluster_error_text_test PROPERTIES LABELS integration RUN_SERIAL TRUE
                       TIMEOUT 600)

  add_executable(cluster_task_refusals_test cluster_task_refusals_test.cc)
  target_link_libraries(cluster_task_refusals_test PRIVATE cloister_cluster_fixture cloister_sdk
                        cloister_attestation GTest::gtest_main)
  add_dependencies(cluster_task_refusals_test cluster)
  add_test(NAME cluster_task_refusals_test COMMAND cluster_task_refusals_test)
  set_tests_properties(cluster_task_refusals_test PROPERTIES LABELS integration RUN_SERIAL TRUE
                       TIMEOUT 600)
endif()

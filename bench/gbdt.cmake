# GBDT benchmark against XGBoost (bench/gbdt_bench.cc); include()d from
# bench/CMakeLists.txt. Needs the gbdt_xgboost target from functions/gbdt.
if(TARGET gbdt_xgboost)
  add_executable(gbdt_bench ${CMAKE_CURRENT_LIST_DIR}/gbdt_bench.cc)
  target_link_libraries(gbdt_bench PRIVATE cloister_functions gbdt_xgboost)
endif()

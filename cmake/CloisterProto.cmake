# cloister_proto_library(NAME SRCS a.proto b.proto [GRPC] [SERVICE] [DEPS libs])
# Generates C++ (and gRPC stubs when GRPC is given) from protos in proto/
# into the build tree and wraps them in a static library NAME. SERVICE
# marks a service proto: it goes into the generated method table
# (proto/method_table.h).
function(cloister_proto_library name)
  cmake_parse_arguments(ARG "GRPC;SERVICE" "" "SRCS;DEPS" ${ARGN})
  set(out_dir ${CMAKE_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out_dir}/proto)
  set(srcs)
  foreach(proto ${ARG_SRCS})
    get_filename_component(base ${proto} NAME_WE)
    set(abs ${CMAKE_SOURCE_DIR}/proto/${proto})
    set(gen ${out_dir}/proto/${base}.pb.cc ${out_dir}/proto/${base}.pb.h)
    set(cmd_args --proto_path=${CMAKE_SOURCE_DIR} --cpp_out=${out_dir})
    if(ARG_GRPC)
      list(APPEND gen ${out_dir}/proto/${base}.grpc.pb.cc
                      ${out_dir}/proto/${base}.grpc.pb.h)
      list(APPEND cmd_args --grpc_out=${out_dir}
                           --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${gen}
      COMMAND protobuf::protoc ${cmd_args} ${abs}
      DEPENDS ${abs} protobuf::protoc
      COMMENT "protoc ${proto}" VERBATIM)
    list(APPEND srcs ${gen})
    if(ARG_SERVICE)
      set_property(GLOBAL APPEND PROPERTY CLOISTER_SERVICE_PROTOS ${abs})
    endif()
  endforeach()
  if(ARG_SERVICE)
    set_property(GLOBAL APPEND PROPERTY CLOISTER_SERVICE_PROTO_LIBS ${name})
  endif()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${out_dir})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${name} PUBLIC gRPC::grpc++)
  endif()
  # Generated code is not ours to fix.
  target_compile_options(${name} PRIVATE -w)
endfunction()

# Compiler warnings, hardening and sanitizer flags shared by every target.
# Hardening follows Debian's hardening-wrapper set plus _FORTIFY_SOURCE=3 and
# libstdc++ assertions (bounds checks on operator[] of vector/span/string).

# Designated initializers that omit defaulted fields are idiomatic C++20.
add_compile_options(-Wall -Wextra -Wpedantic -Wno-unused-parameter -Wnon-virtual-dtor
                    -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  add_compile_options(-Wshadow=local)
endif()
if(CLOISTER_WERROR)
  add_compile_options(-Werror)
endif()

add_compile_definitions(_GLIBCXX_ASSERTIONS)
add_compile_options(-fstack-protector-strong -fstack-clash-protection
                    -fcf-protection -fno-strict-overflow)
if(NOT CLOISTER_SANITIZE)
  # _FORTIFY_SOURCE needs optimisation and conflicts with ASan's interceptors.
  add_compile_options(-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3)
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
add_link_options(-pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

if(CLOISTER_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions(CLOISTER_SANITIZE=1)
endif()

# Included from lib/CMakeLists.txt. The stencil prelude as a C++ string, so `--emit c` output is self-contained
# and uses exactly the helpers the stencils use.
set(prelude ${PROJECT_SOURCE_DIR}/stencils/prelude.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${prelude})
file(READ ${prelude} COPAPY_PRELUDE_TEXT)
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/cgen/generated/prelude_text.hpp CONTENT
"// Generated from stencils/prelude.h by CMake. Do not edit.
#pragma once
namespace copapy {
inline constexpr const char* kStencilPrelude = R\"copapy_prelude(@COPAPY_PRELUDE_TEXT@)copapy_prelude\";
}
" @ONLY)

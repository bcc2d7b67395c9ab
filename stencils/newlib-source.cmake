# Where newlib's source comes from, for the math functions of the targets
# without double-precision hardware, the Cortex-M4 and RV32IMAFC (sinf,
# expf, ...: fdlibm's single-precision code in newlib's libm/math, compiled
# -fPIE so that its tables are reached PC-relative and an image needs no
# patch; Debian's prebuilt picolibc reaches them through absolute literal
# words). First match wins:
#
#   -DCOPAPY_NEWLIB_SOURCE=PATH  an unpacked newlib source tree, or a tarball
#   otherwise                    Debian's newlib-source package:
#                                /usr/src/newlib/newlib-*.tar.xz (tools/deps.sh
#                                installs it; no network at build time)
#
# A tarball is unpacked into the build tree once (unpack-source.cmake), only
# the parts the math functions need (libm/math, libm/common, libc/include).
set(COPAPY_NEWLIB_SOURCE "" CACHE PATH
    "newlib source: an unpacked tree or a tarball (default: Debian's newlib-source package)")

function(_copapy_newlib_check dir what)
  if(NOT EXISTS "${dir}/newlib/libm/math/sf_sin.c" OR NOT EXISTS "${dir}/newlib/libc/include/math.h")
    message(FATAL_ERROR "${what} is not a newlib source tree (no newlib/libm/math/sf_sin.c in ${dir})")
  endif()
endfunction()

function(_copapy_newlib_unpack archive out)
  set(dest ${CMAKE_BINARY_DIR}/_deps/newlib-source)
  copapy_unpack_needed("${archive}" ${dest} newlib/libm/math/sf_sin.c needed)
  if(needed)
    file(ARCHIVE_EXTRACT INPUT "${archive}" DESTINATION ${dest}/unpack
         PATTERNS "*/newlib/libm/math/*" "*/newlib/libm/common/*" "*/newlib/libc/include/*")
    copapy_unpack_finish("${archive}" ${dest})  # Debian's has one top directory, newlib-salsa/
  endif()
  set(${out} ${dest}/tree PARENT_SCOPE)
endfunction()

# Sets `out` to the newlib source tree.
function(copapy_newlib_source out)
  get_property(dir GLOBAL PROPERTY COPAPY_NEWLIB_DIR)
  if(dir)
    set(${out} ${dir} PARENT_SCOPE)
    return()
  endif()
  if(COPAPY_NEWLIB_SOURCE)
    get_filename_component(src "${COPAPY_NEWLIB_SOURCE}" ABSOLUTE)
    set(what "COPAPY_NEWLIB_SOURCE=${COPAPY_NEWLIB_SOURCE}")
  else()
    file(GLOB tarballs /usr/src/newlib/newlib-*.tar.xz)
    set(src "")
    if(tarballs)
      list(SORT tarballs)
      list(GET tarballs -1 src)  # the newest, should there be several
    endif()
    set(what "Debian's newlib-source package")
    if(NOT src)
      message(FATAL_ERROR
        "thumbv7em's and riscv32's math functions are compiled from newlib's source, and there is none: install Debian's "
        "newlib-source package (apt-get install newlib-source; tools/deps.sh does), or name a copy with "
        "-DCOPAPY_NEWLIB_SOURCE=/path/to/newlib.tar.xz (or an unpacked tree)")
    endif()
  endif()
  if(IS_DIRECTORY "${src}")
    set(dir "${src}")
  elseif(EXISTS "${src}")
    _copapy_newlib_unpack("${src}" dir)
  else()
    message(FATAL_ERROR "${what}: ${src}: no such file or directory")
  endif()
  _copapy_newlib_check("${dir}" "${what}")
  message(STATUS "newlib source (the single-precision math library of thumbv7em and riscv32): ${dir} (${what})")
  set_property(GLOBAL PROPERTY COPAPY_NEWLIB_DIR ${dir})
  set(${out} ${dir} PARENT_SCOPE)
endfunction()

# The target table (lib/target/targets.def, the one list the compiler reads
# too) for the build, and the subset to build stencils and runners for.
#
#   -DCOPAPY_TARGETS=all (default) | a list of names or aliases, e.g. "x86_64;thumbv7em"
#                        or "x86_64,thumbv7em"; "native" is the build machine.
#
# Sets COPAPY_TABLE_TARGETS (every name in the table), COPAPY_TARGET_ALIASES_<name>,
# COPAPY_TARGET_RUNNER_<name> (the static runner for qemu-user, or empty) and
# COPAPY_SELECTED_TARGETS (the canonical names chosen, in table order) and
# COPAPY_HOST_TARGET (the build machine's target).
set(COPAPY_TARGET_TABLE ${PROJECT_SOURCE_DIR}/lib/target/targets.def)
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${COPAPY_TARGET_TABLE})
file(STRINGS ${COPAPY_TARGET_TABLE} _rows REGEX "^COPAPY_TARGET\\(")
set(COPAPY_TABLE_TARGETS "")
foreach(_row IN LISTS _rows)
  if(NOT _row MATCHES "^COPAPY_TARGET\\(([A-Za-z0-9_]+), *\"([^\"]*)\", *\"([^\"]*)\"\\)")
    message(FATAL_ERROR "${COPAPY_TARGET_TABLE}: cannot read the row '${_row}'")
  endif()
  list(APPEND COPAPY_TABLE_TARGETS ${CMAKE_MATCH_1})
  separate_arguments(COPAPY_TARGET_ALIASES_${CMAKE_MATCH_1} UNIX_COMMAND "${CMAKE_MATCH_2}")
  set(COPAPY_TARGET_RUNNER_${CMAKE_MATCH_1} "${CMAKE_MATCH_3}")
endforeach()

# The table name of `name` (a name or an alias, any case; "native" for the
# build machine), or "" if the table does not know it.
function(copapy_resolve_target name out)
  string(TOLOWER "${name}" wanted)
  if(wanted STREQUAL "native")
    string(TOLOWER "${CMAKE_HOST_SYSTEM_PROCESSOR}" wanted)
  endif()
  foreach(t IN LISTS COPAPY_TABLE_TARGETS)
    set(names ${t} ${COPAPY_TARGET_ALIASES_${t}})
    string(TOLOWER "${names}" names)
    if(wanted IN_LIST names)
      set(${out} ${t} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

set(COPAPY_TARGETS "all" CACHE STRING
    "Targets to build stencil objects and runners for: all, or a list of names/aliases (see lib/target/targets.def)")
string(REPLACE "," ";" _wanted "${COPAPY_TARGETS}")
set(COPAPY_SELECTED_TARGETS "")
if(_wanted STREQUAL "all" OR _wanted STREQUAL "")
  set(COPAPY_SELECTED_TARGETS ${COPAPY_TABLE_TARGETS})
else()
  set(_chosen "")
  foreach(_name IN LISTS _wanted)
    string(STRIP "${_name}" _name)
    copapy_resolve_target("${_name}" _t)
    if(NOT _t)
      set(_known "")
      foreach(_k IN LISTS COPAPY_TABLE_TARGETS)
        set(_entry ${_k})
        if(COPAPY_TARGET_ALIASES_${_k})
          string(REPLACE ";" ", " _a "${COPAPY_TARGET_ALIASES_${_k}}")
          set(_entry "${_k} (${_a})")
        endif()
        list(APPEND _known "${_entry}")
      endforeach()
      string(REPLACE ";" ", " _known "${_known}")
      message(FATAL_ERROR "COPAPY_TARGETS: unknown target '${_name}'; the target table (lib/target/targets.def) "
                          "has ${_known}, 'native' for this machine, or 'all'")
    endif()
    list(APPEND _chosen ${_t})
  endforeach()
  foreach(_t IN LISTS COPAPY_TABLE_TARGETS)  # table order, each once
    if(_t IN_LIST _chosen)
      list(APPEND COPAPY_SELECTED_TARGETS ${_t})
    endif()
  endforeach()
endif()
# The build machine's target ("" if the table has none for it).
copapy_resolve_target(native COPAPY_HOST_TARGET)
message(STATUS "Stencil targets: ${COPAPY_SELECTED_TARGETS} (COPAPY_TARGETS=${COPAPY_TARGETS})")

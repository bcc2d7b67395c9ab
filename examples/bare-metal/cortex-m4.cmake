# CMake toolchain file: Cortex-M4F bare metal with arm-none-eabi-gcc and
# picolibc (Debian: gcc-arm-none-eabi picolibc-arm-none-eabi), semihosting
# for the console and the exit code, as QEMU's mps2-an386 machine provides.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
# No linker script or startup code until picolibc's specs supply them.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb --specs=picolibc.specs")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--oslib=semihost --crt0=semihost")
# Host tools (python3, copapy-cc) come from the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# CMake toolchain file: RV32IMAFC bare metal (ilp32f) with
# riscv64-unknown-elf-gcc and picolibc (Debian: gcc-riscv64-unknown-elf
# picolibc-riscv64-unknown-elf), semihosting for the exit code, as QEMU's
# virt machine provides (qemu-system-riscv32 -M virt -bios none -semihosting).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-march=rv32imafc -mabi=ilp32f -mcmodel=medany --specs=picolibc.specs")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--oslib=semihost --crt0=semihost")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

// copapy-cc: thin driver; everything lives in the copapy_compiler library.
#include <iostream>

#include "driver/cli.hpp"

int main(int argc, char** argv) { return copapy::run_cli(argc, argv, std::cout, std::cerr); }

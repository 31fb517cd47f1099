#include <iostream>
#include <string_view>
#include <vector>

#include "tests/faulttoken/faultctl/faultctl.h"

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    return attache::faulttoken::run_faultctl(args, std::cout, std::cerr);
}

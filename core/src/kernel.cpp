#include "weft/kernel.h"

#include "weft/error.h"

namespace weft {

void Kernel::backward(const BackwardArgs&) {
    throw Error("this kernel has no backward pass");
}

}  // namespace weft

// Bindings for the RLE kernels (filled in by the RLE core).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_rle(py::module_& /*m*/) {}

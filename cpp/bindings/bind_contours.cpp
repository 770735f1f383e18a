// Bindings for the contours kernels (not yet implemented).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_contours(py::module_& /*m*/) {}

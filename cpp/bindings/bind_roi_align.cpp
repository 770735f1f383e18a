// Bindings for the roi_align kernels (not yet implemented).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_roi_align(py::module_& /*m*/) {}

// Bindings for the boxes kernels (not yet implemented).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_boxes(py::module_& /*m*/) {}

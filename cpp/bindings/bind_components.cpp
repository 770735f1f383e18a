// Bindings for the components kernels (not yet implemented).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_components(py::module_& /*m*/) {}

// Bindings for the morphology kernels (not yet implemented).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_morphology(py::module_& /*m*/) {}

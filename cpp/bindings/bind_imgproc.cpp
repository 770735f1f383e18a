// Bindings for the imgproc kernels (not yet implemented).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_imgproc(py::module_& /*m*/) {}

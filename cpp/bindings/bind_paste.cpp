// Bindings for the paste kernels (not yet implemented).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_paste(py::module_& /*m*/) {}
